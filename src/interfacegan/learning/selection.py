"""Which scored samples a boundary learns from: the official `train_boundary` selection, with NaNs dropped.

Drop samples whose score is NaN/inf, rank the rest by score, take the top and bottom `ratio` of the valid samples
(or `count` each side) as positives and negatives, split each side `split`/(1-split) into train/validation with
`seed`. The remaining (middle) samples are labelled positive when score >= threshold, where the threshold is by
default ('edges') the midpoint between the lowest selected positive score and the highest selected negative score;
'extremes' reproduces the official code ((max + min) / 2 of all valid scores).

A score that cannot be separated is refused: one value for all valid samples, or (nearly constant) the lowest
selected positive score equals the highest selected negative score, i.e. the two groups share a score and some
samples of equal score would be labelled both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interfacegan import checks
from interfacegan.errors import InterfaceGANError


@dataclass
class Selection:
    """Which valid samples train, validate and remain (row indices into the caller's arrays)."""

    pos_train: np.ndarray
    pos_val: np.ndarray
    neg_train: np.ndarray
    neg_val: np.ndarray
    remaining: np.ndarray
    threshold: float
    num_valid: int
    num_dropped: int

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels) of the training set: positives labelled 1, negatives 0."""
        rows = np.concatenate([self.pos_train, self.neg_train])
        return rows, np.r_[np.ones(len(self.pos_train)), np.zeros(len(self.neg_train))].astype(np.int8)

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels) of the validation set, labelled as `train`."""
        rows = np.concatenate([self.pos_val, self.neg_val])
        return rows, np.r_[np.ones(len(self.pos_val)), np.zeros(len(self.neg_val))].astype(np.int8)


def check_selection(ratio: float | None = 0.02, count: int | None = None, split: float = 0.7, seed: int = 0,
                    threshold: str | float = "edges") -> float | str:  # fmt: skip
    """One line unless the selection settings are usable (before any score is read); the threshold as used: 'edges',
    'extremes' or a finite float."""
    if count is not None:
        checks.integer("count", count, low=2)
    elif ratio is None:
        raise InterfaceGANError("give ratio (top and bottom share of the samples) or count (samples per side)")
    else:
        checks.in_range("ratio", ratio, 0.0, 0.5, low_open=True)
    checks.in_range("split", split, 0.0, 1.0, low_open=True, high_open=True)
    checks.seed(seed)
    if threshold in ("edges", "extremes"):
        return threshold
    try:
        number = float(threshold)
    except (TypeError, ValueError):
        raise InterfaceGANError(f"threshold must be 'edges', 'extremes' or a number, got {threshold!r}") from None
    return checks.finite("threshold", number)


def select_samples(
    scores: np.ndarray,
    ratio: float | None = 0.02,
    count: int | None = None,
    split: float = 0.7,
    seed: int = 0,
    threshold: str | float = "edges",
    attribute: str | None = None,
) -> Selection:
    """Rank valid scores (N,) and pick top/bottom `ratio` of them (or `count` each side); see module docstring.

    `attribute` only names the scores in error messages.
    """
    threshold = check_selection(ratio, count, split, seed, threshold)
    what = f"attribute {attribute!r}" if attribute else "the score"
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    valid = np.flatnonzero(np.isfinite(scores))
    num_valid = len(valid)
    if num_valid and scores[valid].min() == scores[valid].max():
        raise InterfaceGANError(
            f"{what} has one value for all samples ({scores[valid[0]]:g} for all {num_valid}): there is nothing "
            "to separate; score it with a scorer that varies, or leave it out"
        )
    chosen = int(count) if count is not None else int(num_valid * ratio)
    if 2 * chosen > num_valid or chosen < 2:
        raise InterfaceGANError(
            f"cannot select {chosen} positives and {chosen} negatives from {num_valid} scored samples "
            f"({len(scores) - num_valid} without a score): use a ratio or count that leaves at least 2 per side"
        )
    order = valid[np.argsort(-scores[valid], kind="stable")]  # descending score
    positives, negatives = order[:chosen], order[len(order) - chosen :]
    remaining = order[chosen : len(order) - chosen]
    low, high = scores[positives[-1]], scores[negatives[0]]
    if low <= high:
        distinct = len(np.unique(scores[valid]))
        raise InterfaceGANError(
            f"{what} is nearly constant: its top and bottom {chosen} samples share the score {low:g} ({distinct} "
            f"distinct values among {num_valid} samples): use a smaller ratio or count, or another attribute"
        )
    num_train = max(1, min(chosen - 1, int(chosen * split)))
    rng = np.random.default_rng(seed)
    pos_perm, neg_perm = rng.permutation(chosen), rng.permutation(chosen)
    if threshold == "edges":
        cut = (low + high) / 2.0
    elif threshold == "extremes":
        cut = (scores[order[0]] + scores[order[-1]]) / 2.0
    else:
        cut = threshold
    return Selection(
        pos_train=np.sort(positives[pos_perm[:num_train]]),
        pos_val=np.sort(positives[pos_perm[num_train:]]),
        neg_train=np.sort(negatives[neg_perm[:num_train]]),
        neg_val=np.sort(negatives[neg_perm[num_train:]]),
        remaining=np.sort(remaining),
        threshold=float(cut),
        num_valid=num_valid,
        num_dropped=len(scores) - num_valid,
    )
