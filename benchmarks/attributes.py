"""The paper's five attributes on the embedded GAN: issue 12's targets, measured against their goals, in one run.

Samples 20,000 faces (seed 0, images kept) and scores them with face, gender and age into a temporary run, or
reuses the run given by --run (e.g. `demo-output/run`, scored by `make demo`); trains the z boundaries of gender,
age and eyeglasses with ratio 0.1 (seed 0, as the demo); moves rows 0-199 from alpha -3 to +3 along gender, age,
`age | eyeglasses` and `age | gender` (`paper_attributes.measure_targets`) and prints each target: measured,
goal, met. Targets: gender raises p(male) for >= 90% of the codes, age raises the expected age for >= 85%, each
conditional age edit cuts the kept attribute's change by >= 50% and keeps >= 70% of the age change.
Usage: python benchmarks/attributes.py [--run RUN] [--num 20000] [--ratio 0.1] [--codes 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from interfacegan import DEFAULT_MODEL
from interfacegan.demo import score_run
from interfacegan.learning import train_boundaries
from interfacegan.models import load_model
from interfacegan.paper_attributes import PAPER_SCORERS, TARGET_HEADER, TARGET_NUM, measure_targets
from interfacegan.sampling import sample_to_store
from interfacegan.scoring import load_scorer
from interfacegan.scoring.base import bind_run
from interfacegan.store import SampleStore
from interfacegan.threads import configure_threads


def measure(store: SampleStore, ratio: float, codes: int) -> None:
    model = load_model(store.meta["model"])
    start = time.perf_counter()
    boundaries = train_boundaries(store, ["gender", "age", "eyeglasses"], ["z"], ratio=ratio, seed=0)
    for b in boundaries:
        print(f"boundary {b.attribute:10s}: validation accuracy {b.metrics['val_accuracy']:.3f}, remaining "
              f"{b.metrics['remaining_accuracy']:.3f}")  # fmt: skip
    scorers = [bind_run(load_scorer(name), store) for name in PAPER_SCORERS]
    targets = measure_targets(model, store, boundaries, scorers, num=codes)
    widths = [max(len(str(row[i])) for row in [TARGET_HEADER, *(t.row() for t in targets)]) for i in range(5)]
    for row in [TARGET_HEADER, *(t.row() for t in targets)]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    met = sum(t.met for t in targets)
    print(f"{met} of {len(targets)} targets met ({store.num:,} samples, ratio {ratio:g}, {codes} codes; "
          f"{time.perf_counter() - start:.0f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run scored with face, gender and age (default: sample one)")
    parser.add_argument("--num", type=int, default=20_000)
    parser.add_argument("--ratio", type=float, default=0.1)
    parser.add_argument("--codes", type=int, default=TARGET_NUM)
    args = parser.parse_args()
    configure_threads()

    if args.run is not None:
        measure(SampleStore.open(args.run, mode="r"), args.ratio, args.codes)
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model = load_model(DEFAULT_MODEL)
        store = sample_to_store(model, Path(tmp) / "run", num=args.num, seed=0, save_images=True, progress=False)
        score_run(store, PAPER_SCORERS, model, progress=False)
        print(f"sampled and scored {args.num:,} faces in {time.perf_counter() - start:.0f} s")
        measure(store, args.ratio, args.codes)


if __name__ == "__main__":
    main()
