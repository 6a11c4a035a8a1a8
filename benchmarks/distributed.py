"""Ray vs one local process: images/s of sample + score, Ray's per-chunk overhead, a projection for 500,000 at 1024 px.

Measured in one run on this machine:
- sample + score (`dcgan-digiface` codes, then the `face` scorer, which re-synthesizes the images): images/s of the
  local executor (one process, every core) and of `--executor ray` with `--workers` local Ray workers (one core
  each), cold (worker start and model loads included, what one command pays) and warm (the same executor again);
- Ray's overhead per chunk: a job whose chunks do no work, run over a store (flag writes included) by both engines;
- per-image costs: the generator above, the face scorer, and a 1024 px StyleGAN2 of the FFHQ configuration (random
  weights, same architecture and size), from which it prints the hours of 500,000 samples on N workers.
Ray opens sockets, so the script re-runs itself in a loopback-only network namespace (`unshare --net`, root).
Usage: python benchmarks/distributed.py [--num 2048] [--chunk-rows 256] [--workers 2] [--empty-chunks 200]
       [--device cpu] [--gpus-per-worker G] [--skip-1024]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSIDE = "INTERFACEGAN_BENCH_NETNS"


def reexec_in_namespace() -> None:
    """Run this script again inside `unshare --net` with only loopback up (Ray binds to the machine's address)."""
    if os.environ.get(INSIDE) or not shutil.which("unshare"):
        return
    command = f"ip link set lo up && exec {sys.executable} {' '.join(map(repr, sys.argv))}"
    env = {**os.environ, INSIDE: "1", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(["unshare", "--net", "sh", "-c", command], env=env)
    if done.returncode != 0 and not os.environ.get(INSIDE):
        print("skipped: Ray runs only in a loopback-only network namespace here (unshare --net needs root)")
        sys.exit(0)
    sys.exit(done.returncode)


def sample_and_score(model, folder: Path, num: int, chunk_rows: int, executor) -> float:
    """Images/s of sampling `num` codes and scoring them with the face scorer on `executor`."""
    from interfacegan.sampling import sample_to_store
    from interfacegan.scoring.run import score_store

    start = time.perf_counter()
    store = sample_to_store(model, folder, num=num, seed=0, chunk_rows=chunk_rows, progress=False, executor=executor)
    score_store(store, "face", progress=False, executor=executor)
    return num / (time.perf_counter() - start)


def overhead_ms(executor, folder: Path, chunks: int) -> float:
    """Milliseconds per chunk of a job with no work (each chunk still writes its flag)."""
    from interfacegan.execution import ChunkJob, run_job
    from interfacegan.store import SampleStore

    class NoWork(ChunkJob):
        task = "nothing"

        def compute(self, start, stop, prefetched=None):
            return {}

    store = SampleStore.create(folder, num=chunks, meta={"model": "none"}, chunk_rows=1)
    start = time.perf_counter()
    run_job(store, NoWork(), executor=executor, progress=False)
    return (time.perf_counter() - start) / chunks * 1000


def ms_per_image(run, count: int) -> float:
    run(1)  # warm-up
    start = time.perf_counter()
    run(count)
    return (time.perf_counter() - start) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=2048)
    parser.add_argument("--chunk-rows", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--empty-chunks", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gpus-per-worker", type=float, default=None,
                        help="default: a share of one GPU per worker with a CUDA --device (the workers load the "
                        "model on that device too), else 0")  # fmt: skip
    parser.add_argument("--skip-1024", action="store_true")
    args = parser.parse_args()
    reexec_in_namespace()

    from interfacegan.execution import load_executor
    from interfacegan.models import load_model
    from interfacegan.scoring import load_scorer
    from interfacegan.threads import configure_threads

    configure_threads()
    model = load_model("dcgan-digiface", device=args.device)
    if args.gpus_per_worker is None:
        args.gpus_per_worker = 1 / args.workers if model.device.type == "cuda" else 0.0
    ray = load_executor("ray", num_workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                        init_options={"num_cpus": args.workers})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local_rate = sample_and_score(model, tmp / "local", args.num, args.chunk_rows, "local")
        cold = sample_and_score(model, tmp / "ray-cold", args.num, args.chunk_rows, ray)
        warm = sample_and_score(model, tmp / "ray-warm", args.num, args.chunk_rows, ray)
        print(f"sample + score, {args.num} images of dcgan-digiface (64 px) with the face scorer, chunks of "
              f"{args.chunk_rows}:")
        print(f"  local executor (1 process, {os.cpu_count()} cores): {local_rate:7.1f} images/s")
        print(f"  ray, {args.workers} workers, cold (worker start, model loads): {cold:7.1f} images/s "
              f"(x{cold / local_rate:.2f} of local)")
        print(f"  ray, {args.workers} workers, warm: {warm:7.1f} images/s (x{warm / local_rate:.2f} of local)")
        local_ms = overhead_ms(load_executor("local"), tmp / "empty-local", args.empty_chunks)
        ray_ms = overhead_ms(ray, tmp / "empty-ray", args.empty_chunks)
        print(f"per chunk with no work ({args.empty_chunks} chunks, flag write included): local {local_ms:.2f} ms, "
              f"ray {ray_ms:.2f} ms: Ray adds {ray_ms - local_ms:.2f} ms per chunk")
    ray.close()

    gen_ms = ms_per_image(lambda n: model.synthesize(model.sample(n, seed=1)), 256)
    face = load_scorer("face")
    images = model.synthesize(model.sample(256, seed=2))
    face_ms = ms_per_image(lambda n: face.score(images[:n]), 256)
    print(f"per image: dcgan-digiface {gen_ms:.2f} ms, face scorer {face_ms:.2f} ms")
    if not args.skip_1024:
        from interfacegan.models.checkpoints import build_random

        big = build_random("stylegan2", resolution=1024, z_dim=512, channel_base=32768, channel_max=512,
                           mapping_layers=8, device=args.device)  # fmt: skip
        big_ms = ms_per_image(lambda n: big.synthesize(big.sample(n, seed=3), batch_size=1), 2)
        total_h = 500_000 * (big_ms + face_ms) / 1000 / 3600
        print(f"per image: StyleGAN2 1024 px (FFHQ size, random weights) on {args.device}: {big_ms:.0f} ms")
        overhead_s = 500_000 / args.chunk_rows * max(ray_ms - local_ms, 0.0) / 1000
        print(f"projection, 500,000 samples at 1024 px, generator + face scorer per image on {args.device}: "
              f"{total_h:.0f} worker-hours, {total_h:.0f}/N h on N workers, plus {overhead_s:.1f}/N s of Ray "
              f"overhead ({500_000 // args.chunk_rows} chunks of {args.chunk_rows})")


if __name__ == "__main__":
    main()
