"""Speed of the built-in face scorers on 64-px embedded-GAN faces, on ONE CPU thread (target: face <= 5 ms/image).

    python benchmarks/scorers.py [-n 500]      # ms/image of `face`, `gender`, `age`, `identity`, and of
                                               # face + gender + age sharing one landmark pass
    python benchmarks/scorers.py --calibrate   # re-measure the eyeglasses(_edges) reference constants of face.py
    python benchmarks/scorers.py --framings    # re-derive the FFHQ box of framing.py and the CNN -> HOG box
                                               # conversion of calibration.py

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
    return measure_scorers_ms([scorer_name], n, images)


def measure_scorers_ms(scorer_names: list[str], n: int = 500, images: np.ndarray | None = None) -> float:
    """Milliseconds per image of scoring with all of `scorer_names` in turn, one CPU thread, with a cold shared
    landmark stage (so a lone face scorer pays its landmark pass, and several share one)."""
    from interfacegan.scoring.landmarks import STAGE

    images = embedded_faces(n, seed=1) if images is None else images
    scorers = [load_scorer(name) for name in scorer_names]
    with one_thread():
        for scorer in scorers:
            scorer.score(images[:2], np.arange(2))  # loads the dlib and ONNX models once
        STAGE.clear()
        start = time.perf_counter()
        for i in range(0, len(images), CHUNK):
            for scorer in scorers:
                scorer.score(images[i : i + CHUNK], np.arange(i, min(i + CHUNK, len(images))))
        elapsed = time.perf_counter() - start
    return 1000.0 * elapsed / max(len(images), 1)


def derive_framings(n: int = 2000, seed: int = 3, cnn_n: int = 150) -> dict:
    """The FFHQ box of `framing.py`: embedded-GAN faces (z rows 0..n-1 of `seed`, 256-px upscale) with a HOG
    detection, their 68 landmarks on it, the published FFHQ crop of those landmarks; the detection mapped into
    that crop, median centre and side. And the CNN -> HOG box relation of `calibration.py` on those of the first
    `cnn_n` faces that both detectors find."""
    import dlib

    from interfacegan.scoring.calibration import _cnn_detector, hog_box
    from interfacegan.scoring.framing import quad_matrix
    from interfacegan.scoring.landmarks import resize_batch, shape_predictor

    frames = resize_batch(embedded_faces(n, seed=seed), 256)
    mapped, pairs = [], []
    for i, frame in enumerate(frames):
        box = hog_box(frame)
        if box is None:
            continue
        left, top, right, bottom = box
        shape = shape_predictor(68)(frame, dlib.rectangle(int(left), int(top), int(right) - 1, int(bottom) - 1))
        matrix = quad_matrix(np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()]))
        centre = matrix[:, :2] @ [(left + right) / 2, (top + bottom) / 2] + matrix[:, 2]
        side = np.sqrt(abs(np.linalg.det(matrix[:, :2]))) * ((right - left) + (bottom - top)) / 2
        mapped.append((*centre, side))
        if i < cnn_n:
            found = [d.rect for d in _cnn_detector()(frame, 0)]
            if found:
                r = max(found, key=lambda r: r.area())
                pairs.append((box, (r.left(), r.top(), r.right() + 1, r.bottom() + 1)))
    cx, cy, side = np.median(np.array(mapped), axis=0)
    hog, cnn = (np.array(p, dtype=np.float64) for p in zip(*pairs))
    cnn_side = cnn[:, 2] - cnn[:, 0]
    shift = np.median(((hog[:, :2] + hog[:, 2:]) - (cnn[:, :2] + cnn[:, 2:])) / 2 / cnn_side[:, None], axis=0)
    return {
        "faces with a HOG box": f"{len(mapped)} of {n}",
        "FFHQ_BOX": tuple(round(float(v), 4) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)),
        "faces both detectors found": len(pairs),
        "CNN_TO_HOG_SHIFT": tuple(round(float(v), 3) for v in shift),
        "CNN_TO_HOG_SCALE": round(float(np.median((hog[:, 2] - hog[:, 0]) / cnn_side)), 3),
    }


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
    parser.add_argument("--framings", action="store_true", help="derive the FFHQ box and the CNN box conversion")
    args = parser.parse_args()
    if args.calibrate or args.framings:
        for key, value in (calibrate_eyeglasses() if args.calibrate else derive_framings()).items():
            print(f"{key}: {value}")
        return
    images = embedded_faces(args.n, seed=1)
    for names in (["face"], ["gender"], ["age"], ["identity"], ["face", "gender", "age"]):
        ms = measure_scorers_ms(names, images=images)
        print(f"{' + '.join(names):20s} {ms:8.2f} ms/image  ({args.n} 64-px faces, 1 thread)")


if __name__ == "__main__":
    main()
