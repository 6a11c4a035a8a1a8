"""Re-scoring matrices (paper Tab. 3, Tab. 4; SeFa paper Tab. 2): edit M codes along each direction, score the
edited images again, and report how every attribute moved. The analysis tables and SeFa naming
(`rescoring.naming`) both measure with `rescoring_matrix`: there is one definition of the change.

Normalised score change of attribute j for edit i (our precise definition of the paper's unnamed unit):
    change[i, j] = mean_m( s_j(G(x_m + alpha n_i)) - s_j(G(x_m)) ) / std_m( s_j(G(x_m)) )
over the M codes x_m where both scores are finite; the std is over the same M unedited images. For a score that
is linear in the code, s = l n^T x + noise, and x ~ N(0, I), it equals alpha * corr(s, n^T x).
Edits call `interfacegan.rescoring.rescore` block by block (codes read per block, running sums per cell), so
memory is bounded by the block size whatever M is; the unedited scores are computed once and reused. Blocks are
jobs (`rescoring.jobs`) that an executor maps over (local threads by default, worker processes or Ray): the
sums are added in block order, so every engine gives the same result bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from interfacegan import checks
from interfacegan.editing.codes import CodeSource, SampledCodes
from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import map_blocks
from interfacegan.rescoring.jobs import SUMS, BaselineJob, EditSumsJob
from interfacegan.rescoring.rescore import image_scorers

CHANGE_DEFINITION = (
    "normalised score change = mean over the M samples of (score after the edit x + alpha n - score of x) / std "
    "of that score over the same M unedited samples (samples where either score is NaN are skipped)"
)
Source = CodeSource | SampledCodes  # codes to edit: rows of a run, or fresh samples of a seed


@dataclass
class Edit:
    """One row of a re-scoring matrix: move codes of `space` by alpha * `direction` (on `layers` of W+ only)."""

    label: str
    direction: np.ndarray  # unit vector of the space (flat or code-shaped); (w_dim,) for layer edits
    space: str
    attribute: str | None = None  # the attribute the edit is meant to change (its diagonal cell)
    layers: str | None = None  # W+ layer selection such as '0-1' (codes must be 'wp')
    kind: str = "boundary"  # boundary | conditional | layers | sefa
    conditions: list[str] = field(default_factory=list)  # attributes a conditional direction keeps unchanged


@dataclass
class Baseline:
    """Scores (M,) of the M unedited images of one code source, per scalar scorer output."""

    space: str
    scores: dict[str, np.ndarray]

    @property
    def attributes(self) -> list[str]:
        return list(self.scores)

    @property
    def num(self) -> int:
        return len(next(iter(self.scores.values()))) if self.scores else 0

    def std(self, name: str) -> float:
        values = self.scores[name]
        finite = values[np.isfinite(values)]
        return float(np.std(finite)) if len(finite) > 1 else float("nan")


def compute_baseline(model, source: Source, scorers, batch_size: int = 64, progress: bool = True,
                     executor=None) -> Baseline:  # fmt: skip
    """Score the unedited images of all `source` rows once (a zero edit through `rescore`, so the pipeline is
    exactly the one the edits use); the blocks run on `executor` (an Executor or its name; None: local)."""
    job = BaselineJob(model, source, image_scorers(scorers), batch_size)
    parts = map_blocks(job, job.blocks(), executor, progress, f"scoring unedited ({source.space})")
    return Baseline(source.space, {name: np.concatenate([p[name] for p in parts]) for name in parts[0]})


@dataclass
class RescoringResult:
    """Cells (edits x attributes): normalised change, raw change, its standard error, share increased, counts."""

    edits: list[Edit]
    attributes: list[str]
    alpha: float
    num: int
    change: np.ndarray  # (E, C) normalised mean change
    raw_change: np.ndarray  # (E, C) mean change in the score's own units
    stderr: np.ndarray  # (E, C) standard error of `change`
    increased: np.ndarray  # (E, C) share of samples whose score rose
    valid: np.ndarray  # (E, C) samples with both scores finite
    std: dict[str, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.edits]

    def cell(self, label: str, attribute: str) -> float:
        return float(self.change[self.labels.index(label), self.attributes.index(attribute)])

    def target(self, i: int) -> int | None:
        """Column of edit i's own attribute, or None."""
        attribute = self.edits[i].attribute
        return self.attributes.index(attribute) if attribute in self.attributes else None

    def dominance(self, among: Sequence[str] | None = None) -> list[dict]:
        """Per edit: its target change and the largest |change| of another attribute (within `among`)."""
        among = list(among) if among is not None else self.attributes
        rows = []
        for i, edit in enumerate(self.edits):
            j = self.target(i)
            others = [(abs(self.change[i, k]), k) for k, a in enumerate(self.attributes)
                      if a in among and k != j and np.isfinite(self.change[i, k])]  # fmt: skip
            worst = max(others) if others else (float("nan"), None)
            k = worst[1]
            target = float(self.change[i, j]) if j is not None else float("nan")
            rows.append({
                "edit": edit.label,
                "attribute": edit.attribute or "",
                "target_change": target,
                "target_stderr": float(self.stderr[i, j]) if j is not None else float("nan"),
                "target_increased": float(self.increased[i, j]) if j is not None else float("nan"),
                "largest_other": self.attributes[k] if k is not None else "",
                "largest_other_change": float(self.change[i, k]) if k is not None else float("nan"),
                "largest_other_stderr": float(self.stderr[i, k]) if k is not None else float("nan"),
                "dominant": bool(j is not None and np.isfinite(target) and (k is None or abs(target) > worst[0])),
            })  # fmt: skip
        return rows


