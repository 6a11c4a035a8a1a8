"""The whole analysis on the embedded face GAN: time and the re-scoring targets, in one run.

Makes (or reuses, with --run) a 20,000-sample `dcgan-digiface` run scored by the `face` scorer, then times
`analyze_run` on 6 attributes with M = 2,000 (target for 5: < 5 minutes on 2 CPU cores; sampling and scoring the
run are not timed) and checks: the re-scoring matrix is diagonal-dominant for yaw, smile, mouth_open and
eyeglasses, and the conditional directions 'eyeglasses | brightness' and 'eyeglasses_edges | brightness' move
brightness less than the unconditional ones.
Usage: python benchmarks/analysis.py [--run DIR] [--out DIR] [--num 20000] [--m 2000] [--ratio 0.02]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from interfacegan.analysis import analyze_run
from interfacegan.models import load_model
from interfacegan.sampling import sample_to_store
from interfacegan.scoring import load_scorer
from interfacegan.scoring.run import score_store
from interfacegan.store import SampleStore, is_store

ATTRIBUTES = ["yaw", "smile", "mouth_open", "eyeglasses", "eyeglasses_edges", "brightness"]
CONDITIONS = ["eyeglasses|brightness", "eyeglasses_edges|brightness"]
DOMINANT = ["yaw", "smile", "mouth_open", "eyeglasses"]
TARGET_SECONDS = 300.0


def make_run(path: Path, num: int) -> SampleStore:
    """Sample and face-score `num` codes at `path` (resumes a partial run)."""
    model = load_model("dcgan-digiface")
    start = time.perf_counter()
    store = sample_to_store(model, path, num=num, seed=0, progress=False)
    score_store(store, load_scorer("face"), model=model, progress=False)
    print(f"run: {num} samples sampled and scored in {time.perf_counter() - start:.0f} s (not timed below)")
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="existing face-scored run (else one is made)")
    parser.add_argument("--out", type=Path, default=None, help="analysis output (default: a temporary directory)")
    parser.add_argument("--num", type=int, default=20_000)
    parser.add_argument("--m", type=int, default=2000)
    parser.add_argument("--num-identity", type=int, default=16)
    parser.add_argument("--num-distance", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--ratio", type=float, default=0.02)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        run_path = args.run or Path(tmp) / "run"
        store = SampleStore.open(run_path) if is_store(run_path) and args.run else make_run(run_path, args.num)
        if not set(ATTRIBUTES) <= set(store.score_names):
            store = make_run(run_path, store.num)
        out = args.out or Path(tmp) / "analysis"
        start = time.perf_counter()
        # boundaries_dir=None: boundaries are trained here at --ratio even when RUN-boundaries/ exists beside --run
        result = analyze_run(store, out, attributes=ATTRIBUTES, spaces=["z"], boundaries_dir=None,
                             num_rescore=args.m, num_identity=args.num_identity, num_distance=args.num_distance,
                             alpha=args.alpha, ratio=args.ratio, conditions=["auto", *CONDITIONS], progress=False,
                             on_plan=lambda plan: print(plan.text()))  # fmt: skip
        seconds = time.perf_counter() - start

        print(f"\nanalysis of {len(ATTRIBUTES)} attributes, N = {store.num}, M = {args.m}, identity M = "
              f"{args.num_identity}, distance M = {args.num_distance}, alpha = {args.alpha}, ratio = {args.ratio}")  # fmt: skip
        for key, value in result.seconds.items():
            print(f"  {key:24s} {value:7.1f} s")
        print(f"  skipped: {result.skipped or 'none'}")
        print(f"  load average at the end {os.getloadavg()[0]:.1f} (other processes slow the run down)")
        verdict = "OK" if seconds < TARGET_SECONDS else "MISSED"
        print(f"total {seconds:.0f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")
        estimate = result.plan.seconds
        if estimate:
            work = result.seconds["total"] - result.seconds["planning"]
            print(f"the plan's estimate: {estimate:.0f} s for the re-scoring work; the analyses took {work:.0f} s "
                  f"(ratio {work / estimate:.2f})")  # fmt: skip

        table = result.tables["rescoring_z"]
        print("\nre-scoring matrix (normalised change, rows = edits):")
        print("  " + " ".join(f"{h:>11s}" for h in table.header))
        for row in table.rows:
            print(f"  {row[0]:>11s} " + " ".join(f"{v:11.3f}" for v in row[1:]))
        dominance = {d["edit"]: d for d in result.summary["rescoring"]["z"]["dominance"]}
        for attribute in DOMINANT:
            d = dominance[attribute]
            print(f"  {attribute:12s} diagonal {d['target_change']:+.3f}, largest other {d['largest_other']} "
                  f"{d['largest_other_change']:+.3f}: {'dominant' if d['dominant'] else 'NOT dominant'}")  # fmt: skip
        for item in CONDITIONS:
            primal = item.split("|")[0]
            rows = [r for r in result.summary["rescoring"]["z"]["conditional"]
                    if r[0] == item.replace("|", " | ") and r[1] == "brightness"]  # fmt: skip
            if not rows:
                print(f"  no '{item}' row in the conditional re-scoring")
                continue
            label, _, unc, cond, unc_se, cond_se, t_unc, t_cond = rows[0]
            print(f"  {label}: brightness change {cond:+.3f} (+-{cond_se:.3f}) vs unconditional {unc:+.3f} "
                  f"(+-{unc_se:.3f}); {primal} change {t_cond:+.3f} vs {t_unc:+.3f}: "
                  f"{'smaller' if abs(cond) < abs(unc) else 'NOT smaller'}")  # fmt: skip
        if "property2" in result.summary:
            print(f"  Property 2 consistent for all directions: {result.summary['property2']['all_consistent']}")
        print(f"\nreport: {result.report}")
        if args.out is None:
            print("(temporary output removed; pass --out DIR to keep it)")
        (out / "benchmark.json").write_text(json.dumps({"seconds": seconds, "phases": result.seconds}, indent=2))


if __name__ == "__main__":
    main()
