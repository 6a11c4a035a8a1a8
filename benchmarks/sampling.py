"""Sampling throughput: the bare generator forward vs. `sample_to_store` end to end, in one run.

Prints images/s of both at the same batch size and their ratio (target >= 0.9), the peak memory of a
500,000-sample `interfacegan sample` (target < 1 GiB), and the scorers' ms/image (target: face <= 5 ms).
Usage: python benchmarks/sampling.py [--num 8192] [--batch-size 256] [--big 500000] [--skip-big]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from interfacegan.models import load_model
from interfacegan.sampling import sample_to_store


def bare_forward_images_per_s(model, num: int, batch_size: int) -> float:
    """The generator alone: sample codes, forward, convert to uint8 (what any user script must do)."""
    model.synthesize(model.sample(batch_size, seed=123), batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    for offset in range(0, num, batch_size):
        z = model.sample(min(batch_size, num - offset), seed=0, start=offset)
        model.synthesize(z, batch_size=batch_size)
    return num / (time.perf_counter() - start)


def end_to_end_images_per_s(model, num: int, batch_size: int, out: Path) -> float:
    start = time.perf_counter()
    sample_to_store(model, out, num=num, seed=0, save_images=True, batch_size=batch_size, progress=False)
    return num / (time.perf_counter() - start)


def peak_memory_mib(num: int, out: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and seconds of the real CLI sampling `num` codes into a fresh store.

    The child's own high-water mark (VmHWM in /proc, Linux) is polled while it runs: rusage would also count the
    pages of this (larger) benchmark process, which the child shares between fork and exec.
    """
    cli = Path(sys.executable).parent / "interfacegan"
    start = time.perf_counter()
    proc = subprocess.Popen([str(cli), "sample", "--model", "dcgan-digiface", "--num", str(num), "--out", str(out),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    peak_kib = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            peak_kib = max(peak_kib, int(line.split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.02)
    if proc.returncode != 0:
        raise SystemExit(f"interfacegan sample failed: {proc.stderr.read().decode()}")
    return peak_kib / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--big", type=int, default=500_000)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()

    model = load_model("dcgan-digiface")
    print(f"device {model.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_forward_images_per_s(model, args.num, args.batch_size)
        ours = end_to_end_images_per_s(model, args.num, args.batch_size, Path(tmp) / "run")
        print(f"bare generator forward   : {bare:8.1f} images/s (batch {args.batch_size}, {args.num} images)")
        print(f"sample --images (store)  : {ours:8.1f} images/s")
        print(f"ratio end-to-end / bare  : {ours / bare:8.3f}   (target >= 0.9)")
        if not args.skip_big:
            peak, seconds = peak_memory_mib(args.big, Path(tmp) / "big")
            print(f"sample --num {args.big} (codes): peak RSS {peak:.0f} MiB in {seconds:.1f} s  (target < 1024 MiB)")

    sys.path.insert(0, str(Path(__file__).parent))
    from scorers import measure_scorer_ms  # noqa: E402  (sibling benchmark script)

    for name in ("face", "identity"):
        print(f"scorer {name:9s}: {measure_scorer_ms(name, 300 if name == 'face' else 50):7.2f} ms/image (1 thread)")


if __name__ == "__main__":
    main()