def rescoring_matrix(
    model,
    source: Source,
    baseline: Baseline,
    edits: Sequence[Edit],
    alpha: float,
    scorers,
    batch_size: int = 64,
    progress: bool = True,
    description: str = "re-scoring",
    executor=None,
) -> RescoringResult:
    """Edit all `source` rows by `alpha` along each edit and compare with `baseline` (see module docstring); the
    blocks of rows run on `executor` (an Executor or its name; None: local threads)."""
    alpha = checks.finite("alpha", alpha)
    checks.positive_int("batch_size", batch_size)
    edits = list(edits)
    if not edits:
        raise InterfaceGANError("no directions to re-score: give boundaries or attributes to train them on")
    if baseline.num != source.num:
        raise InterfaceGANError(f"baseline has {baseline.num} samples but the code source {source.num}")
    attributes = baseline.attributes
    for edit in edits:
        if edit.layers is not None and source.space != "wp":
            raise InterfaceGANError(f"layer-wise edit {edit.label!r} needs W+ codes, the source holds {source.space!r}")
        if edit.layers is None and edit.space != source.space:
            raise InterfaceGANError(f"edit {edit.label!r} is in space {edit.space!r}, the codes in {source.space!r}")
    job = EditSumsJob(model, source, image_scorers(scorers), batch_size, edits=edits, alpha=alpha,
                      before=baseline.scores)  # fmt: skip
    sums = np.zeros((len(SUMS), len(edits), len(attributes)))
    for part in map_blocks(job, job.blocks(), executor, progress, description, units_per_row=len(edits)):
        sums += part["sums"]  # in block order, as one loop over the blocks would add them
    total, total_sq, rose, count = sums[0], sums[1], sums[2], sums[3].astype(np.int64)
    mean, mean_stderr = mean_and_stderr(total, total_sq, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.array([baseline.std(a) for a in attributes])[None, :]
        std = np.where(std > 0, std, np.nan)
        change = mean / std
        stderr = mean_stderr / std
        increased = rose / count
    return RescoringResult(edits, attributes, float(alpha), source.num, change, mean, stderr, increased, count,
                           {a: baseline.std(a) for a in attributes})  # fmt: skip


def mean_and_stderr(total: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and its standard error from running sums of x and x^2 over `count` samples (sample variance, n - 1),
    element-wise; NaN where count is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = np.maximum(total_sq / count - mean**2, 0.0) * count / np.maximum(count - 1, 1)
        return mean, np.sqrt(var / count)


def order_columns(attributes: Sequence[str], first: Sequence[str]) -> list[str]:
    """Attributes with those in `first` leading (in that order), the rest after (the matrix reads diagonally)."""
    lead = [a for a in first if a in attributes]
    return lead + [a for a in attributes if a not in lead]


def reorder(result: RescoringResult, attributes: Sequence[str]) -> RescoringResult:
    """The same result with its columns in the order `attributes` (a permutation of a subset of its columns)."""
    index = [result.attributes.index(a) for a in attributes]
    pick = lambda m: m[:, index]  # noqa: E731
    return RescoringResult(result.edits, list(attributes), result.alpha, result.num, pick(result.change),
                           pick(result.raw_change), pick(result.stderr), pick(result.increased), pick(result.valid),
                           {a: result.std[a] for a in attributes})  # fmt: skip
