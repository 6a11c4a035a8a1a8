"""Options and option-value parsers shared by several commands (defaults and validation live in the API)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from interfacegan import DEFAULT_MODEL  # noqa: F401  (re-exported for the commands; the API holds the default)
from interfacegan.errors import InterfaceGANError

DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]
ExecutorOpt = Annotated[
    str,
    typer.Option(help="Engine that runs the chunks: local (threads in this process), processes (one worker process "
                 "per core), auto (processes for image scorers, else local) or ray (a Ray cluster)."),
]
RayAddressOpt = Annotated[
    Optional[str], typer.Option(help="Ray cluster to join (auto, HOST:PORT, ray://...); default: start a local one.")
]
GpusPerWorkerOpt = Annotated[
    Optional[float], typer.Option(help="GPUs per Ray worker (none by default; 0.5: two workers per GPU).")
]

# The edit options of `edit` and `edit-image`; their defaults are `EditRequest`'s and `save_edit`'s.
StepsOpt = Annotated[
    Optional[int], typer.Option(help="Number of edit steps (grid columns), at least 2.", show_default="7")
]
RangeOpt = Annotated[
    Optional[tuple[float, float]],
    typer.Option("--range", help="First and last step: offsets or distances (lo < hi).", show_default="-3 3"),
]
ModeOpt = Annotated[
    Optional[str],
    typer.Option(help="offset: x + a*n; distance: move each code to signed distance a.", show_default="offset"),
]
FpsOpt = Annotated[Optional[float], typer.Option(help="Animation frames per second.", show_default="6")]


def edit_settings(steps: int | None, range_: tuple[float, float] | None, mode: str | None) -> dict:
    """The `EditRequest` settings the user gave (steps, lo and hi from --range, mode); the rest keep the API's."""
    lo, hi = range_ if range_ is not None else (None, None)
    return given(steps=steps, lo=lo, hi=hi, mode=mode)


# The grid options of `sefa` and `ganspace`: offsets only; their defaults are `save_direction_grid`'s.
GridStepsOpt = Annotated[Optional[int], typer.Option(help="Steps per grid (columns), at least 2.", show_default="7")]
GridRangeOpt = Annotated[
    Optional[tuple[float, float]], typer.Option("--range", help="First and last offset (lo < hi).", show_default="-3 3")
]
GridScaleOpt = Annotated[
    Optional[int], typer.Option(help="Enlarge images in the grids by this integer factor.", show_default="1")
]


def grid_options(grids: bool, rows: tuple[str, int | None], steps: int | None, range_: tuple[float, float] | None,
                 scale: int | None, seed: int | None = None) -> dict:
    """The `save_direction_grid` settings given to `sefa` or `ganspace` (its defaults for the rest), checked before
    any work; `rows` is (the command's name for the option, its value). With --no-grids they would change nothing:
    refused."""
    from interfacegan import checks
    from interfacegan.editing.render import MAX_GRID_ROWS, check_render
    from interfacegan.editing.run import EditRequest

    name, count = rows
    options = given(**{name: count}, steps=steps, range=range_, scale=scale, seed=seed)
    if options and not grids:
        named = ", ".join(f"--{option}" for option in options)
        raise InterfaceGANError(f"{named} set the grids, which --no-grids leaves out: drop one or the other")
    grid = {}
    if count is not None:
        grid["rows"] = checks.positive_int(name, count, MAX_GRID_ROWS)
    if steps is not None or range_ is not None:
        grid["values"] = EditRequest(None, **edit_settings(steps, range_, None)).values
    if scale is not None:
        grid["scale"] = check_render(scale=scale)[1]
    if seed is not None:
        grid["seed"] = checks.seed(seed)
    return grid


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """`text` with control characters (newlines, terminal escapes, bidi overrides) shown as escapes: what a run
    folder or a file says is printed as one plain line and never drives the terminal."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], str(text))


def given(**values) -> dict:
    """The options the user set (not None): passed on as keyword arguments, so the API's defaults apply to the rest.

    Options whose default lives in the API have None as their CLI default and show the API's value in their help.
    """
    return {name: value for name, value in values.items() if value is not None}


def executor_from_options(executor: str, ray_address: str | None, gpus_per_worker: float | None):
    """The engine `--executor` names, with the Ray options (refused with another engine)."""
    from interfacegan.execution import load_executor

    options = given(address=ray_address, gpus_per_worker=gpus_per_worker)
    if options and executor != "ray":
        raise InterfaceGANError("--ray-address and --gpus-per-worker need --executor ray")
    return load_executor(executor, **options)


def parse_named_paths(items: list[str], what: str) -> dict[str, str]:
    """['yaw=a.npy', ...] -> {'yaw': 'a.npy'}."""
    result = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InterfaceGANError(f"bad {what} {item!r}: use NAME=PATH, e.g. z=z.npy")
        result[name] = path
    return result


def training_checkpoint(out: Path, force: bool, checkpoint_every: int | None, what: str) -> Path:
    """OUT.ckpt, the resumable progress of a training command writing `out` (a `what`), after checking that `out`
    can be written (`atomic.check_output`) and is not overwritten without --force (unless a checkpoint says the run
    is being resumed), and the interval when given (None: the API's default)."""
    from interfacegan import checks
    from interfacegan.atomic import check_output

    check_output(out, "file")
    checkpoint = out.with_name(out.name + ".ckpt")
    if out.exists() and not checkpoint.exists() and not force:
        raise InterfaceGANError(f"{out} exists: pass --force to train a new {what} over it, or choose another --out")
    if checkpoint_every is not None:
        checks.positive_int("checkpoint_every", checkpoint_every)  # before the model loads
    return checkpoint
