"""The InterFaceGAN paper's five attributes on the embedded GAN, and the targets its experiments are held to.

The paper studies pose, smile, age, gender and eyeglasses. Here they are the `face` scorer's `yaw` (pose),
`smile` and `eyeglasses`, the `age` scorer's expected age and the `gender` scorer's logit of p(male) (the
boundary score; `male_probability` is what a reader interprets). Its central findings are the entanglements
age/eyeglasses and age/gender, and that conditional manipulation removes them (`PAPER_CONDITIONS`).

`measure_targets` holds a scored run and its z boundaries to issue 12's targets (20,000 samples, ratio 0.1):
200 codes moved from alpha -3 to +3 along the gender normal raise the male probability for >= 90% of them;
along the age normal raise the expected age for >= 85%; `age | eyeglasses` cuts the eyeglasses change of the
age edit by >= 50% and keeps >= 70% of its age change; likewise `age | gender` with gender. The demo report and
`benchmarks/attributes.py` print them; tests never assert them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.editing.codes import CodeSource
from interfacegan.editing.plan import condition_label, plan_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.rescoring.rescore import rescore

PAPER_ATTRIBUTES = ("yaw", "smile", "age", "gender", "eyeglasses")  # the paper's pose, smile, age, gender, eyeglasses
PAPER_SCORERS = ("face", "gender", "age")
# (edited attribute, attributes kept): the paper's Fig. 9 (age | gender, eyeglasses | age), Fig. 11 (age and
# eyeglasses), and gender | age, the other way round
PAPER_CONDITIONS = (("age", ("eyeglasses",)), ("age", ("gender",)), ("eyeglasses", ("age",)), ("gender", ("age",)))
TARGET_NUM = 200  # codes edited per target (rows [0, 200) of the run)
TARGET_ALPHA = 3.0  # codes move from -alpha to +alpha along the unit direction
SHARE_GOALS = {"gender": ("male_probability", 0.90), "age": ("age", 0.85)}  # edit -> (score that must rise, share)
KEPT_SCORES = {"eyeglasses": "eyeglasses", "gender": "male_probability"}  # condition -> the score its change is read on
CUT_GOAL, KEEP_GOAL = 0.50, 0.70  # conditional edits: share of the condition's change removed, of the target's kept


@dataclass(frozen=True)
class Target:
    """One measured target: `measured` against `goal` (both shares in [0, 1]), with what was measured."""

    name: str
    measured: float
    goal: float
    detail: str

    @property
    def met(self) -> bool:
        return bool(np.isfinite(self.measured) and self.measured >= self.goal)

    def row(self) -> tuple[str, str, str, str, str]:
        """(target, measured, goal, met, detail) as text, for reports and the benchmark."""
        measured = "–" if not np.isfinite(self.measured) else f"{self.measured:.1%}"
        return self.name, measured, f">= {self.goal:.0%}", "yes" if self.met else "NO", self.detail


@dataclass
class EndScores:
    """Scores of the same codes edited to -alpha (`before`) and +alpha (`after`), per attribute, (N,) each."""

    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]

    def _pair(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        ok = np.isfinite(self.before[name]) & np.isfinite(self.after[name])
        return self.before[name][ok], self.after[name][ok]

    def share_raised(self, name: str) -> tuple[float, int]:
        """(share of codes whose score rose from -alpha to +alpha, codes where both scores are finite)."""
        a, b = self._pair(name)
        return (float(np.mean(b > a)) if len(a) else math.nan), len(a)

    def means(self, name: str) -> tuple[float, float]:
        a, b = self._pair(name)
        return (float(a.mean()), float(b.mean())) if len(a) else (math.nan, math.nan)

    def change(self, name: str) -> float:
        """Mean change of the score from -alpha to +alpha over the codes where both are finite."""
        before, after = self.means(name)
        return after - before


def edit_ends(model, store, boundary: Boundary, conditions: Sequence[Boundary], scorers, num: int = TARGET_NUM,
              alpha: float = TARGET_ALPHA, batch_size: int = 64, progress: bool = False) -> EndScores:  # fmt: skip
    """Scores of rows [0, num) of `store` moved to -alpha and +alpha along `boundary` kept orthogonal to
    `conditions` (`editing.plan_edit`), re-scored by `scorers` (`rescoring.rescore`)."""
    source = CodeSource(store, model, boundary.space, min(num, store.num))
    plan = plan_edit(model, boundary, conditions)
    scores = rescore(model, source.read(0, source.num), plan.space, plan, [-alpha, alpha], scorers,
                     batch_size=batch_size, progress=progress, truncation=source.synthesis_truncation())  # fmt: skip
    return EndScores({k: v[:, 0] for k, v in scores.items()}, {k: v[:, 1] for k, v in scores.items()})


def measure_targets(model, store, boundaries: Sequence[Boundary], scorers, num: int = TARGET_NUM,
                    alpha: float = TARGET_ALPHA, batch_size: int = 64, progress: bool = False) -> list[Target]:  # fmt: skip
    """Issue 12's targets (module docstring) on rows [0, num) of `store`, with its z boundaries of gender, age and
    eyeglasses, re-scored by `scorers` (face, gender and age scorers bound to the run)."""
    by_name = {b.attribute: b for b in boundaries if b.space == "z"}
    missing = [a for a in ("gender", "age", "eyeglasses") if a not in by_name]
    if missing:
        raise InterfaceGANError(f"the targets need z boundaries of {', '.join(missing)}: train them on the run first")

    def ends(attribute: str, kept: Sequence[str] = ()) -> EndScores:
        return edit_ends(model, store, by_name[attribute], [by_name[k] for k in kept], scorers, num, alpha,
                         batch_size, progress)  # fmt: skip

    targets, plain = [], {}
    for edited, (score, goal) in SHARE_GOALS.items():
        plain[edited] = result = ends(edited)
        share, counted = result.share_raised(score)
        before, after = result.means(score)
        targets.append(Target(f"{edited} edit raises {score.replace('_', ' ')}", share, goal,
                              f"mean {before:.3g} -> {after:.3g} over {counted} faces"))  # fmt: skip
    age = plain["age"]
    for kept, score in KEPT_SCORES.items():
        cond, label = ends("age", [kept]), condition_label("age", [kept])
        removed = 1 - _ratio(abs(cond.change(score)), abs(age.change(score)))
        targets.append(Target(f"{label} cuts the {kept} change of the age edit", removed, CUT_GOAL,
                              f"{score.replace('_', ' ')} change {age.change(score):+.3g} -> {cond.change(score):+.3g}"))  # fmt: skip
        targets.append(Target(f"{label} keeps the age change", _ratio(cond.change("age"), age.change("age")),
                              KEEP_GOAL, f"age change {age.change('age'):+.3g} -> {cond.change('age'):+.3g} years"))  # fmt: skip
    return targets


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 and np.isfinite(b) else math.nan


TARGET_HEADER = ["target", "measured", "goal", "met", "what was measured"]
