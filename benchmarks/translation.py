"""Feed-forward editing (TPAMI Sec. 6.2) on the embedded face GAN: quality and speed against the latent edit.

A boundary for ATTRIBUTE is fitted in-script (or loaded with --boundary): `--fit-num` samples scored by the `face`
scorer, top/bottom 10% to a linear SVM. A translator is trained on `--num` pairs (G(z), G(z + alpha n)), keeping
the `--keep` fraction whose score changed most. On held-out codes of another seed it prints
  - PSNR of the translator's output (strength 1) against the latent-edit target, beside the unedited input's PSNR;
  - the mean score change of ATTRIBUTE achieved by the translator and by the latent edit, and their ratio
    (and the change at DNI strength 0.5, which should fall in between);
  - ms/image of the translator vs optimisation inversion (--invert-steps) + synthesis of the edit, and the ratio.
The paper finds pixel-local edits (eyeglasses, age) learnable and geometric ones (smile, pose) not: compare
`--attribute brightness` with `--attribute smile`.

    python benchmarks/translation.py [--attribute brightness] [--num 1000] [--steps 400] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def fit_boundary(model, scorer, attribute: str, num: int, seed: int):
    from interfacegan.learning import BoundaryTrainer

    codes = model.sample(num, seed)
    scores = np.concatenate([scorer.score(model.synthesize(codes[i : i + 256]))[attribute]
                             for i in range(0, num, 256)])  # fmt: skip
    trainer = BoundaryTrainer(ratio=0.1, seed=seed).fit(codes, scores, attribute=attribute, space="z", model=model.spec)
    return trainer.boundary_


def main() -> None:
    from interfacegan.directions.files import load_direction
    from interfacegan.inversion import invert
    from interfacegan.models import load_model
    from interfacegan.scoring import load_scorer
    from interfacegan.translation import make_pairs, psnr_uint8, train_translator

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-digiface")
    parser.add_argument("--attribute", default="brightness", help="face scorer output to edit")
    parser.add_argument("--boundary", help="boundary .npz (default: fit one now)")
    parser.add_argument("--fit-num", type=int, default=4000, help="samples scored to fit the boundary")
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--num", type=int, default=1000, help="pairs sampled for training")
    parser.add_argument("--keep", type=float, default=0.5, help="fraction kept by score change")
    parser.add_argument("--identity-steps", type=int, default=150)
    parser.add_argument("--steps", type=int, default=400, help="fine-tuning steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--held-out", type=int, default=128)
    parser.add_argument("--invert-num", type=int, default=8, help="images inverted for the speed comparison")
    parser.add_argument("--invert-steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write the translator here")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = load_model(args.model, device=args.device)
    scorer = load_scorer("face")
    print(f"{args.model}, attribute {args.attribute!r}, {torch.get_num_threads()} threads, device {model.device}")
    start = time.perf_counter()
    if args.boundary:
        boundary = load_direction(args.boundary, model=model.spec)
    else:
        boundary = fit_boundary(model, scorer, args.attribute, args.fit_num, args.seed + 7)
        print(f"fitted a boundary on {args.fit_num} samples in {time.perf_counter() - start:.0f} s: "
              f"val acc {boundary.metrics.get('val_accuracy', float('nan')):.3f}")  # fmt: skip

    start = time.perf_counter()
    translator = train_translator(model, boundary, alpha=args.alpha, num=args.num, keep=args.keep, scorer=scorer,
                                  attribute=args.attribute, identity_steps=args.identity_steps, steps=args.steps,
                                  batch_size=args.batch_size, width=args.width, seed=args.seed, held_out=0,
                                  progress=True)  # fmt: skip
    seconds = time.perf_counter() - start
    t = translator.training
    print(f"trained on {t['pairs']} of {args.num} pairs in {seconds:.0f} s ({args.identity_steps} identity + "
          f"{args.steps} fine-tuning steps); L1 identity {t['identity_loss']}, edit {t['edit_loss']}")  # fmt: skip
    if args.save:
        translator.save(args.save)

    test = make_pairs(model, boundary, args.alpha, args.held_out, args.seed + 1_000_003)
    edited = translator.translate(test.before, [0.0, 0.5, 1.0])  # (N, 3, R, R, 3)
    psnr_edit = psnr_uint8(edited[:, 2], test.after)
    psnr_input = psnr_uint8(test.before, test.after)
    psnr_identity = psnr_uint8(edited[:, 0], test.before)

    def score(images):
        return scorer.score(images)[args.attribute].astype(np.float64)

    base = score(test.before)
    latent = np.nanmean(score(test.after) - base)
    learned = np.nanmean(score(edited[:, 2]) - base)
    half = np.nanmean(score(edited[:, 1]) - base)

    images = test.before
    translator.translate(images[:8], [1.0])  # warm-up
    start = time.perf_counter()
    repeats = 3
    for _ in range(repeats):
        translator.translate(images, [1.0])
    ms_translator = (time.perf_counter() - start) / (repeats * len(images)) * 1000
    subset = images[: args.invert_num]
    invert(model, subset[:2], steps=2)  # warm-up
    start = time.perf_counter()
    result = invert(model, subset, steps=args.invert_steps)
    model.synthesize(result.codes + args.alpha * boundary.direction())
    ms_inversion = (time.perf_counter() - start) / len(subset) * 1000

    print(f"\nheld-out: {args.held_out} codes of seed {args.seed + 1_000_003}, alpha {args.alpha}")
    print(f"  PSNR translator (strength 1) vs latent-edit target {psnr_edit.mean():6.2f} dB "
          f"(unedited input {psnr_input.mean():.2f} dB; strength 0 vs input {psnr_identity.mean():.2f} dB)")
    print(f"  mean {args.attribute} change: latent edit {latent:+.4f}, translator {learned:+.4f} "
          f"(ratio {learned / latent:.2f}), DNI strength 0.5 {half:+.4f} (ratio {half / latent:.2f})")
    print(f"  speed: translator {ms_translator:.2f} ms/image, inversion ({args.invert_steps} steps) + edit "
          f"{ms_inversion:.0f} ms/image: {ms_inversion / ms_translator:.0f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
