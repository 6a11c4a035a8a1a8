"""Commands that find and use semantic directions: train-boundary, edit, sefa, name-directions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, FpsOpt, GridRangeOpt, GridScaleOpt, GridStepsOpt, ModeOpt, RangeOpt
from interfacegan.cli.options import StepsOpt, edit_settings, given, grid_options

console = Console()


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@app.command("train-boundary")
def train_boundary(
    run: Annotated[str, typer.Argument(help="Run directory or URL (s3://bucket/run) holding codes and scores.")],
    attribute: Annotated[list[str], typer.Option(help="Score to separate (repeatable).")] = [],
    all_scores: Annotated[bool, typer.Option("--all", help="Train one boundary per scalar score in the run.")] = False,
    space: Annotated[Optional[str], typer.Option(help="Latent space of the codes: z, w or wp (flattened).", show_default="z")] = None,
    ratio: Annotated[Optional[float], typer.Option(help="Top and bottom share of the scored samples used (official: 0.02).", show_default="0.02")] = None,
    count: Annotated[Optional[int], typer.Option(help="Use this many samples per side instead of --ratio.")] = None,
    split: Annotated[Optional[float], typer.Option(help="Training share of the selected samples (rest validates).", show_default="0.7")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the train/validation split.", show_default="0")] = None,
    c: Annotated[Optional[float], typer.Option("--C", help="SVM regularisation C.", show_default="1")] = None,
    solver: Annotated[Optional[str], typer.Option(help="auto (the official SVC up to 3,000 training rows, LinearSVC above), official (SVC(kernel='linear')) or liblinear (LinearSVC).", show_default="auto")] = None,
    max_iter: Annotated[Optional[int], typer.Option(help="Iteration limit of the liblinear solver (a fit that hits it is reported).", show_default="1000")] = None,
    threshold: Annotated[Optional[str], typer.Option(help="Labels of the remaining samples: edges, extremes or a score.", show_default="edges")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Boundary .npz (one attribute) or directory (several); default: RUN-boundaries beside a local run.")] = None,
    official: Annotated[bool, typer.Option(help="Also write the official (1, d) .npy next to each boundary.")] = False,
):
    """Fit a linear-SVM boundary per attribute and print train/validation/remaining accuracy."""
    from interfacegan.errors import InterfaceGANError
    from interfacegan.learning import boundary_path, default_boundary_dir, train_boundaries
    from interfacegan.storage import is_url
    from interfacegan.store import SampleStore

    if count is not None and ratio is not None:  # --count replaces --ratio: both given, one would be ignored
        raise InterfaceGANError(f"give --ratio or --count, not both (got {ratio:g} and {count})")
    if out is None and is_url(run):
        raise InterfaceGANError(f"run {run} is a URL, with no local folder beside it for the boundaries: "
                                "name one with --out (a .npz or a folder)")  # fmt: skip
    store = SampleStore.open(run, mode="r")
    names = list(dict.fromkeys(store.score_names if all_scores else attribute))
    if not names:
        raise InterfaceGANError(
            f"name a score with --attribute (the run has: {', '.join(store.score_names) or 'none'}) or pass --all"
        )
    target = out or default_boundary_dir(run)
    boundaries = train_boundaries(store, names, out=target, official=official,
                                  **given(spaces=[space] if space else None, ratio=ratio, count=count, split=split,
                                          seed=seed, C=c, solver=solver, max_iter=max_iter, threshold=threshold))
    space = boundaries[0].space
    table = Table("attribute", "train acc", "val acc", "rest acc", "train/val/rest", "no score", "SVM iterations",
                  title=f"{space}-space boundaries of {run}")  # fmt: skip
    for boundary in boundaries:
        m = boundary.metrics
        iterations = str(m["n_iter"]) if m["converged"] else f"[yellow]{m['n_iter']} (not converged)[/]"
        table.add_row(
            boundary.attribute, _fmt(m["train_accuracy"]), _fmt(m["val_accuracy"]), _fmt(m["remaining_accuracy"]),
            f"{m['num_train']}/{m['num_val']}/{m['num_remaining']}", str(m["num_dropped"]), iterations,
        )  # fmt: skip
    console.print(table)
    for boundary in boundaries:
        path = boundary_path(target, boundary.attribute, space)
        console.print(f"wrote {path}" + (f" and {path.with_suffix('.npy')}" if official else ""))


@app.command()
def edit(
    run: Annotated[str, typer.Argument(help="Run directory or URL (s3://bucket/run) whose codes are edited.")],
    boundary: Annotated[str, typer.Option(help="Boundary .npz, official .npy, or PATH:I of a direction stack.")],
    out: Annotated[Path, typer.Option(help="Output directory for grid.png and edit.gif.")],
    condition: Annotated[list[str], typer.Option(help="Boundary to keep unchanged (repeatable).")] = [],
    steps: StepsOpt = None,
    range_: RangeOpt = None,
    num: Annotated[Optional[int], typer.Option(help="Number of samples (grid rows).", show_default="8")] = None,
    start: Annotated[Optional[int], typer.Option(help="First sample row of the run.", show_default="0")] = None,
    mode: ModeOpt = None,
    layers: Annotated[Optional[str], typer.Option(help="W+ layers to edit, e.g. 0-3,6 (style models).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Space of .npy directions / codes to edit (default: the boundary's).")] = None,
    mp4: Annotated[bool, typer.Option("--mp4", help="Also write edit.mp4.")] = False,
    fps: FpsOpt = None,
    scale: Annotated[Optional[int], typer.Option(help="Enlarge images in the grid by this integer factor.", show_default="1")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Synthesis batch size.", show_default="64")] = None,
    device: DeviceOpt = "auto",
):
    """Render samples of a run edited along a boundary: grid.png (rows = samples, columns = steps) and edit.gif."""
    from interfacegan.atomic import check_output
    from interfacegan.directions.files import load_direction
    from interfacegan.editing.render import check_render
    from interfacegan.editing.run import EditRequest, edit_rows, edit_run, save_edit
    from interfacegan.errors import InterfaceGANError
    from interfacegan.models import load_model
    from interfacegan.report import plural
    from interfacegan.store import SampleStore

    check_output(out, "dir")
    render = given(fps=fps, scale=scale)
    check_render(**render)
    store = SampleStore.open(run, mode="r")
    spec = store.meta.get("model")
    if not spec or spec == "unknown":
        raise InterfaceGANError(f"{run} does not name its model: re-import it with --model SPEC")
    rows = edit_rows(store, **given(num=num, start=start))
    primal = load_direction(boundary, space=space, model=spec)
    conditions = [load_direction(c, space=primal.space, model=spec) for c in condition]
    request = EditRequest(primal, conditions, layers=layers, space=space, **edit_settings(steps, range_, mode))
    request.check()  # mode, range and steps, before the model loads
    model = load_model(spec, device=device)
    result = edit_run(model, store, request, rows, **given(batch_size=batch_size))
    if result.conditional is not None:
        console.print(f"conditional direction: cosine {result.plan.cosine:.3f} with the boundary")
    paths = save_edit(result, out, mp4=mp4, **render)
    values = result.values
    where = f" on layers {result.layers}" if result.layers else ""
    console.print(f"[green]edited[/] {plural(len(rows), 'sample')} along {primal.attribute!r} ({result.space}{where}), "
                  f"{request.mode} {values[0]:+g} .. {values[-1]:+g} in {plural(len(values), 'step')}")  # fmt: skip
    for p in paths:
        console.print(f"wrote {p}")


def _naming_table(names, title: str) -> Table:
    """direction | the name it earns under the naming rule | its largest effects, in std of the unedited scores."""
    from interfacegan.rescoring.naming import NAMING_RULE

    table = Table("direction", "named", "largest effects (normalised change)", title=title,
                  caption=f"normalised change = mean(s(x + alpha n) - s(x)) / std(s(x)); {NAMING_RULE}")  # fmt: skip
    for n in names:
        table.add_row(n.direction, n.label or "-", n.summary())
    return table


def _naming(scorers, num, alpha, seed) -> tuple[list, tuple[int, float, int]]:
    """(the scorers loaded, (num, alpha, seed) checked), with the API's defaults where an option is not given: what
    naming needs, checked before any work. Without scorers nothing is named: a naming setting given then is refused
    (it would change nothing)."""
    from interfacegan.errors import InterfaceGANError
    from interfacegan.rescoring.naming import NAMING_ALPHA, NAMING_NUM, NAMING_SEED, check_naming
    from interfacegan.rescoring.rescore import image_scorers

    if not scorers:
        if num is not None or alpha is not None:
            raise InterfaceGANError("--name-num and --alpha set how directions are named: add --name-with SCORER")
        return [], (num, alpha, seed)
    settings = check_naming(NAMING_NUM if num is None else num, NAMING_ALPHA if alpha is None else alpha,
                            NAMING_SEED if seed is None else seed)  # fmt: skip
    return image_scorers(scorers), settings


def _name(generator, boundaries, scorers, num, alpha, seed, quiet: bool, spec: str, out: Path | None,
          specs: list[str] | None = None, shown: Path | None = None) -> None:  # fmt: skip
    """Name the directions with the API's naming (its defaults where an option is not given), print the table and
    write the names file `out` (when given; reported as `shown`, default `out`, e.g. its place after a stage
    commits). `scorers` are specs or scorers loaded by `_naming`; the file records `specs` (default: `scorers`)."""
    from interfacegan.directions.files import write_names
    from interfacegan.rescoring.naming import name_directions, naming_settings

    loaded, (num, alpha, seed) = _naming(scorers, num, alpha, seed)
    names = name_directions(generator, boundaries, loaded, num=num, alpha=alpha, seed=seed, progress=not quiet)
    console.print(_naming_table(names, f"what each direction moves on {spec} (edits x + {alpha:g} n, {num} samples)"))
    if out is not None:
        recorded = list(specs if specs is not None else scorers)
        write_names(out, names, {"model": spec, "scorers": recorded, **naming_settings(num, alpha, seed)})
        console.print(f"wrote {shown or out}")


NameNumOpt = Annotated[Optional[int], typer.Option(help="Samples edited to name each direction (default 64).")]
AlphaOpt = Annotated[Optional[float], typer.Option(help="Naming edits move samples by +alpha (default 3).")]


@app.command()
def sefa(
    model: Annotated[str, typer.Option(help="Model spec: dcgan-digiface, toy, or FORMAT:PATH.")],
    out: Annotated[Path, typer.Option(help="Output directory for sefa_{i}.npz and sefa_{i}.png.")],
    k: Annotated[Optional[int], typer.Option("-k", "--k", help="Number of directions.", show_default="10")] = None,
    layers: Annotated[Optional[str], typer.Option(help="Style layers to factorize, e.g. 0-1 or all.")] = None,
    normalize_columns: Annotated[bool, typer.Option(help="Unit-normalise each output unit's weights first, as the official SeFa (--no-normalize-columns: the paper's plain A^T A).")] = True,
    num: Annotated[Optional[int], typer.Option(help="Samples per grid (rows).", show_default="6")] = None,
    steps: GridStepsOpt = None,
    range_: GridRangeOpt = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the samples shown in the grids (naming uses its own fixed seed).", show_default="0")] = None,
    name_with: Annotated[list[str], typer.Option(help="Scorer(s) to name the directions with, e.g. face.")] = [],
    name_num: NameNumOpt = None,
    alpha: AlphaOpt = None,
    grids: Annotated[bool, typer.Option(help="Render a grid per direction.")] = True,
    scale: GridScaleOpt = None,
    include_torgb: Annotated[Optional[str], typer.Option(help="StyleGAN2/3: ToRGB affines factorized with the conv layers' (none, all, first, last; default last, as the official SeFa).")] = None,
    device: DeviceOpt = "auto",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
):
    """Closed-form factorization: the top-k latent directions of the model's first affine weight."""
    from interfacegan.atomic import check_output, staged_dir
    from interfacegan.directions.files import NAMES_FILE
    from interfacegan.directions.sefa import sefa_boundaries
    from interfacegan.editing.run import save_direction_grid
    from interfacegan.models import load_model

    check_output(out, "dir")
    grid = grid_options(grids, ("num", num), steps, range_, scale, seed)
    scorers, (name_num, alpha, _) = _naming(name_with, name_num, alpha, None)  # before any work
    generator = load_model(model, device=device)
    affine_options = {"include_torgb": include_torgb} if include_torgb is not None else {}
    boundaries = sefa_boundaries(generator, layers=layers, normalize_columns=normalize_columns,
                                 **given(k=k), **affine_options)
    table = Table("direction", "eigenvalue", "share of top-k", "space", "file", title=f"SeFa directions of {model}")
    with staged_dir(out) as stage:  # every file, or none
        for b in boundaries:
            b.save(stage / f"{b.attribute}.npz")
            if grids:
                save_direction_grid(generator, b, stage / f"{b.attribute}.png", **grid)
            table.add_row(b.attribute, f"{b.metrics['eigenvalue']:.4g}", f"{b.metrics['share_of_top_k']:.3f}",
                          b.space, str(out / f"{b.attribute}.npz"))  # fmt: skip
        console.print(table)
        if scorers:
            _name(generator, boundaries, scorers, name_num, alpha, None, quiet, model, stage / NAMES_FILE,
                  specs=name_with, shown=out / NAMES_FILE)  # fmt: skip


