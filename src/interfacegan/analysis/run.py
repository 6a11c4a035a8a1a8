"""`analyze_run`: every measurement of the paper on one sampled and scored run, written as CSV files, PNG plots
and one HTML report (what `interfacegan analyze` and the demo run).

Boundaries are the ones given, or trained here on the run for each attribute and latent space (saved under
OUT/boundaries/). Each analysis is skipped with a stated reason when it does not apply (e.g. layer-wise
re-scoring on a model without W+, identity without an identity scorer); the reasons are in the report and in
the result. M (samples edited) is explicit per analysis; all work streams in blocks with optional progress bars.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from interfacegan.editing.codes import DEFAULT_BLOCK_ROWS, CodeSource
from interfacegan.analysis.distance import DEFAULT_SWEEP
from interfacegan.analysis.report import Section, build_report
from interfacegan.rescoring.matrix import Baseline, compute_baseline
from interfacegan.analysis.tables import Table
from interfacegan.atomic import write_text_atomic
from interfacegan.directions.boundary import Boundary
from interfacegan.directions.files import load_direction
from interfacegan.editing.plan import check_fits
from interfacegan.errors import InterfaceGANError
from interfacegan.store import SAMPLE_TASK, SampleStore

# Sample counts for demos and smoke runs: about a minute for 5 attributes of the embedded GAN on 2 CPU cores
# (the defaults, M = 2,000 / 16 / 100, take a few minutes). Use as analyze_run(run, out, **QUICK).
QUICK = {"num_rescore": 300, "num_identity": 6, "num_distance": 50}

ANALYSES = ("separability", "correlation", "boundaries", "rescore", "layers", "identity", "distance", "sefa")


@dataclass
class AnalysisSettings:
    """What to measure and on how many samples (see `analyze_run` for the meaning of each field)."""

    num_rescore: int = 2000
    num_identity: int = 16
    num_distance: int = 100
    alpha: float = 2.0
    sweep: tuple[float, ...] = DEFAULT_SWEEP
    conditions: tuple[str, ...] = ("auto",)  # items 'auto', 'none' or 'PRIMAL|COND[,COND...]
    condition_threshold: float = 0.3
    layer_groups: tuple[str, ...] | None = None
    sefa_k: int = 10
    sefa_layers: str | None = None
    ratio: float = 0.02
    batch_size: int = 128
    block_rows: int = DEFAULT_BLOCK_ROWS

    def check(self) -> None:
        for name in ("num_rescore", "num_identity", "num_distance", "sefa_k", "batch_size", "block_rows"):
            if getattr(self, name) < 1:
                raise InterfaceGANError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.alpha == 0:
            raise InterfaceGANError("alpha must not be 0: re-scoring measures the effect of a non-zero edit")
        if not self.sweep or any(a == 0 for a in self.sweep):
            raise InterfaceGANError("the distance sweep needs non-zero alphas, e.g. -3,-2,-1,1,2,3")
        if not 0 <= self.condition_threshold <= 1:
            raise InterfaceGANError(f"condition threshold must be in [0, 1], got {self.condition_threshold}")


@dataclass
class AnalysisResult:
    """What `analyze_run` wrote: files, tables by name, the report, skipped analyses and seconds per analysis."""

    out: Path
    files: list[Path] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    report: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    boundaries: list[Boundary] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)  # the report's sections, for reports that embed them


class Context:
    """Shared state of one analysis run: inputs, outputs written so far, cached unedited scores."""

    def __init__(self, store, model, out, scorers, identity_scorer, boundaries, settings, progress, real_scores):
        self.store: SampleStore = store
        self.model = model
        self.out: Path = out
        self.scorers = scorers
        self.identity_scorer = identity_scorer
        self.boundaries: list[Boundary] = boundaries
        self.settings: AnalysisSettings = settings
        self.progress = progress
        self.real_scores = real_scores
        self.result = AnalysisResult(out=out, boundaries=boundaries)
        self.sections: list[Section] = []
        self._baselines: dict[str, Baseline] = {}
        self.cache: dict = {}

    # ---- boundaries ---------------------------------------------------------------------------------------
    def spaces(self) -> list[str]:
        """Spaces that hold at least one boundary, in the model's order."""
        present = {b.space for b in self.boundaries}
        return [s for s in self.model.spaces if s in present]

    # ---- codes and unedited scores ------------------------------------------------------------------------
    def source(self, space: str, num: int) -> CodeSource:
        return CodeSource(self.store, self.model, space, num, block_rows=self.settings.block_rows)

    def baseline(self, space: str, num: int) -> Baseline:
        """Unedited scores of the first `num` rows in `space`, computed once per space for the largest num."""
        cached = self._baselines.get(space)
        num = min(num, self.store.num)
        if cached is None or cached.num < num:
            cached = compute_baseline(self.model, self.source(space, num), self.scorers, self.settings.batch_size,
                                      self.progress)  # fmt: skip
            self._baselines[space] = cached
        return Baseline(space, {k: v[:num] for k, v in cached.scores.items()})

    # ---- outputs ------------------------------------------------------------------------------------------
    def section(self, key: str, title: str, intro: str = "") -> Section:
        section = Section(key, title, intro)
        self.sections.append(section)
        return section

    def table(self, section: Section, table: Table) -> Table:
        self.result.files.append(table.write_csv(self.out))
        self.result.tables[table.name] = table
        section.table(table)
        return table

    def plot(self, section: Section, fig, stem: str, caption: str) -> Path:
        from interfacegan.analysis.plots import save

        path = save(fig, self.out / f"{stem}.png")
        self.result.files.append(path)
        section.image(path, caption)
        return path


