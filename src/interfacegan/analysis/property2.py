"""Property 2 of the paper, checked on the sampled codes: how far Gaussian latent codes lie from a hyperplane.

For a unit normal n and z ~ N(0, I_d), the "distance" n^T z is exactly N(0, 1) whatever d, so
P(|n^T z| > t) = erfc(t / sqrt(2)) (5.7e-7 for t = 5: the paper's footnote "P(|n^T z| > 5) < 1e-6" for d = 512).
The paper's bound, P(|n^T z| <= 2 a sqrt(d/(d-2))) >= (1 - 3e^{-cd})(1 - (2/a) e^{-a^2/2}) for a >= 1, is much
looser; it is shown beside the exact tail with its unknown (1 - 3e^{-cd}) factor taken as 1.
Projections are accumulated chunk by chunk (tail counts, a histogram, moments), so memory does not grow with N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erfc

DEFAULT_THRESHOLDS = (1.0, 2.0, 3.0, 4.0, 5.0)
HIST_EDGES = np.linspace(0.0, 6.0, 121)  # |n^T z| histogram bins of width 0.05; the last bin also counts > 6


def exact_tail(t: float | np.ndarray) -> np.ndarray:
    """P(|x| > t) for x ~ N(0, 1): the exact tail of the distance n^T z of a Gaussian code."""
    return erfc(np.asarray(t, dtype=np.float64) / math.sqrt(2.0))


def paper_bound(t: float | np.ndarray, d: int) -> np.ndarray:
    """Upper bound on P(|n^T z| > t) from Property 2 with (1 - 3e^{-cd}) = 1: (2/a) e^{-a^2/2},
    a = t / (2 sqrt(d/(d-2))); NaN where a < 1 (the property says nothing there)."""
    t = np.asarray(t, dtype=np.float64)
    a = t / (2.0 * math.sqrt(d / (d - 2.0)))
    with np.errstate(divide="ignore"):
        bound = np.minimum(1.0, 2.0 / a * np.exp(-(a**2) / 2.0))
    return np.where(a >= 1.0, bound, np.nan)


@dataclass
class ProjectionStats:
    """Streaming summary of |n^T z| for k directions: counts, tail counts per threshold, histogram, moments."""

    names: list[str]
    dim: int
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    count: int = 0
    tails: np.ndarray = field(init=False)  # (k, len(thresholds)) int64
    hist: np.ndarray = field(init=False)  # (k, len(HIST_EDGES) - 1) int64
    sum_sq: np.ndarray = field(init=False)  # (k,) float64
    max_abs: np.ndarray = field(init=False)  # (k,) float64

    def __post_init__(self):
        k = len(self.names)
        self.tails = np.zeros((k, len(self.thresholds)), dtype=np.int64)
        self.hist = np.zeros((k, len(HIST_EDGES) - 1), dtype=np.int64)
        self.sum_sq = np.zeros(k)
        self.max_abs = np.zeros(k)

    def update(self, projections: np.ndarray) -> None:
        """Add a chunk of projections (n, k) = codes (n, d) @ unit normals.T (k, d)."""
        p = np.abs(np.asarray(projections, dtype=np.float64))
        self.count += len(p)
        self.tails += (p[:, :, None] > np.asarray(self.thresholds)[None, None, :]).sum(axis=0)
        clipped = np.minimum(p, HIST_EDGES[-1] - 1e-9)
        for i in range(p.shape[1]):
            self.hist[i] += np.histogram(clipped[:, i], bins=HIST_EDGES)[0]
        self.sum_sq += (p**2).sum(axis=0)
        if len(p):
            self.max_abs = np.maximum(self.max_abs, p.max(axis=0))

    def rows(self, min_p_value: float = 1e-3) -> list[list]:
        """One row per (direction, threshold): count above, empirical and exact tail, paper bound, binomial
        p-value of the count under the exact tail, and whether the sample agrees with Property 2."""
        out = []
        exact = exact_tail(np.asarray(self.thresholds))
        bound = paper_bound(np.asarray(self.thresholds), self.dim)
        for i, name in enumerate(self.names):
            for j, t in enumerate(self.thresholds):
                above = int(self.tails[i, j])
                p_value = _binomial_p_value(above, self.count, float(exact[j]))
                out.append([
                    name, float(t), self.count, above, above / max(self.count, 1), float(exact[j]), float(bound[j]),
                    p_value, bool(p_value >= min_p_value),
                ])  # fmt: skip
        return out

    @property
    def second_moment(self) -> np.ndarray:
        """E[(n^T z)^2] per direction (k,): 1 for Gaussian codes and unit normals."""
        return self.sum_sq / max(self.count, 1)


ROW_HEADER = [
    "direction", "t", "samples", "count |n.z|>t", "empirical P(|n.z|>t)", "exact erfc(t/sqrt2)",
    "paper bound", "binomial p-value", "consistent",
]  # fmt: skip


def _binomial_p_value(k: int, n: int, p: float) -> float:
    """Two-sided p-value of observing k successes in n trials of probability p (min of both tails, doubled)."""
    from scipy import stats

    if n == 0:
        return float("nan")
    low = stats.binom.cdf(k, n, p)
    high = stats.binom.sf(k - 1, n, p)
    return float(min(1.0, 2.0 * min(low, high)))
