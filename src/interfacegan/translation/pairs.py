"""Synthetic training pairs from InterFaceGAN edits: (G(z), G(z + alpha * n)) for sampled codes z.

With a scorer, both images are scored and only the `keep` fraction of pairs whose attribute changed most
(after - before, in the direction of the edit) is kept, as the paper does before training pix2pixHD: pairs whose
edit barely shows would teach the network to do nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.progress import progress_bar
from interfacegan.editing.plan import as_plan
from interfacegan.editing.stream import edited_batches


@dataclass
class Pairs:
    """before/after uint8 (M, R, R, 3), their codes (M, *code_shape) and score changes (M,) (None unscored)."""

    before: np.ndarray
    after: np.ndarray
    codes: np.ndarray
    change: np.ndarray | None = None
    rows: np.ndarray | None = None  # (M,) indices of the kept pairs among the sampled ones

    def __len__(self) -> int:
        return len(self.before)


def _scorer_attribute(scorer, attribute: str | None, direction):
    """(loaded scorer, the scalar attribute it should report); a one-line error when it has no such output."""
    from interfacegan.directions.boundary import Boundary
    from interfacegan.scoring import load_scorer

    scorer = load_scorer(scorer)
    names = scorer.attributes
    if attribute is None and isinstance(direction, Boundary) and direction.attribute in names:
        attribute = direction.attribute
    if attribute is None and len(names) == 1:
        attribute = names[0]
    if attribute not in names:
        raise InterfaceGANError(
            f"scorer {scorer.name!r} has no attribute {attribute!r}: pass attribute as one of {', '.join(names)}"
        )
    return scorer, attribute


def check_pairs(alpha: float = 3.0, num: int = 1000, keep: float = 1.0, seed: int = 0,
                scorer=None) -> tuple[float, int, float, int]:  # fmt: skip
    """(alpha, num, keep, seed) of `make_pairs` checked: a finite non-zero alpha, at least one pair, keep in (0, 1]
    (below 1 only with a scorer), a valid seed."""
    alpha = checks.finite("alpha", alpha)
    if alpha == 0:
        raise InterfaceGANError("alpha must be a non-zero edit amount, got 0")
    num, keep = checks.positive_int("num", num, checks.MAX_PAIRS), checks.in_range("keep", keep, 0.0, 1.0, low_open=True)
    if scorer is None and keep < 1:
        raise InterfaceGANError("keeping the pairs that changed most needs a scorer: pass scorer, or keep=1")
    return alpha, num, keep, checks.seed(seed)


def make_pairs(model, direction, alpha: float = 3.0, num: int = 1000, seed: int = 0, keep: float = 1.0,
               scorer=None, attribute: str | None = None, space: str = "z", batch_size: int = 64,
               progress: bool = False) -> Pairs:  # fmt: skip
    """Sample `num` codes of `seed`, edit each by x + alpha * direction, synthesize both images in batches.

    With `scorer` (spec or Scorer), keep the round(keep * num) pairs with the largest score change of
    `attribute` (default: the boundary's attribute) in the edit's direction (sign of alpha); pairs the scorer
    cannot score (NaN) are never kept. Without a scorer, `keep` must be 1.
    """
    alpha, num, keep, seed = check_pairs(alpha, num, keep, seed, scorer)
    checks.positive_int("batch_size", batch_size, checks.MAX_BATCH)
    plan = as_plan(model, direction, space)  # a Boundary through the one fit check; a vector used as given
    if scorer is not None:
        scorer, attribute = _scorer_attribute(scorer, attribute, direction)
    z = model.sample(num, seed)
    codes = model.map(z, plan.space)
    r = model.resolution
    before, after = np.empty((num, r, r, 3), np.uint8), np.empty((num, r, r, 3), np.uint8)
    change = np.full(num, np.nan, np.float64) if scorer is not None else None
    with progress_bar("making pairs", total=num, enabled=progress) as bar:
        # each block holds rows start..stop at alpha 0 (the codes themselves) and at alpha
        for start, stop, images in edited_batches(plan, codes, [0.0, alpha], 2 * batch_size):
            images = images.reshape(stop - start, 2, r, r, 3)
            before[start:stop], after[start:stop] = images[:, 0], images[:, 1]
            if scorer is not None:
                lo = np.asarray(scorer.score(before[start:stop])[attribute], np.float64)
                hi = np.asarray(scorer.score(after[start:stop])[attribute], np.float64)
                change[start:stop] = hi - lo
            bar.advance(stop - start)
    rows = np.arange(num)
    if scorer is not None:
        rows = select_largest_change(change, keep, math.copysign(1.0, alpha))
    return Pairs(before[rows], after[rows], np.asarray(codes[rows]), None if change is None else change[rows], rows)


def select_largest_change(change: np.ndarray, keep: float, sign: float = 1.0) -> np.ndarray:
    """Sorted indices of the round(keep * N) (at least 1) largest sign * change values; NaN never kept."""
    change = np.asarray(change, dtype=np.float64).reshape(-1)
    count = max(1, int(round(keep * len(change))))
    valid = np.flatnonzero(np.isfinite(change))
    if len(valid) < count:
        raise InterfaceGANError(
            f"only {len(valid)} of {len(change)} pairs could be scored but {count} should be kept: "
            "raise num or lower keep, or use a scorer that reads these images"
        )
    order = valid[np.argsort(-sign * change[valid], kind="stable")]
    return np.sort(order[:count])
