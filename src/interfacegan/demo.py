"""The whole pipeline on the embedded face GAN, top to bottom, ending in one HTML report (`make demo`).

sample -> score (face) -> one SVM boundary per attribute -> edits -> conditional edits -> SeFa (named by
re-scoring) -> the paper's analyses -> report.html. Every step writes under OUT/ and a second run resumes:
sampling and scoring continue where they stopped, later steps are cheap and simply redone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from interfacegan import DEFAULT_MODEL
from interfacegan.analysis import QUICK, analyze_run
from interfacegan.analysis.report import add_sections
from interfacegan.directions.boundary import Boundary
from interfacegan.editing.codes import SampledCodes
from interfacegan.editing.run import EditRequest, edit_codes, edit_run, save_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.learning import train_boundaries
from interfacegan.models import load_model
from interfacegan.progress import ProgressOption
from interfacegan.report import Report, plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION
from interfacegan.rescoring.naming import NAMING_ALPHA, NAMING_NUM, NAMING_RULE, name_directions
from interfacegan.sampling import sample_to_store
from interfacegan.scoring import load_scorer
from interfacegan.scoring.run import score_store
from interfacegan.directions.sefa import sefa_boundaries
from interfacegan.threads import limit_threads

logger = logging.getLogger(__name__)

# (edited attribute, attributes kept fixed): eyeglasses by frame edges also brightens faces (normals' cosine ~0.7,
# conditioning removes it), and smile closes the eyes (cosine -0.63). The contrast-normalised `eyeglasses` needs no
# condition: its normal is orthogonal to brightness already.
DEMO_CONDITIONS = (("eyeglasses_edges", ("brightness",)), ("smile", ("eye_open",)))
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
    limit_threads()
    out = Path(out)
    steps = _Steps(on_step)
    model = load_model(DEFAULT_MODEL, device=settings.device)
    scorer = load_scorer("face")

    store = steps.run(f"sampling {settings.num} faces", sample_to_store, model, out / "run", num=settings.num,
                      seed=settings.seed, progress=progress)  # fmt: skip
    steps.run("scoring them (dlib landmarks)", score_store, store, scorer, model=model, progress=progress,
              overwrite=_scored_by_another_version(store, scorer))  # fmt: skip
    boundaries = steps.run("training one SVM boundary per attribute", _train_boundaries, store, scorer.attributes,
                           settings, out / "boundaries")  # fmt: skip
    edits = steps.run("editing along each boundary", _edit_all, model, store, boundaries, settings, out / "edits")
    conditional = steps.run("conditional edits", _edit_conditional, model, store, boundaries, settings, out / "edits")
    sefa = steps.run("SeFa directions, named by re-scoring", _sefa, model, scorer, settings, out / "sefa", progress)
    conditions = [f"{a}|{','.join(c)}" for a, c in DEMO_CONDITIONS] + ["auto"]
    analysis = steps.run("the paper's analyses", analyze_run, store, out / "analysis", boundaries=boundaries,
                         model=model, scorers=[scorer], conditions=conditions, ratio=settings.ratio,
                         device=settings.device, progress=progress, estimate=False,
                         on_plan=lambda plan: logger.info("%s", plan.text()), **settings.analysis)  # fmt: skip
    report = _report(settings, boundaries, edits, conditional, sefa, analysis, steps.seconds)
    path = report.save(out / "report.html")
    logger.info("demo done in %.1f min: %s", sum(s for _, s in steps.seconds) / 60, path)
    return path


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


def _edit_conditional(model, store, boundaries, settings: DemoSettings, out: Path) -> list[tuple[str, Path, Path, float]]:
    """(label, plain grid, conditional grid, cosine of the conditional direction with the plain one)."""
    by_name = {b.attribute: b for b in boundaries}
    rows = np.arange(settings.edit_rows)
    shown = []
    for attribute, kept in DEMO_CONDITIONS:
        if attribute not in by_name or any(k not in by_name for k in kept):
            continue
        plain = edit_run(model, store, _request(by_name[attribute], settings), rows)
        cond = edit_run(model, store, _request(by_name[attribute], settings, [by_name[k] for k in kept]), rows)
        label = f"{attribute}|{','.join(kept)}"
        stem = label.replace("|", "_given_").replace(",", "_")
        paths_plain = save_edit(plain, out, stem=f"{attribute}_plain_", scale=2)
        paths_cond = save_edit(cond, out, stem=f"{stem}_", scale=2)
        shown.append((label, paths_plain[0], paths_cond[0], cond.plan.cosine))
    return shown


def _sefa(model, scorer, settings: DemoSettings, out: Path, progress: bool):
    directions = sefa_boundaries(model, settings.sefa_k)
    names = name_directions(model, directions, [scorer], num=settings.name_num, progress=progress)  # API defaults
    grids = []
    for b in directions:
        b.save(out / f"{b.attribute}.npz")
        request = _request(b, settings)
        plan = request.plan(model)
        codes = SampledCodes(model, plan.space, settings.edit_rows, seed=settings.seed + 1).read(0, settings.edit_rows)
        result = edit_codes(model, codes, request, plan=plan)
        grids.append(save_edit(result, out, stem=f"{b.attribute}_", scale=2)[0])
    return directions, names, grids


def _report(settings, boundaries, edits, conditional, sefa, analysis, seconds) -> Report:
    report = Report(
        "interfacegan demo: the semantics of a face GAN",
        subtitle=f"{DEFAULT_MODEL}, {plural(settings.num, 'sample')} (seed {settings.seed}), scored with the offline "
                 "face scorer",
    )
    report.text(
        "InterFaceGAN trains a linear SVM in the latent space for each attribute; the unit normal n of its "
        "hyperplane is the attribute's direction, and moving a code z to z + alpha n edits that attribute. "
        "Conditional editing removes from n its projection onto other attributes' normals, so they stay fixed. "
        "SeFa finds directions without labels: the top eigenvectors of A^T A, A the generator's first affine weight."
    )
    report.heading("Steps and timing", anchor="steps")
    report.table(["step", "seconds"], [(name, s) for name, s in seconds], digits=1)

    report.heading("Boundaries: separability of each attribute", anchor="boundaries")
    report.text(
        f"Top and bottom {settings.ratio:.0%} of the samples by score, split 70/30; 'remaining' are all other "
        "samples, labelled by the midpoint between the two selected groups' edge scores."
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
    for label, plain, cond, cosine in conditional:
        report.image(plain, caption=f"{label.split('|')[0]} (plain)", width=GRID_WIDTH)
        report.image(cond, caption=f"{label} (conditional; cosine {cosine:.2f} with the plain direction)", width=GRID_WIDTH)

    directions, names, grids = sefa
    report.heading("SeFa: unsupervised directions, named by re-scoring", anchor="sefa")
    report.text(
        f"Each direction moves {plural(settings.name_num, 'fresh sample')} by +{NAMING_ALPHA:g} along it and is "
        f"re-scored with the face scorer, as in the analyses below ({CHANGE_DEFINITION}). Naming rule: {NAMING_RULE}. "
        "The same model and settings give the same names with `interfacegan sefa --name-with face` and in the editor "
        "(`interfacegan ui --name-with face`)."
    )
    report.table(["direction", "eigenvalue", "named", "largest effects (normalised change)"],
                 [(d.attribute, d.metrics.get("eigenvalue"), n.label or "-", n.summary()) for d, n in zip(directions, names)])  # fmt: skip
    for d, n, path in zip(directions, names, grids):
        report.image(path, caption=f"{n.title}: {n.summary()}", width=GRID_WIDTH)

    report.heading("Analyses (the paper's measurements)", anchor="analysis")
    report.text(f"CSV files and plots are in {analysis.out}; they are the numbers shown below.", note=True)
    report.table(["analysis setting", "value"], analysis.settings, label_columns=2)
    add_sections(report, analysis.sections, analysis.skipped)
    return report
