"""Speed of the built-in face scorers on 64-px embedded-GAN faces, on ONE CPU thread (target: face <= 5 ms/image).

    python benchmarks/scorers.py [-n 500]      # ms/image of `face` and `identity`
    python benchmarks/scorers.py --calibrate   # re-measure the eyeglasses(_edges) reference constants of face.py

`measure_scorer_ms(name, n)` is importable (benchmarks/sampling.py uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from interfacegan.models import load_model
from interfacegan.scoring import load_scorer

CHUNK = 128  # images per score() call, like the store runner's chunks


def embedded_faces(n: int, seed: int = 0, start: int = 0) -> np.ndarray:
    """uint8 (n, 64, 64, 3) faces of the embedded GAN for z rows [start, start+n) of `seed`, on the CPU."""
    model = load_model("dcgan-digiface", device="cpu")
    return model.synthesize(model.sample(n, seed=seed, start=start), batch_size=256)


@contextlib.contextmanager
def one_thread():
    """Limit torch and the BLAS/OpenMP pools to one thread for the block, then restore them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


def measure_scorer_ms(scorer_name: str, n: int = 500, images: np.ndarray | None = None) -> float:
    """Milliseconds per image of scorer `scorer_name` on n embedded-GAN faces (or `images`), one CPU thread.

    Model loading is excluded (a warm-up call loads it); images are scored in chunks of `CHUNK`.
    """
    images = embedded_faces(n, seed=1) if images is None else images
    scorer = load_scorer(scorer_name)
    with one_thread():
        scorer.score(images[:2], np.arange(2))  # loads the dlib models once
        start = time.perf_counter()
        for i in range(0, len(images), CHUNK):
            scorer.score(images[i : i + CHUNK], np.arange(i, min(i + CHUNK, len(images))))
        elapsed = time.perf_counter() - start
    return 1000.0 * elapsed / max(len(images), 1)


def calibrate_eyeglasses(n: int = 5000, seed: int = 0) -> dict:
    """Mean/std of the raw eyeglasses parts over n embedded-GAN faces (z rows 0..n-1 of `seed`, no truncation),
    plus the validity-gate statistics quoted in landmarks.py."""
    from interfacegan.scoring.face import eyeglasses_edge_parts, eyeglasses_parts
    from interfacegan.scoring.landmarks import detect_landmarks, image_evidence

    images = embedded_faces(n, seed=seed)
    bridges, rims, edge_bridges, edge_rims, valid, contrast, noise = [], [], [], [], [], [], []
    for i in range(0, n, 500):
        faces = detect_landmarks(images[i : i + 500])
        bridge, rim = eyeglasses_parts(faces.luma, faces.points)
        bridges.append(bridge)
        rims.append(rim)
        edge_bridge, edge_rim = eyeglasses_edge_parts(faces.luma, faces.points)
        edge_bridges.append(edge_bridge)
        edge_rims.append(edge_rim)
        valid.append(faces.valid)
        stats = image_evidence(faces.luma)
        contrast.append(stats[0])
        noise.append(stats[1])
    bridge, rim, valid = np.concatenate(bridges), np.concatenate(rims), np.concatenate(valid)
    edge_bridge, edge_rim = np.concatenate(edge_bridges), np.concatenate(edge_rims)
    ok = valid & np.isfinite(bridge) & np.isfinite(rim) & np.isfinite(edge_bridge) & np.isfinite(edge_rim)
    return {
        "n": n,
        "valid": int(valid.sum()),
        "bridge": (float(bridge[ok].mean()), float(bridge[ok].std())),
        "rims": (float(rim[ok].mean()), float(rim[ok].std())),
        "edges bridge": (float(edge_bridge[ok].mean()), float(edge_bridge[ok].std())),
        "edges rims": (float(edge_rim[ok].mean()), float(edge_rim[ok].std())),
        "min_contrast": float(np.concatenate(contrast).min()),
        "max_noise_ratio": float(np.concatenate(noise).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="images per scorer")
    parser.add_argument("--calibrate", action="store_true", help="measure the eyeglasses reference constants")
    args = parser.parse_args()
    if args.calibrate:
        for key, value in calibrate_eyeglasses().items():
            print(f"{key}: {value}")
        return
    images = embedded_faces(args.n, seed=1)
    for name in ("face", "identity"):
        print(f"{name:10s} {measure_scorer_ms(name, images=images):8.2f} ms/image  ({args.n} 64-px faces, 1 thread)")


if __name__ == "__main__":
    main()
