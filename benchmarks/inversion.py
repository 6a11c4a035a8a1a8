"""Inversion quality and speed on the embedded face GAN: optimisation vs encoder vs encoder + refinement.

Held-out images are samples of `dcgan-digiface` from a seed no encoder trains on (the exact inverse exists, so
PSNR measures the method, not the model). Each method inverts the same images; the table gives reconstruction
PSNR (mean, 10th percentile) and seconds per image. The mean image is the floor every method must beat.

    python benchmarks/inversion.py [--num 32] [--steps 300] [--refine 100] [--encoder enc.pt | --encoder-steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def main() -> None:
    from interfacegan.inversion import Encoder, invert, train_encoder
    from interfacegan.models import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-digiface")
    parser.add_argument("--num", type=int, default=32, help="held-out images")
    parser.add_argument("--seed", type=int, default=424242, help="seed of the held-out images")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps from the search start")
    parser.add_argument("--refine", type=int, default=100, help="steps after the encoder (and a same-budget run)")
    parser.add_argument("--encoder", help="encoder file (default: train one now)")
    parser.add_argument("--encoder-steps", type=int, default=1000)
    parser.add_argument("--save-encoder", help="write the trained encoder here")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = load_model(args.model, device=args.device)
    images = model.synthesize(model.sample(args.num, seed=args.seed))
    mean_image = model.synthesize(model.sample(1024, seed=args.seed + 1)).astype(np.float64).mean(0)
    floor = 10 * np.log10(255.0**2 / np.mean((images - mean_image) ** 2, axis=(1, 2, 3)))
    print(f"{args.model}: {args.num} held-out samples (seed {args.seed}), {torch.get_num_threads()} threads, "
          f"device {model.device}")  # fmt: skip

    if args.encoder:
        encoder = Encoder.load(args.encoder, device=model.device)
        print(f"encoder {args.encoder}: {encoder.config.training.get('steps')} training steps")
    else:
        encoder, seconds = timed(lambda: train_encoder(model, steps=args.encoder_steps, progress=True))
        print(f"trained an encoder: {args.encoder_steps} steps in {seconds:.0f} s ({seconds / args.encoder_steps:.2f} s/step)")
        if args.save_encoder:
            encoder.save(args.save_encoder)
    print(f"encoder held-out metrics: {encoder.config.metrics}")

    common = {"batch_size": args.batch_size}
    runs = [  # (label, run, steps)
        ("mean image (floor)", None, None),
        (f"optimisation, search start, {args.steps} steps", lambda: invert(model, images, steps=args.steps, **common), args.steps),
        (f"optimisation, search start, {args.refine} steps", lambda: invert(model, images, steps=args.refine, **common), args.refine),
        ("encoder only", lambda: invert(model, images, steps=0, encoder=encoder, **common), 0),
        (f"encoder + {args.refine} refinement steps", lambda: invert(model, images, steps=args.refine, encoder=encoder, **common), args.refine),
        (f"encoder + {args.steps} refinement steps", lambda: invert(model, images, steps=args.steps, encoder=encoder, **common), args.steps),
    ]  # fmt: skip
    invert(model, images[:2], steps=2)  # warm-up (lazy initialisation, allocator)
    print(f"\n{'method':42s} {'PSNR mean':>10s} {'PSNR p10':>9s} {'s/image':>8s}")
    for label, run, _ in runs:
        if run is None:
            values, seconds = floor, float("nan")
        else:
            result, seconds = timed(run)
            values = result.psnr
        per_image = seconds / args.num
        print(f"{label:42s} {np.mean(values):10.2f} {np.percentile(values, 10):9.2f} {per_image:8.3f}")


if __name__ == "__main__":
    main()
