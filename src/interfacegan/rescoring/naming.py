"""Naming unsupervised directions (SeFa) by re-scoring: which attribute does each one move, and does one dominate?

Each direction edits the same NAMING_NUM fresh samples of the fixed seed NAMING_SEED by +NAMING_ALPHA, and every
attribute's normalised score change is measured exactly as in the analysis tables (`rescoring_matrix`,
CHANGE_DEFINITION). The demo, the `sefa --name-with` / `name-directions` commands and the editor all call
`name_directions` with these defaults, so the same model and settings give the same names everywhere.
NAMING_RULE decides whether a direction is named after an attribute; otherwise it keeps its own name (sefa_k)
and lists its top effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from interfacegan import checks
from interfacegan.editing.codes import SampledCodes
from interfacegan.editing.plan import plan_edit
from interfacegan.execution import executor_in_use
from interfacegan.rescoring.matrix import CHANGE_DEFINITION, Edit, compute_baseline, rescoring_matrix
from interfacegan.rescoring.rescore import image_scorers

NAMING_NUM = 64  # samples edited per direction
NAMING_ALPHA = 3.0  # edit x + alpha n, n unit
NAMING_SEED = 0  # the fixed evaluation seed of those samples
DOMINANCE_RATIO = 1.5  # |top change| >= this x |second largest change| ...
MIN_CHANGE = 0.5  # ... and |top change| >= this many standard deviations
NAMING_RULE = (
    f"a direction is named after an attribute only when that attribute's |normalised change| is at least "
    f"{DOMINANCE_RATIO:g} x the second largest and at least {MIN_CHANGE:g}; otherwise it keeps its own name and "
    "lists its top effects"
)


@dataclass
class AttributeEffect:
    """How one attribute responds to the edit x -> x + alpha n (CHANGE_DEFINITION), over the naming samples."""

    attribute: str
    change_std: float  # normalised change: mean(s(x + alpha n) - s(x)) / std(s(x))
    stderr: float  # standard error of change_std
    mean_change: float  # the mean change in the attribute's own units
    fraction_increased: float  # share of samples whose score rose (samples without both scores skipped)
    num_valid: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def dominant(effects: dict[str, AttributeEffect]) -> AttributeEffect | None:
    """The effect a direction is named after under NAMING_RULE, or None when no attribute clearly dominates."""
    ranked = sorted((e for e in effects.values() if np.isfinite(e.change_std)), key=lambda e: -abs(e.change_std))
    if not ranked:
        return None
    top = abs(ranked[0].change_std)
    second = abs(ranked[1].change_std) if len(ranked) > 1 else 0.0
    return ranked[0] if top >= MIN_CHANGE and top >= DOMINANCE_RATIO * second else None


@dataclass
class DirectionName:
    """A direction's name under NAMING_RULE (`attribute` None when no attribute dominates) and all its effects."""

    direction: str
    attribute: str | None
    sign: int
    change_std: float  # the named attribute's normalised change (NaN when unnamed)
    effects: dict[str, AttributeEffect] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """'+smile' / '-yaw' when named after an attribute, '' otherwise (the direction keeps its own name)."""
        return f"{'+' if self.sign >= 0 else '-'}{self.attribute}" if self.attribute else ""

    @property
    def title(self) -> str:
        """'sefa_1 (+smile)', or just 'sefa_3' when no attribute dominates."""
        return f"{self.direction} ({self.label})" if self.label else self.direction

    def top_effects(self, k: int = 3) -> list[AttributeEffect]:
        """The k effects of largest |normalised change|."""
        finite = [e for e in self.effects.values() if np.isfinite(e.change_std)]
        return sorted(finite, key=lambda e: -abs(e.change_std))[:k]

    def summary(self, k: int = 3) -> str:
        """'smile +0.91, yaw -0.40, eye_open +0.12': the top effects, in standard deviations."""
        return ", ".join(f"{e.attribute} {e.change_std:+.2f}" for e in self.top_effects(k)) or "no attribute moves"

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "attribute": self.attribute,
            "sign": self.sign,
            "label": self.label,
            "change_std": self.change_std,
            "effects": {k: v.as_dict() for k, v in self.effects.items()},
        }


def naming_settings(num: int = NAMING_NUM, alpha: float = NAMING_ALPHA, seed: int = NAMING_SEED) -> dict:
    """What a names file records about how the names were made (with the rule and the definition)."""
    return {"num": num, "alpha": alpha, "seed": seed, "rule": NAMING_RULE, "change": CHANGE_DEFINITION}


def check_naming(num: int = NAMING_NUM, alpha: float = NAMING_ALPHA, seed: int = NAMING_SEED) -> tuple[int, float, int]:
    """(num, alpha, seed) of `name_directions` checked: at least 2 samples, a positive finite alpha, a valid seed;
    callers that name at the end of long work call this first."""
    num = checks.integer("num", num, low=2)
    return num, checks.positive("alpha", alpha), checks.seed(seed)


def name_directions(
    model,
    boundaries: Sequence,
    scorers,
    num: int = NAMING_NUM,
    alpha: float = NAMING_ALPHA,
    seed: int = NAMING_SEED,
    batch_size: int = 64,
    progress: bool = False,
    truncation=None,
    executor=None,
) -> list[DirectionName]:
    """Name each boundary/direction under NAMING_RULE, from the normalised change of every attribute when `num`
    fresh samples of `seed` move by +alpha along it (module docstring; keep the defaults for stable names). The
    re-scoring runs on `executor` (an Executor or its name; None: local threads): the same names on every engine."""
    num, alpha, seed = check_naming(num, alpha, seed)
    checks.positive_int("batch_size", batch_size)
    scorers = image_scorers(scorers)
    by_space: dict[str, list[int]] = {}  # code space -> the directions edited there, in order
    plans = [plan_edit(model, b) for b in boundaries]
    for i, plan in enumerate(plans):
        by_space.setdefault(plan.space, []).append(i)
    names: list[DirectionName | None] = [None] * len(plans)
    with executor_in_use(executor) as engine:  # one engine for every space (closed here if built from a name)
        for space, chosen in by_space.items():  # one job for the baseline, one for every edit: 2 model loads a worker
            source = SampledCodes(model, space, num, seed, truncation)
            baseline = compute_baseline(model, source, scorers, batch_size, progress, engine)
            edits = [Edit(boundaries[i].attribute, plans[i].vector, space, layers=plans[i].layer_text,
                          kind=boundaries[i].kind) for i in chosen]  # fmt: skip
            result = rescoring_matrix(model, source, baseline, edits, alpha, scorers, batch_size, progress,
                                      description=f"naming {len(edits)} directions ({space})", executor=engine)
            for row, i in enumerate(chosen):  # each edit's row is what a re-scoring of that edit alone gives
                names[i] = _direction_name(boundaries[i].attribute, result, row)
    return names


def _direction_name(direction: str, result, row: int) -> DirectionName:
    """The name of `direction` under NAMING_RULE from row `row` (its edit) of a re-scoring `result`."""
    effects = {
        a: AttributeEffect(a, float(result.change[row, j]), float(result.stderr[row, j]),
                           float(result.raw_change[row, j]), float(result.increased[row, j]), int(result.valid[row, j]))
        for j, a in enumerate(result.attributes)
    }  # fmt: skip
    best = dominant(effects)
    if best is None:
        return DirectionName(direction, None, 0, float("nan"), effects)
    return DirectionName(direction, best.attribute, int(np.sign(best.change_std) or 1), best.change_std, effects)
