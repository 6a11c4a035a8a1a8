"""GANSpace speed and memory: PCA of 100,000 W samples of a 512-d StyleGAN2 mapping, streamed vs in memory.

The model is a random-weight StyleGAN2 with w_dim 512 and 8 mapping layers (the FFHQ mapping's size) and a tiny
synthesis network, so the mapping dominates (nothing is downloaded). Each variant runs in its own process:
- ours: `GANSpace(space='w').fit` (IncrementalPCA over blocks of sampled w; `--num` and a quarter of it, to show
  that peak memory does not grow with the number of samples);
- baseline: every w mapped into one array, then scikit-learn's plain `PCA(k).fit` in memory.
Each prints its wall seconds (sampling + mapping + PCA), peak memory above the process's state before the run
(resident set, polled every 5 ms; tracemalloc's peak for numpy), and ours/baseline ratios with the |cos| between
matching directions. Target: under 60 s on 2 cores with memory bounded by the block size.
Usage: python benchmarks/ganspace.py [--threads 2] [--num 100000] [--k 10] [--block-size N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
import tracemalloc

TARGET_S = 60.0
MIB = 1 << 20


def build_model():
    from interfacegan.models.checkpoints import build_random

    return build_random("stylegan2", resolution=8, w_dim=512, mapping_layers=8, channel_base=64, channel_max=16,
                        device="cpu")  # fmt: skip


def run_variant(name: str, num: int, k: int, threads: int, block_size: int | None, results) -> None:
    """One variant in this (child) process: its seconds, peak MiB (RSS and tracemalloc) and directions."""
    from interfacegan.threads import configure_threads

    configure_threads(threads)
    import numpy as np
    import psutil
    from sklearn.decomposition import PCA

    from interfacegan.directions.ganspace import GANSpace

    model = build_model()
    model.map(model.sample(256), "w")  # warm-up
    process = psutil.Process()
    start_rss, peak = process.memory_info().rss, [0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    tracemalloc.start()
    start = time.perf_counter()
    if name == "baseline":
        codes = np.concatenate([model.map(model.sample(min(4096, num - i), 0, i), "w") for i in range(0, num, 4096)])
        pca = PCA(n_components=k).fit(codes)
        directions, variance = pca.components_, pca.explained_variance_
    else:
        fitted = GANSpace(k=k, num=num, space="w", block_size=block_size).fit(model)
        directions, variance = fitted.directions_, fitted.explained_variance_
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1]
    done.set()
    poller.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    results[name] = dict(seconds=seconds, rss=(peak[0] - start_rss) / MIB, traced=traced / MIB,
                         directions=np.asarray(directions, np.float64), variance=np.asarray(variance))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--block-size", type=int, default=None, help="ours: rows per IncrementalPCA block")
    args = parser.parse_args()
    import numpy as np

    context = multiprocessing.get_context("spawn")
    results = context.Manager().dict()
    variants = [("ours", args.num), (f"ours at {args.num // 4:,}", args.num // 4), ("baseline", args.num)]
    print(f"threads {args.threads}, k {args.k}, StyleGAN2 mapping 8 x 512 (random weights)")
    for name, num in variants:
        child = context.Process(target=run_variant, args=(name, num, args.k, args.threads, args.block_size, results))
        child.start()
        child.join()
        r = results[name]
        print(f"{name}: {num:,} samples in {r['seconds']:.1f} s, peak +{r['rss']:.0f} MiB resident "
              f"(tracemalloc {r['traced']:.0f} MiB)")  # fmt: skip
    ours, base = results["ours"], results["baseline"]
    cos = np.abs(np.sum(ours["directions"] * base["directions"], axis=1))
    variance = ours["variance"] / base["variance"]
    print(f"ours / baseline: time x{ours['seconds'] / base['seconds']:.2f}, peak resident "
          f"x{ours['rss'] / max(base['rss'], 1e-9):.2f}, tracemalloc x{ours['traced'] / base['traced']:.2f}")
    print(f"|cos| ours vs baseline per direction: min {cos.min():.5f} (median {np.median(cos):.5f}); explained "
          f"variance ratio {variance.min():.4f}-{variance.max():.4f}")  # fmt: skip
    verdict = "meets" if ours["seconds"] < TARGET_S else "MISSES"
    print(f"GANSpace on {args.num:,} W samples: {ours['seconds']:.1f} s, {verdict} the target < {TARGET_S:.0f} s")


if __name__ == "__main__":
    main()
