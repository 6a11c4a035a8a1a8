"""Edit samples of a run along a boundary and save the result: the API behind `interfacegan edit` and the demo.

`EditRequest` names what to edit (boundary, optional conditions, steps, mode, layers); `edit_run` turns it into
an image grid (N samples x S steps) and `save_edit` writes grid.png, edit.gif (and edit.mp4) atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.editing.manipulation import conditional_direction, linspace_steps
from interfacegan.editing.render import edit_frames, save_animation, save_grid
from interfacegan.editing.stream import edit_images, edit_plan, run_codes

EDIT_MODES = ("offset", "distance")


def check_mode(mode: str) -> None:
    if mode not in EDIT_MODES:
        raise InterfaceGANError(f"unknown edit mode {mode!r}: use offset or distance")


def conditional_boundary(primal: Boundary, conditions: Sequence[Boundary]) -> Boundary:
    """`primal` with its normal made orthogonal to every condition normal (kind 'conditional', intercept 0)."""
    for c in conditions:
        if c.space != primal.space or c.dim != primal.dim:
            raise InterfaceGANError(
                f"condition {c.attribute!r} is in {c.space!r} ({c.dim}-d), the boundary in {primal.space!r} "
                f"({primal.dim}-d): use conditions of the same space"
            )
    along = conditional_direction(primal.normal, [c.normal for c in conditions])
    cosine = float(along @ primal.normal)
    return primal.with_normal(
        along, intercept=0.0, kind="conditional", metrics={"cosine_with_primal": cosine},
        attribute=f"{primal.attribute}|{','.join(c.attribute for c in conditions)}",
        settings={"primal": primal.attribute, "conditions": [c.attribute for c in conditions]},
    )  # fmt: skip


@dataclass
class EditRequest:
    """What to edit: `boundary`, kept orthogonal to `conditions`, at `steps` values from `lo` to `hi`.

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


@dataclass
class EditResult:
    grid: np.ndarray  # (N, S, H, W, 3) uint8
    values: np.ndarray  # (S,)
    space: str
    layers: str | None
    conditional: Boundary | None  # the direction actually used, when conditions were given


def edit_codes(model, codes: np.ndarray, request: EditRequest, batch_size: int = 64, truncation=None) -> EditResult:
    """Edit `codes` (already in the edit space, see `edit_space`) as `request` says."""
    request.check()
    primal = request.boundary
    space, layers = edit_space(model, request)
    along = None
    conditional = None
    if request.conditions:
        for c in request.conditions:
            edit_plan(model, c, primal.space if layers is None else None)
        conditional = conditional_boundary(primal, request.conditions)
        along = conditional.normal if layers is not None else conditional.direction()
    direction = primal.normal if layers is not None else primal.direction()
    grid = edit_images(model, codes, space, direction, request.values, mode=request.mode, intercept=primal.intercept,
                       along=along, layers=layers, batch_size=batch_size, truncation=truncation)  # fmt: skip
    return EditResult(grid, request.values, space, layers, conditional)


def edit_space(model, request: EditRequest) -> tuple[str, str | None]:
    """(space of the codes to edit, W+ layer selection or None); a one-line error when the boundary does not fit."""
    return edit_plan(model, request.boundary, request.space, request.layers)


def edit_run(model, store, request: EditRequest, rows: Sequence[int] | np.ndarray, batch_size: int = 64) -> EditResult:
    """Edit the run's samples `rows` (codes read from the store, or mapped from its z)."""
    rows = np.asarray(rows)
    if len(rows) == 0 or rows.min() < 0 or rows.max() >= store.num:
        raise InterfaceGANError(f"sample rows must lie in [0, {store.num}), got {rows.min()}..{rows.max()}")
    space, _ = edit_space(model, request)
    return edit_codes(model, run_codes(store, model, space, rows), request, batch_size)


def save_edit(
    result: EditResult, out: str | Path, stem: str = "", mp4: bool = False, fps: float = 6.0, scale: int = 1
) -> list[Path]:
    """Write `{stem}grid.png` (rows = samples, columns = steps), `{stem}edit.gif` and optionally `.mp4`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grid = result.grid
    labels = [f"{v:+.1f}" for v in result.values] if grid.shape[3] * scale >= 32 else None
    paths = [save_grid(grid, out / f"{stem}grid.png", col_labels=labels, scale=scale)]
    frames = edit_frames(grid)
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    paths.append(save_animation(frames, out / f"{stem}edit.gif", fps=fps))
    if mp4:
        paths.append(save_animation(frames, out / f"{stem}edit.mp4", fps=fps))
    if result.conditional is not None:
        paths.append(result.conditional.save(out / f"{stem}direction.npz"))
    return paths
