"""Sampling throughput: the bare generator forward vs. `sample_to_store` end to end, in one run.

Prints images/s of both at the same batch size and their ratio (target >= 0.9), the peak memory of a
500,000-sample `interfacegan sample` (target < 1 GiB), and the scorers' ms/image (target: face <= 5 ms).
Then face + gender + age scoring a run of embedded faces in one process and on worker processes (`processes`):
ms/image of each scorer and the speed-up of the workers (target: both cores used, speed-up well above 1).
Usage: python benchmarks/sampling.py [--num 8192] [--batch-size 256] [--big 500000] [--skip-big]
                                     [--parallel-num 4096] [--skip-parallel]
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


# ---- face + gender + age: one process vs worker processes -------------------------------------------------------
def parallel_scoring(num: int, out: Path) -> None:
    """Score `num` embedded faces (images kept in the run, so no synthesis is timed) with face, gender and age, in
    this process (the local executor) and on one worker process per core sharing the landmark pass; print the
    ms/image of each scorer both ways and the speed-up of the workers over one process."""
    from interfacegan.execution import executor_in_use
    from interfacegan.paper_attributes import PAPER_SCORERS
    from interfacegan.scoring.run import score_store
    from interfacegan.threads import thread_count

    model = load_model("dcgan-digiface")
    store = sample_to_store(model, out, num=num, seed=0, save_images=True, progress=False)
    seconds = {}
    for engine_name in ("local", "processes"):
        with executor_in_use(engine_name) as engine:  # the workers stop at the end of the block
            if engine_name == "processes":  # start the workers and load the scorers on a few other faces first
                warm = sample_to_store(model, out.with_name("warm-up"), num=64, seed=1, chunk_rows=32,
                                       save_images=True, progress=False)  # fmt: skip
                start = time.perf_counter()
                for name in PAPER_SCORERS:
                    score_store(warm, name, model=model, executor=engine, progress=False)
                seconds["start"] = time.perf_counter() - start
            for name in PAPER_SCORERS:  # face first: gender and age reuse its landmarks, as `score` does
                start = time.perf_counter()
                score_store(store, name, model=model, prefix=f"{engine_name}_", executor=engine, progress=False)
                seconds[engine_name, name] = time.perf_counter() - start
    for name in PAPER_SCORERS:
        one, many = seconds["local", name], seconds["processes", name]
        print(f"scorer {name:9s}: {one / num * 1e3:7.2f} ms/image in one process, {many / num * 1e3:7.2f} with workers")
    one = sum(seconds["local", name] for name in PAPER_SCORERS)
    many = sum(seconds["processes", name] for name in PAPER_SCORERS)
    print(f"face+gender+age on {num} faces: {one:.1f} s in one process, {many:.1f} s on {thread_count()} worker "
          f"processes: speed-up {one / many:.2f}x ({one / (many + seconds['start']):.2f}x counting the "
          f"{seconds['start']:.1f} s the workers take to start and load the scorers)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--big", type=int, default=500_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--parallel-num", type=int, default=4096)
    parser.add_argument("--skip-parallel", action="store_true")
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
    if not args.skip_parallel:
        with tempfile.TemporaryDirectory() as tmp:
            parallel_scoring(args.parallel_num, Path(tmp) / "faces")


if __name__ == "__main__":
    main()