@app.command("name-directions")
def name_directions_command(
    directions: Annotated[list[str], typer.Argument(help="Direction files (.npz, .npy, PATH:I).")],
    scorer: Annotated[list[str], typer.Option(help="Scorer(s) to re-score with, e.g. face.")],
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the one the directions name).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Space of plain .npy directions.", show_default="z")] = None,
    num: NameNumOpt = None,
    alpha: AlphaOpt = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the samples (default: the fixed naming seed, 0).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the table as JSON here.")] = None,
    device: DeviceOpt = "auto",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
):
    """Name directions (e.g. SeFa's) after the attribute they clearly move most, re-scoring edited samples."""
    from interfacegan.atomic import check_output
    from interfacegan.directions.files import load_direction
    from interfacegan.errors import InterfaceGANError
    from interfacegan.models import load_model

    if out is not None:
        check_output(out, "file")
    boundaries = [load_direction(d, space=space, model=model) for d in directions]
    spec = model or next((b.model for b in boundaries if b.model), None)
    if spec is None:
        raise InterfaceGANError("the directions do not name their model: pass --model SPEC")
    scorers, (num, alpha, seed) = _naming(scorer, num, alpha, seed)
    _name(load_model(spec, device=device), boundaries, scorers, num, alpha, seed, quiet, spec, out, scorer)