# ==== inputs ====================================================================================================


def _load_scorers(store: SampleStore, scorers, attributes: Sequence[str]) -> tuple[list, list[str]]:
    """Scorer instances for re-scoring: the given ones, or those that produced the run's scores."""
    from interfacegan.scoring import load_scorer

    notes = []
    if scorers is not None:
        return [load_scorer(s) for s in scorers], notes
    names = []
    for attribute in attributes:
        name = store.score_info(attribute).get("scorer")
        if name and name not in names:
            names.append(name)
    loaded = []
    for name in names:
        try:
            scorer = load_scorer(name)
        except InterfaceGANError as exc:
            notes.append(f"scorer {name!r} of the run cannot be loaded again ({exc}); pass --scorer")
            continue
        if getattr(scorer, "needs_images", True) and scorer.attributes:
            loaded.append(scorer)
        else:
            notes.append(f"scorer {name!r} does not read images (labels): it cannot re-score edits")
    return loaded, notes


def _identity_scorer(spec, scorers):
    from interfacegan.scoring import load_scorer

    if spec is None:
        return None, "no identity scorer given (pass --identity-scorer identity)"
    if spec == "auto":
        if any(getattr(s, "name", "") == "face" for s in scorers):
            return load_scorer("identity"), ""
        return None, "identity needs a face-identity scorer: the run's scorers are not face scorers (pass --identity-scorer)"
    return load_scorer(spec), ""


def _boundaries(store, model, out: Path, given, attributes, spaces, ratio, progress) -> list[Boundary]:
    """The given boundaries (paths or objects), or one trained here per attribute and space (saved to OUT)."""
    if given:
        loaded = []
        for item in given:
            b = item if isinstance(item, Boundary) else load_direction(item, model=model)
            check_fits(model, b)  # the model it was made for, its space and dimension, as `edit` checks
            loaded.append(b)
        return loaded
    from interfacegan.learning import train_boundaries

    return train_boundaries(store, attributes, spaces, out / "boundaries", progress=progress, ratio=ratio)


# ==== entry point ===============================================================================================


