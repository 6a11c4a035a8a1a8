"""`AnalysisContext`: everything the analyses read, each computed once on first use and shared.

Inputs (attributes, scorers, the identity scorer, boundaries) and measurements (the attribute correlation, a
space's unedited scores, its re-scoring matrix, identity descriptors and distances, SeFa and GANSpace directions
and their names) are typed cached properties or per-space caches, so an analysis that needs another's result
simply asks for it: running one analysis alone computes what it needs, in any order. The heavy loops
(`rescoring_matrix`, `compute_baseline`, `unedited_features`, `identity_discrepancy`) are jobs over blocks of
rows that the context's `executor` maps (local threads, worker processes or Ray workers: the same numbers).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import NamedTuple

import numpy as np

from interfacegan.analysis.conditions import check_condition_names
from interfacegan.analysis.correlation import cosine_matrix, pearson_matrix
from interfacegan.analysis.identity import IdentityResult, identity_discrepancy, unedited_features
from interfacegan.analysis.inputs import (
    AnalysisInputs,
    BoundarySet,
    ScorerChoice,
    identity_scorer,
    rescoring_scorers,
    resolve_boundaries,
)
from interfacegan.analysis.settings import AnalysisSettings
from interfacegan.directions.boundary import Boundary
from interfacegan.editing.codes import CodeSource
from interfacegan.execution import Executor
from interfacegan.layers import format_layers, parse_layers
from interfacegan.rescoring.matrix import (
    Baseline,
    Edit,
    RescoringResult,
    compute_baseline,
    order_columns,
    reorder,
    rescoring_matrix,
)
from interfacegan.store import SampleStore

SPACE_NAMES = {"z": "Z", "w": "W", "wp": "W+"}
UNSUPERVISED_KINDS = ("sefa", "ganspace")  # directions found without labels: they have no attribute to measure


def space_name(space: str) -> str:
    """'Z', 'W', 'W+' (the paper's names) for z, w, wp."""
    return SPACE_NAMES.get(space, space)


def boundary_edit(b: Boundary) -> Edit:
    """The re-scoring edit along a boundary's unit normal, shaped like one code of its space."""
    return Edit(b.attribute, b.direction(), b.space, attribute=b.attribute, kind="boundary")


def default_layer_groups(num_layers: int) -> list[str]:
    """The paper's grouping generalised: 0-1, 2-3, 4-5, 6-7, then all remaining layers (for 18: 8-17)."""
    groups = [format_layers(range(s, min(s + 2, num_layers))) for s in range(0, min(8, num_layers), 2)]
    if num_layers > 8:
        groups.append(format_layers(range(8, num_layers)))
    return groups


class Correlation(NamedTuple):
    """Pearson correlation of attribute scores: names (k,), matrix (k, k), rows used per pair (k, k)."""

    names: list[str]
    matrix: np.ndarray
    counts: np.ndarray

    def pair(self, a: str, b: str) -> float:
        """corr(a, b), NaN when either attribute is not in the matrix."""
        if a not in self.names or b not in self.names:
            return math.nan
        return float(self.matrix[self.names.index(a), self.names.index(b)])


class AnalysisContext:
    """The run, model, settings and inputs of one analysis, and everything derived from them (module docstring)."""

    def __init__(self, store: SampleStore, model, settings: AnalysisSettings, inputs: AnalysisInputs,
                 progress: bool = True, executor: Executor | None = None):  # fmt: skip
        self.store, self.model, self.settings, self.inputs, self.progress = store, model, settings, inputs, progress
        self.executor = executor  # runs the blocks of the heavy loops (None: local threads)
        self.reserved_rows: dict[str, int] = {}  # unedited rows per space that the plan will need (baselines)
        self._baselines: dict[str, Baseline] = {}
        self._rescoring: dict[str, RescoringResult] = {}
        self._identity: dict[str, IdentityResult] = {}

    # ---- inputs -------------------------------------------------------------------------------------------
    @cached_property
    def attributes(self) -> list[str]:
        """The attributes analysed (correlated, and boundaries trained for): the given ones, else every score."""
        return list(self.inputs.attributes or self.store.score_names)

    @cached_property
    def training_spaces(self) -> list[str]:
        """Spaces boundaries are trained in: the given ones, else the run's spaces except W+."""
        if self.inputs.spaces:
            return list(self.inputs.spaces)
        return [s for s in self.model.spaces if s in self.store.spaces and s != "wp"]

    @cached_property
    def scorer_choice(self) -> ScorerChoice:
        return rescoring_scorers(self.store, self.inputs.scorers, self.attributes)

    @property
    def scorers(self) -> list:
        """Image scorers that re-score edits (bound to the run)."""
        return self.scorer_choice.scorers

    @property
    def no_scorer(self) -> str:
        """Why edits cannot be re-scored (the skip reason of analyses that need scorers)."""
        return self.scorer_choice.note or "no image scorer to re-score edits (give `scorers`)"

    @cached_property
    def _identity_choice(self) -> tuple:
        return identity_scorer(self.inputs.identity_scorer, self.scorers, self.store)

    @property
    def identity_scorer(self):
        """The scorer of identity descriptors (a vector output), or None (`no_identity` says why)."""
        return self._identity_choice[0]

    @property
    def no_identity(self) -> str:
        return self._identity_choice[1] or "no identity scorer"

    @cached_property
    def boundary_set(self) -> BoundarySet:
        """The boundaries analysed (given, from a folder, or trained here; `inputs.resolve_boundaries`)."""
        found = resolve_boundaries(self.store, self.model, self.inputs.boundaries, self.inputs.boundaries_dir,
                                   self.attributes, self.training_spaces,
                                   bool(self.inputs.attributes or self.inputs.spaces), self.settings.ratio,
                                   self.progress)  # fmt: skip
        check_condition_names(self.settings.conditions, found.boundaries)
        return found

    @property
    def boundaries(self) -> list[Boundary]:
        return self.boundary_set.boundaries

    @property
    def boundaries_resolved(self) -> bool:
        """True once `boundary_set` was computed (an analysis or the plan needed boundaries)."""
        return "boundary_set" in self.__dict__  # where functools.cached_property keeps its value

    def supervised(self, space: str | None = None) -> list[Boundary]:
        """Boundaries with a meaning (not SeFa or GANSpace directions), all or of one space."""
        return [b for b in self.boundaries
                if b.kind not in UNSUPERVISED_KINDS and (space is None or b.space == space)]  # fmt: skip

    @cached_property
    def spaces(self) -> list[str]:
        """Spaces that hold at least one supervised boundary, in the model's order."""
        present = {b.space for b in self.supervised()}
        return [s for s in self.model.spaces if s in present]

    @property
    def no_boundaries(self) -> str:
        return "no boundaries: give `boundaries` files, or a run with attribute scores to train them on"

    # ---- codes and unedited scores ------------------------------------------------------------------------
    def rows(self, num: int) -> int:
        """M: `num` capped at the run's size (rows [0, M) of the run are used)."""
        return min(int(num), self.store.num)

    def source(self, space: str, num: int) -> CodeSource:
        return CodeSource(self.store, self.model, space, num, block_rows=self.settings.block_rows)

    def baseline(self, space: str, num: int) -> Baseline:
        """Unedited scores of rows [0, num) in `space`, computed once per space for the most rows anyone needs."""
        num = self.rows(num)
        cached = self._baselines.get(space)
        if cached is None or cached.num < num:
            rows = self.rows(max(num, self.reserved_rows.get(space, 0)))
            cached = compute_baseline(self.model, self.source(space, rows), self.scorers, self.settings.batch_size,
                                      self.progress, self.executor)  # fmt: skip
            self._baselines[space] = cached
        return Baseline(space, {k: v[:num] for k, v in cached.scores.items()})

    # ---- measurements -------------------------------------------------------------------------------------
    @cached_property
    def attribute_correlation(self) -> Correlation:
        """Pearson correlation of the attributes' scores over all rows of the run (paper Tab. 1a)."""
        if not self.attributes:
            return Correlation([], np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64))
        return Correlation(*pearson_matrix(self.store.scores(self.attributes)))

    def boundary_cosines(self, space: str) -> tuple[list[str], np.ndarray]:
        """(attributes, cosine matrix) of the supervised boundaries of `space`."""
        bs = self.supervised(space)
        return [b.attribute for b in bs], cosine_matrix(np.stack([b.normal for b in bs]))

    def rescore_edits(self, space: str, edits: list[Edit], description: str, num: int | None = None,
                      alpha: float | None = None) -> RescoringResult:  # fmt: skip
        """Re-score `edits` of `space` codes on rows [0, num) (default num_rescore) by `alpha` (default the
        settings'): THE call every analysis makes (`rescoring_matrix` streams blocks of rows)."""
        m = self.settings.num_rescore if num is None else num
        return rescoring_matrix(self.model, self.source(space, m), self.baseline(space, m), edits,
                                self.settings.alpha if alpha is None else alpha, self.scorers,
                                self.settings.batch_size, self.progress, description=description,
                                executor=self.executor)  # fmt: skip

    def rescoring(self, space: str) -> RescoringResult:
        """The re-scoring matrix of the boundaries of `space` (M = num_rescore), columns led by their attributes."""
        if space not in self._rescoring:
            bs = self.supervised(space)
            result = self.rescore_edits(space, [boundary_edit(b) for b in bs], f"re-scoring ({space_name(space)})")
            self._rescoring[space] = reorder(result, order_columns(result.attributes, [b.attribute for b in bs]))
        return self._rescoring[space]

    def rescoring_work(self, space: str) -> dict[str, tuple[int, int]]:
        """The shared work of `rescoring(space)`, for plans."""
        return {f"re-scoring {space}": (self.rows(self.settings.num_rescore) * len(self.supervised(space)), 0)}

    @cached_property
    def identity_before(self) -> np.ndarray:
        """Identity descriptors (M, k) of the unedited rows [0, num_identity): the same images in every space."""
        source = self.source(self.spaces[0] if self.spaces else "z", self.settings.num_identity)
        return unedited_features(self.store, source, self.identity_scorer, self.settings.batch_size, self.executor,
                                 self.progress)  # fmt: skip

    @property
    def identity_before_work(self) -> dict[str, tuple[int, int]]:
        from interfacegan.analysis.identity import has_stored_features

        stored = has_stored_features(self.store, self.identity_scorer)
        return {"identity descriptors (unedited)": (0, 0 if stored else self.rows(self.settings.num_identity))}

    def identity(self, space: str) -> IdentityResult:
        """Identity distances of the boundary edits of `space` at `settings.identity_alphas`."""
        if space not in self._identity:
            self._identity[space] = self.identity_distances(space, [boundary_edit(b) for b in self.supervised(space)],
                                                            self.settings.identity_alphas)  # fmt: skip
        return self._identity[space]

    def identity_work(self, space: str) -> dict[str, tuple[int, int]]:
        images = self.rows(self.settings.num_identity) * len(self.supervised(space))
        return {f"identity {space}": (0, images * len(self.settings.identity_alphas))}

    def identity_distances(self, space: str, edits: list[Edit], alphas: list[float]) -> IdentityResult:
        """Identity distances of any `edits` of `space` codes, against `identity_before`."""
        return identity_discrepancy(self.model, self.source(space, self.settings.num_identity), self.identity_before,
                                    edits, alphas, self.identity_scorer, self.settings.batch_size,
                                    self.progress, self.executor)  # fmt: skip

    # ---- layers and SeFa ----------------------------------------------------------------------------------
    @property
    def has_layers(self) -> bool:
        """True when layer-wise edits apply: a model with W+ and supervised boundaries in W."""
        return "wp" in self.model.spaces and bool(self.model.num_ws) and bool(self.supervised("w"))

    @cached_property
    def layer_groups(self) -> list[str]:
        """W+ layer selections of the layer-wise analyses (settings, else `default_layer_groups`)."""
        n = int(self.model.num_ws)
        groups = self.settings.layer_groups or default_layer_groups(n)
        return [format_layers(parse_layers(g, n)) for g in groups]

    def layer_edits(self) -> list[Edit]:
        """Each W boundary applied to all W+ layers, then to each layer group (rows boundary-major)."""
        return [Edit(f"{b.attribute} @ {g}", b.normal, "wp", attribute=b.attribute, layers=g, kind="layers")
                for b in self.supervised("w") for g in ["all", *self.layer_groups]]  # fmt: skip

    # ---- SeFa and GANSpace (the SeFa paper's comparisons) ----------------------------------------------------
    @property
    def method_layers(self) -> str | None:
        """W+ layers the unsupervised directions edit (sefa_layers on models with W+), else None (whole codes)."""
        return self.settings.sefa_layers if self.settings.sefa_layers and "wp" in self.model.spaces else None

    @cached_property
    def sefa_directions(self) -> list[Boundary]:
        """The top sefa_k SeFa directions of the model (its first affine; sefa_layers), in its affine space."""
        from interfacegan.directions.sefa import sefa_boundaries

        return sefa_boundaries(self.model, k=self.top_k(self.settings.sefa_k), layers=self.settings.sefa_layers)

    @cached_property
    def ganspace_directions(self) -> list[Boundary]:
        """The top sefa_k GANSpace directions (PCA of ganspace_num samples) in the space SeFa's live in, editing
        the same W+ layers; fitted on first use (seconds to a minute: by the plan of the comparison, which counts
        the distinct matched directions it will re-score)."""
        from interfacegan.directions.ganspace import ganspace_boundaries

        return ganspace_boundaries(self.model, k=self.top_k(self.settings.sefa_k), num=self.settings.ganspace_num,
                                   space=self.model.affine_space, layers=self.method_layers,
                                   progress=self.progress)  # fmt: skip

    def top_k(self, k: int) -> int:
        """`k` directions, or fewer when the model's affine space has fewer dimensions (SeFa, GANSpace, levels)."""
        return min(k, math.prod(self.model.space_shape(self.model.affine_space)))

    def method_directions(self, method: str) -> list[Boundary]:
        """The top-k directions of an unsupervised method: 'sefa' or 'ganspace'."""
        return getattr(self, f"{method}_directions")

    def method_matches(self, method: str) -> list:
        """The best match of each supervised boundary of the affine space among `method`'s top-k directions."""
        from interfacegan.analysis.sefa_match import match_directions

        return match_directions(self.supervised(self.model.affine_space), self.method_directions(method))

    @cached_property
    def method_names(self) -> dict[str, list]:
        """Each method's top-k directions named by re-scoring (`name_directions`)."""
        methods = {m: self.method_directions(m) for m in UNSUPERVISED_KINDS}
        names = self.name_directions([d for ds in methods.values() for d in ds])
        out, start = {}, 0
        for method, directions in methods.items():
            out[method], start = names[start : start + len(directions)], start + len(directions)
        return out

    def name_directions(self, directions: list[Boundary]) -> list:
        """`directions` named by re-scoring with the context's scorers (`rescoring.naming`: its fixed samples and
        rule), the samples mapped with the run's truncation, re-scored on the context's executor."""
        from interfacegan.rescoring.naming import name_directions

        truncation = self.store.truncation if self.store.truncation.active else None
        return name_directions(self.model, directions, self.scorers, batch_size=self.settings.batch_size,
                               progress=self.progress, truncation=truncation, executor=self.executor)  # fmt: skip
