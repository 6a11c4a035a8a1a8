"""What the analyses measure and on how many samples: `AnalysisSettings` (every default of `analyze_run`) and
`QUICK`, the small sample counts for a first look."""

from __future__ import annotations

from dataclasses import dataclass

from interfacegan.analysis.conditions import check_condition_syntax
from interfacegan.checks import finite, positive_int
from interfacegan.directions.ganspace import GANSPACE_NUM
from interfacegan.editing.codes import DEFAULT_BLOCK_ROWS
from interfacegan.errors import InterfaceGANError
from interfacegan.learning.selection import check_selection

DEFAULT_SWEEP = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0)

# Sample counts for demos and smoke runs: every analysis of the demo's 7 attributes of the embedded GAN took 83 s on
# 2 shared CPU cores (load average 3; 154 s at 5), the method comparison 35 s of it (the defaults, M = 2,000 / 16 /
# 100, take several minutes). Use as analyze_run(run, out, **QUICK).
# ganspace_num: GANSpace's PCA of the embedded DCGAN's 8,192 first-layer activations took ~10 s for 5,000 samples
# (~50 s for the default 20,000) on 2 shared cores; its top-10 directions agree with 10,000 samples' to |cos| >= 0.94.
QUICK = {"num_rescore": 300, "num_identity": 6, "num_distance": 50, "ganspace_num": 5000}


@dataclass
class AnalysisSettings:
    """What to measure and on how many samples (see `analyze_run` for the meaning of each field)."""

    num_rescore: int = 2000
    num_identity: int = 16
    num_distance: int = 100
    alpha: float = 2.0
    sweep: tuple[float, ...] = DEFAULT_SWEEP
    conditions: tuple[str, ...] = ("auto",)  # items 'auto', 'none' or 'PRIMAL|COND[,COND...]'
    condition_threshold: float = 0.3
    layer_groups: tuple[str, ...] | None = None
    sefa_k: int = 10  # top k of each unsupervised method (SeFa, GANSpace) that boundaries are matched among
    sefa_layers: str | None = None
    ganspace_num: int = GANSPACE_NUM  # samples of GANSpace's PCA in the method comparison
    sefa_levels: tuple[str, ...] | None = None  # W+ layer groups of the per-level study (None: the paper's split)
    level_k: int = 5  # SeFa directions per level
    ratio: float = 0.02
    batch_size: int = 128
    block_rows: int = DEFAULT_BLOCK_ROWS

    def check(self) -> None:
        """One-line error for a setting out of range, before any work."""
        for name in ("num_rescore", "num_identity", "num_distance", "sefa_k", "ganspace_num", "level_k", "batch_size",
                     "block_rows"):  # fmt: skip
            positive_int(name, getattr(self, name))
        check_selection(ratio=self.ratio)  # checked even when the boundaries are given: NaN never passes silently
        finite("alpha", self.alpha)
        for a in self.sweep:
            finite("sweep", a)
        if self.alpha == 0:
            raise InterfaceGANError("alpha must not be 0: re-scoring measures the effect of a non-zero edit")
        if not self.sweep or any(a == 0 for a in self.sweep):
            raise InterfaceGANError("the distance sweep needs non-zero alphas, e.g. -3,-2,-1,1,2,3")
        if not 0 <= self.condition_threshold <= 1:
            raise InterfaceGANError(f"condition_threshold must be in [0, 1], got {self.condition_threshold}")
        check_condition_syntax(self.conditions)
        if self.ganspace_num < self.sefa_k:
            raise InterfaceGANError(f"ganspace_num must be at least sefa_k = {self.sefa_k} (PCA needs a sample per "
                                    f"direction), got {self.ganspace_num}")  # fmt: skip

    @property
    def identity_alphas(self) -> list[float]:
        """The alphas identity descriptors are measured at: alpha (the table) and the sweep (the curves)."""
        return sorted(set([self.alpha, *self.sweep]))
