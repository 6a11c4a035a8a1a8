"""`analyze_run`: every measurement of the paper on one sampled and scored run, written as CSV files, PNG plots
and one HTML report (what `interfacegan analyze` and the demo run).

It reads top to bottom: check the request and the output folder, load the model (nothing heavy, nothing written);
make the plan (boundaries resolved, each analysis' work counted, per-image costs measured) and hand it to
`on_plan`; then run each analysis that applies (registry order) and write the report and OUT/analysis.json, all
into a stage that moves into OUT only when everything succeeded. Boundaries are the given ones, those of a
`train-boundary` folder (given, or found beside the run), or trained here (saved under OUT/boundaries/); see
`analysis.inputs`. An analysis that does not apply is skipped with its reason, in the report and the result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Sequence

from interfacegan.analysis.context import AnalysisContext
from interfacegan.analysis.inputs import AUTO, AnalysisInputs
from interfacegan.analysis.outputs import AnalysisResult, SectionWriter
from interfacegan.analysis.plan import AnalysisPlan, make_plan
from interfacegan.analysis.registry import ANALYSES, get_analyses
from interfacegan.analysis.report import Section, build_report, overview
from interfacegan.analysis.settings import DEFAULT_SWEEP, QUICK, AnalysisSettings
from interfacegan.atomic import check_output, staged_dir, write_text_atomic
from interfacegan.directions.boundary import Boundary
from interfacegan.directions.ganspace import GANSPACE_NUM
from interfacegan.editing.codes import DEFAULT_BLOCK_ROWS
from interfacegan.errors import InterfaceGANError
from interfacegan.execution import Executor, executor_in_use
from interfacegan.store import SAMPLE_TASK, SampleStore

__all__ = ["ANALYSES", "QUICK", "AnalysisResult", "AnalysisSettings", "analyze_run", "prepare_analysis"]


def analyze_run(
    run: str | Path | SampleStore,
    out: str | Path,
    analyses: Sequence[str] | None = None,
    boundaries: Sequence[str | Path | Boundary] | None = None,
    boundaries_dir: str | Path | None = AUTO,
    attributes: Sequence[str] | None = None,
    spaces: Sequence[str] | None = None,
    model=None,
    scorers: Sequence | None = None,
    identity_scorer=AUTO,
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
    ganspace_num: int = GANSPACE_NUM,
    sefa_levels: Sequence[str] | None = None,
    level_k: int = 5,
    ratio: float = 0.02,
    batch_size: int = 128,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    device=None,
    progress: bool = True,
    report: bool = True,
    estimate: bool = True,
    on_plan: Callable[[AnalysisPlan], None] | None = None,
    plan_only: bool = False,
    executor: Executor | str | None = "local",
) -> AnalysisResult:
    """Run the chosen `analyses` (default: every registered one that applies) on the run at `run`; write to `out`.

    boundaries: boundary files/folders/objects to analyse; else boundaries_dir: a folder written by train-boundary
        ('auto': `RUN-boundaries/` beside the run when it exists; None: never look); else one boundary is trained
        per attribute (default: every score of the run) and space (default: the run's spaces except W+) with
        `ratio` (top/bottom share, as `BoundaryTrainer`). With a folder, attributes/spaces named explicitly that it
        lacks are trained. The report's settings say which boundaries were used and, for trained ones, the ratio
        and sample counts.
    model: overrides the run's model spec. scorers: the scorers that re-score edits (any spec); by default the
        run's scorers when they are built-in (`inputs.RUN_SCORERS`): nothing else a run names is ever loaded.
    identity_scorer: 'auto' (dlib identity for face scorers), a scorer spec with a vector output, or None.
    real_scores: CSV (or run) of real-data attribute scores for the real-data correlation (paper Tab. 1a).
    num_rescore: M codes edited for re-scoring, layer-wise and SeFa matrices; num_identity: M for identity
        descriptors (expensive); num_distance: M for the alpha sweep. Rows [0, M) of the run are used.
    alpha: edit amount for the matrices (x + alpha n, n unit); sweep: alphas of the distance effect.
    conditions: 'auto' (each boundary conditioned on the other boundary with the largest |cosine| if it is at least
        `condition_threshold`), 'none', or a list of items 'PRIMAL|COND[,COND...]' (and 'auto' to add those too).
    layer_groups: W+ layer selections for layer-wise analyses (default pairs 0-1, 2-3, 4-5, 6-7, then the rest).
    sefa_k, sefa_layers: the top k SeFa and GANSpace directions boundaries are matched among, and SeFa's style
        layers (GANSpace edits the same W+ layers); ganspace_num: samples of GANSpace's PCA.
    sefa_levels, level_k: W+ layer groups of SeFa's per-level study (default the SeFa paper's bottom 0-1, middle
        2-5, top 6-end) and the directions factorized per level.
    estimate: measure per-image costs for the plan's time estimate. on_plan(plan): called with the plan before
        any heavy work (the CLI prints it). plan_only: return after planning, writing nothing.
    executor: the engine that runs the blocks of re-scoring, unedited scores and identity distances: an Executor
        or a registered name ('local' threads, 'processes', 'ray'; `execution.load_executor`); the results are
        the same on every engine. One built here from a name is closed at the end.
    `out` is checked first (`atomic.check_output`), and every file is written into a hidden stage that moves into
    `out` only when all succeeded (`atomic.staged_dir`): a refusal or a crash leaves `out` as it was. Into an
    existing folder the files move one by one, replacing those of the same name and keeping the others.
    Returns an AnalysisResult (paths written, tables, report path, skipped analyses with reasons, seconds, plan).
    """
    started = time.perf_counter()
    out = check_output(out, "dir")
    settings = AnalysisSettings(
        num_rescore=num_rescore, num_identity=num_identity, num_distance=num_distance, alpha=float(alpha),
        sweep=tuple(float(a) for a in sweep),
        conditions=(conditions,) if isinstance(conditions, str) else tuple(conditions),
        condition_threshold=condition_threshold, layer_groups=tuple(layer_groups) if layer_groups else None,
        sefa_k=sefa_k, sefa_layers=sefa_layers, ganspace_num=ganspace_num,
        sefa_levels=tuple(sefa_levels) if sefa_levels else None, level_k=level_k, ratio=ratio, batch_size=batch_size,
        block_rows=block_rows,
    )  # fmt: skip
    inputs = AnalysisInputs(boundaries or None, boundaries_dir, attributes, spaces, scorers, identity_scorer,
                            real_scores)  # fmt: skip
    wanted = get_analyses(analyses)
    with executor_in_use(executor) as engine:
        ctx = prepare_analysis(run, settings, inputs, model, device, progress, engine)
        result = AnalysisResult(out=out)
        result.plan = plan = make_plan(ctx, wanted, estimate=estimate)
        result.skipped = {a.name: a.skipped for a in plan.analyses if a.work is None}
        if on_plan is not None:
            on_plan(plan)
        if plan_only:
            return result
        with staged_dir(out) as stage:  # every output, or none: a refusal or a crash midway leaves `out` as it was
            _write_outputs(ctx, wanted, stage, result, report, started)
        result.relocate(stage, out)
        return result


def _write_outputs(ctx: AnalysisContext, wanted: list, stage: Path, result: AnalysisResult, report: bool,
                   started: float) -> None:  # fmt: skip
    """Run each analysis that applies and write its files, the report and analysis.json into `stage`."""
    if ctx.boundaries_resolved:  # while planning (perhaps trained, in memory): save what was trained
        result.boundaries = ctx.boundaries
        result.files += ctx.boundary_set.save_trained(stage / "boundaries")
    result.seconds["planning"] = time.perf_counter() - started
    for analysis in wanted:
        if analysis.name in result.skipped:
            continue
        section = Section(analysis.name, analysis.title, analysis.intro)
        result.sections.append(section)
        t0 = time.perf_counter()
        analysis.run(ctx, SectionWriter(section, stage, result))
        result.seconds[analysis.name] = time.perf_counter() - t0
    result.seconds["total"] = time.perf_counter() - started
    result.settings = overview(ctx, result.plan, result.seconds)
    if report:
        html = build_report("InterFaceGAN analysis", result.settings, result.sections, result.skipped)
        result.report = html.save(stage / "report.html")
        result.files.append(result.report)
    _write_summary(ctx, result, [a.name for a in wanted], stage)


def prepare_analysis(run, settings: AnalysisSettings, inputs: AnalysisInputs, model=None, device=None,
                     progress: bool = True, executor: Executor | None = None) -> AnalysisContext:  # fmt: skip
    """Check the request against the run and load the model: one-line errors before any work or any file."""
    from interfacegan.analysis.steps.sefa_levels import levels
    from interfacegan.directions.sefa import check_layers
    from interfacegan.models import load_model

    settings.check()
    store = run if isinstance(run, SampleStore) else SampleStore.open(run, mode="r")
    if not store.is_complete(SAMPLE_TASK):
        raise InterfaceGANError(f"{store.path} is not completely sampled: finish `interfacegan sample` first")
    if model is None or isinstance(model, str):
        spec = model or store.meta.get("model")
        if not spec or spec == "unknown":
            raise InterfaceGANError(f"{store.path} does not name its model: give `model` (a model spec)")
        model = load_model(spec, device=device)
    check_layers(model, settings.sefa_layers, name="sefa_layers")
    ctx = AnalysisContext(store, model, settings, inputs, progress, executor)
    if settings.layer_groups and "wp" in model.spaces and model.num_ws:
        ctx.layer_groups  # parsed now, as the layer-wise analyses read them: one-line errors before any work
    if settings.sefa_levels:
        levels(model, settings.sefa_levels)  # one-line errors for groups the model cannot take, before any work
    missing = [a for a in inputs.attributes or () if a not in store.score_names]
    if missing:
        raise InterfaceGANError(f"{store.path} has no scores {missing}: score the run first, or drop them from "
                                "`attributes`")  # fmt: skip
    for s in inputs.spaces or ():
        model.check_space(s)
        if s not in store.spaces:
            raise InterfaceGANError(f"{store.path} has no {s!r} codes to train on: sample the run with space {s!r}")
    return ctx


def _write_summary(ctx: AnalysisContext, result: AnalysisResult, wanted: list[str], stage: Path) -> None:
    """OUT/analysis.json: settings, plan, boundaries, files, skipped analyses and timings, for scripts."""
    summary = {
        "run": str(ctx.store.path),
        "model": ctx.model.spec or ctx.model.name,
        "analyses": wanted,
        "settings": dict(ctx.settings.__dict__),
        "plan": result.plan.as_dict() if result.plan else None,
        "boundaries": [{"attribute": b.attribute, "space": b.space, "kind": b.kind} for b in result.boundaries],
        "boundary_source": result.plan.boundaries if result.plan else None,
        "files": [str(p.relative_to(stage)) for p in result.files],
        "skipped": result.skipped,
        "seconds": result.seconds,
        **result.summary,
    }
    path = write_text_atomic(stage / "analysis.json", json.dumps(summary, indent=2, default=str) + "\n")
    result.files.append(path)