def analyze_run(
    run: str | Path | SampleStore,
    out: str | Path,
    analyses: Sequence[str] | None = None,
    boundaries: Sequence[str | Path | Boundary] | None = None,
    attributes: Sequence[str] | None = None,
    spaces: Sequence[str] | None = None,
    model=None,
    scorers: Sequence | None = None,
    identity_scorer="auto",
    real_scores: str | Path | dict | None = None,
    num_rescore: int = 2000,
    num_identity: int = 16,
    num_distance: int = 100,
    alpha: float = 2.0,
    sweep: Sequence[float] = DEFAULT_SWEEP,
    conditions: str | Sequence[str] = "auto",
    condition_threshold: float = 0.3,
    layer_groups: Sequence[str] | None = None,
    sefa_k: int = 10,
    sefa_layers: str | None = None,
    ratio: float = 0.02,
    batch_size: int = 128,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    device=None,
    progress: bool = True,
    report: bool = True,
) -> AnalysisResult:
    """Run the chosen `analyses` (default: all of ANALYSES that apply) on the run at `run`; write to `out`.

    boundaries: boundary files/objects to analyse; None trains one per attribute (default: every score of the run)
        and space (default: the run's spaces except W+) with `ratio` (top/bottom share, as `BoundaryTrainer`).
    model / scorers: override the run's model spec and the scorers that produced its scores.
    identity_scorer: 'auto' (dlib identity for face scorers), a scorer spec with a vector output, or None.
    real_scores: CSV (or run) of real-data attribute scores for the real-data correlation (paper Tab. 1a).
    num_rescore: M codes edited for re-scoring, layer-wise and SeFa matrices; num_identity: M for identity
        descriptors (expensive); num_distance: M for the alpha sweep. Rows [0, M) of the run are used.
    alpha: edit amount for the matrices (x + alpha n, n unit); sweep: alphas of the distance effect.
    conditions: 'auto' (each boundary conditioned on the other boundary with the largest |cosine| if it is at least
        `condition_threshold`), 'none', or a list of items 'PRIMAL|COND[,COND...]' (and 'auto' to add those too).
    layer_groups: W+ layer selections for layer-wise analyses (default pairs 0-1, 2-3, 4-5, 6-7, then the rest).
    sefa_k, sefa_layers: SeFa directions to match (top k of the model's first affine; style layers).
    Returns an AnalysisResult (paths written, tables, report path, skipped analyses with reasons, seconds).
    """
    from interfacegan.analysis import steps
    from interfacegan.models import load_model

    started = time.perf_counter()
    settings = AnalysisSettings(
        num_rescore=num_rescore, num_identity=num_identity, num_distance=num_distance, alpha=float(alpha),
        sweep=tuple(float(a) for a in sweep),
        conditions=(conditions,) if isinstance(conditions, str) else tuple(conditions),
        condition_threshold=condition_threshold, layer_groups=tuple(layer_groups) if layer_groups else None,
        sefa_k=sefa_k, sefa_layers=sefa_layers, ratio=ratio, batch_size=batch_size, block_rows=block_rows,
    )  # fmt: skip
    settings.check()
    wanted = list(ANALYSES if not analyses else analyses)
    unknown = [a for a in wanted if a not in ANALYSES]
    if unknown:
        raise InterfaceGANError(f"unknown analysis {unknown[0]!r}: choose from {', '.join(ANALYSES)}")
    store = run if isinstance(run, SampleStore) else SampleStore.open(run, mode="r")
    if not store.is_complete(SAMPLE_TASK):
        raise InterfaceGANError(f"{store.path} is not completely sampled: finish `interfacegan sample` first")
    if model is None or isinstance(model, str):
        spec = model or store.meta.get("model")
        if not spec or spec == "unknown":
            raise InterfaceGANError(f"{store.path} does not name its model: pass --model SPEC")
        model = load_model(spec, device=device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    score_names = store.score_names
    if attributes is None:
        attributes = score_names
    missing = [a for a in attributes if a not in score_names]
    if missing:
        raise InterfaceGANError(f"{store.path} has no scores {missing}: score the run first, or drop them from --attribute")
    if spaces is None:
        spaces = [s for s in model.spaces if s in store.spaces and s != "wp"]
    for s in spaces:
        model.check_space(s)
        if s not in store.spaces:
            raise InterfaceGANError(f"{store.path} has no {s!r} codes to train on: sample with --space {s}")

    scorer_list, scorer_notes = _load_scorers(store, scorers, attributes)
    identity, identity_reason = _identity_scorer(identity_scorer, scorer_list)
    needs_boundaries = any(a != "correlation" for a in wanted)
    t0 = time.perf_counter()
    boundary_list = (
        _boundaries(store, model, out, boundaries, list(attributes), list(spaces), settings.ratio, progress)
        if needs_boundaries and (boundaries or attributes)
        else []
    )
    _check_conditions(settings.conditions, boundary_list)
    ctx = Context(store, model, out, scorer_list, identity, boundary_list, settings, progress, real_scores)
    ctx.result.seconds["boundaries (training)"] = time.perf_counter() - t0 if not boundaries else 0.0
    ctx.cache["scorer_notes"] = scorer_notes
    ctx.cache["identity_reason"] = identity_reason
    ctx.cache["attributes"] = list(attributes)
    ctx.result.files.extend(sorted((out / "boundaries").glob("*.npz")) if not boundaries else [])

    for name in ANALYSES:
        if name not in wanted:
            continue
        reason = steps.not_applicable(ctx, name)
        if reason:
            ctx.result.skipped[name] = reason
            continue
        t0 = time.perf_counter()
        getattr(steps, f"run_{name}")(ctx)
        ctx.result.seconds[name] = time.perf_counter() - t0

    ctx.result.seconds["total"] = time.perf_counter() - started
    ctx.result.sections = ctx.sections
    if report:
        html = build_report("InterFaceGAN analysis", steps.overview(ctx), ctx.sections, ctx.result.skipped)
        ctx.result.report = html.save(out / "report.html")
        ctx.result.files.append(ctx.result.report)
    _write_summary(ctx, wanted)
    return ctx.result


def _check_conditions(conditions, boundaries: list[Boundary]) -> None:
    """Explicit conditions must name attributes that have boundaries (a typo would silently do nothing)."""
    from interfacegan.analysis.steps import parse_condition

    names = {b.attribute for b in boundaries}
    for item in conditions:
        if item in ("auto", "none", ""):
            continue
        primal, conds = parse_condition(item)
        unknown = [a for a in (primal, *conds) if a not in names]
        if unknown and names:
            raise InterfaceGANError(
                f"condition {item!r} names {', '.join(unknown)} without a boundary: use {', '.join(sorted(names))}"
            )


def _write_summary(ctx: Context, wanted: list[str]) -> None:
    """OUT/analysis.json: settings, files, skipped analyses and timings, for scripts."""
    settings = dict(ctx.settings.__dict__)
    summary = {
        "run": str(ctx.store.path),
        "model": ctx.model.spec or ctx.model.name,
        "analyses": wanted,
        "settings": settings,
        "boundaries": [{"attribute": b.attribute, "space": b.space, "kind": b.kind} for b in ctx.boundaries],
        "files": [str(p.relative_to(ctx.out)) for p in ctx.result.files],
        "skipped": ctx.result.skipped,
        "seconds": ctx.result.seconds,
        **ctx.result.summary,
    }
    path = write_text_atomic(ctx.out / "analysis.json", json.dumps(summary, indent=2, default=str) + "\n")
    ctx.result.files.append(path)
