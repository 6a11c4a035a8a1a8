"""Edit samples of a run along a boundary and save the result: the API behind `interfacegan edit` and the demo.

`EditRequest` names what to edit (boundary, optional conditions, steps, mode, layers); `edit_run` turns it into
an image grid (N samples x S steps) and `save_edit` writes grid.png, edit.gif (and edit.mp4): all of them or,
on any failure, none (`atomic.staged_dir`). `save_direction_grid` draws one direction on sampled codes (SeFa, GANSpace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from interfacegan import checks
from interfacegan.atomic import staged_dir
from interfacegan.directions.boundary import Boundary
from interfacegan.editing.codes import SampledCodes, run_codes
from interfacegan.editing.manipulation import linspace_steps
from interfacegan.editing.plan import EditPlan, check_mode, plan_edit
from interfacegan.editing.render import MAX_GRID_ROWS, check_render, edit_frames, save_animation, save_grid
from interfacegan.editing.stream import edit_images
from interfacegan.errors import InterfaceGANError


GRID_ROWS = 6  # sampled codes (rows) of a direction grid
EDIT_ROWS = 8  # samples (rows) of a run that an edit shows


@dataclass
class EditRequest:
    """What to edit: `boundary`, kept orthogonal to `conditions`, at `steps` values from `lo` to `hi` (lo < hi).

    mode 'offset' moves each code by value * n; 'distance' moves it to signed distance `value` from the
    hyperplane (with conditions: along the conditional direction, so distances to the conditions stay).
    `layers` edits only those W+ layers (style models); `space` overrides the boundary's space.
    """

    boundary: Boundary
    conditions: list[Boundary] = field(default_factory=list)
    steps: int = 7
    lo: float = -3.0
    hi: float = 3.0
    mode: str = "offset"
    layers: str | None = None
    space: str | None = None

    @property
    def values(self) -> np.ndarray:
        return linspace_steps(self.lo, self.hi, self.steps)

    def check(self) -> None:
        check_mode(self.mode)
        self.values  # steps, and a finite range with lo < hi

    def plan(self, model) -> EditPlan:
        """The request checked and planned for `model`: a one-line error when anything does not fit."""
        self.check()
        plan = plan_edit(model, self.boundary, self.conditions, self.space, self.layers)
        if self.mode == "distance":
            plan.check_distance_mode()
        return plan


@dataclass
class EditResult:
    grid: np.ndarray  # (N, S, H, W, 3) uint8
    values: np.ndarray  # (S,)
    plan: EditPlan

    @property
    def space(self) -> str:
        return self.plan.space

    @property
    def layers(self) -> str | None:
        return self.plan.layer_text

    @property
    def conditional(self) -> Boundary | None:
        """The direction actually used, when conditions were given (kind 'conditional')."""
        return self.plan.conditional


def edit_codes(model, codes: np.ndarray, request: EditRequest, batch_size: int = 64, truncation=None,
               plan: EditPlan | None = None) -> EditResult:  # fmt: skip
    """Edit `codes` (N, *space_shape) of the request's edit space as `request` says; `plan` is the request's plan
    when the caller made it already (`request.plan(model)`, e.g. to learn the space first)."""
    plan = plan or request.plan(model)
    grid = edit_images(plan, codes, request.values, mode=request.mode, batch_size=batch_size, truncation=truncation)
    return EditResult(grid, request.values, plan)


def edit_rows(store, num: int = EDIT_ROWS, start: int = 0) -> np.ndarray:
    """The run's sample rows an edit shows: `num` of them (at most MAX_GRID_ROWS) from row `start`, fewer where the
    run ends; checked against the run before any model loads."""
    num = checks.integer("num", num, 1, MAX_GRID_ROWS)
    start = checks.integer("start", start, 0, store.num - 1)
    return np.arange(start, min(start + num, store.num))


def edit_run(model, store, request: EditRequest, rows: Sequence[int] | np.ndarray, batch_size: int = 64) -> EditResult:
    """Edit the run's samples `rows` (codes read from the store, or mapped from its z)."""
    checks.positive_int("batch_size", batch_size)
    rows = np.asarray(rows)
    if len(rows) == 0:
        raise InterfaceGANError("give at least one sample row to edit")
    if rows.min() < 0 or rows.max() >= store.num:
        raise InterfaceGANError(f"sample rows must lie in [0, {store.num}), got {rows.min()}..{rows.max()}")
    plan = request.plan(model)
    return edit_codes(model, run_codes(store, model, plan.space, rows), request, batch_size, plan=plan)


def save_edit(
    result: EditResult, out: str | Path, stem: str = "", mp4: bool = False, fps: float = 6.0, scale: int = 1
) -> list[Path]:
    """Write `{stem}grid.png` (rows = samples, columns = steps), `{stem}edit.gif`, optionally `.mp4`, and with
    conditions the direction used (`{stem}direction.npz`) into the folder `out`: all of them or none."""
    fps, scale = check_render(fps, scale)
    out = Path(out)
    grid = result.grid
    labels = grid_labels(result.values, grid.shape[3], scale)
    names = [f"{stem}grid.png", f"{stem}edit.gif"] + [f"{stem}edit.mp4"] * mp4
    with staged_dir(out) as stage:
        save_grid(grid, stage / names[0], col_labels=labels, scale=scale)
        frames = edit_frames(grid)
        if scale > 1:
            frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
        for name in names[1:]:
            save_animation(frames, stage / name, fps=fps)
        if result.conditional is not None:
            names.append(result.conditional.save(stage / f"{stem}direction.npz").name)
    return [out / name for name in names]


def grid_labels(values: Sequence[float] | np.ndarray, tile_width: int, scale: int = 1) -> list[str] | None:
    """Column labels of an edit grid ('+1.5' per value), or None when the tiles (`tile_width` px, enlarged `scale`
    times) are too narrow to hold them."""
    return [f"{v:+.1f}" for v in values] if tile_width * scale >= 32 else None


def save_direction_grid(model, boundary: Boundary, path: str | Path, rows: int = GRID_ROWS, values=None,
                        seed: int = 0, scale: int = 1) -> Path:  # fmt: skip
    """A grid of `rows` sampled codes (rows [0, rows) of `seed`'s code stream) edited along `boundary` by each offset
    in `values` (default: an edit's, `EditRequest().values`), written atomically to `path`: the picture `sefa` and
    `ganspace` show of each direction."""
    rows, seed = checks.positive_int("rows", rows, MAX_GRID_ROWS), checks.seed(seed)
    values = EditRequest(boundary).values if values is None else values
    scale = check_render(scale=scale)[1]
    plan = plan_edit(model, boundary)
    grid = edit_images(plan, SampledCodes(model, plan.space, rows, seed).read(0, rows), values)
    return save_grid(grid, path, col_labels=grid_labels(values, grid.shape[3], scale), scale=scale)
