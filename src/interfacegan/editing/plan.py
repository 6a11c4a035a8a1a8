"""EditPlan: what one edit request decides, decided once, and THE check that a boundary fits a model.

A plan holds the space the codes are edited in and the W+ layers that move, the unit vector they move along (with
conditions: the conditional direction, the vector closest to the boundary's normal that keeps every condition's
distance, and its cosine with that normal), and the boundary it came from. `check_fits` is the one place that
decides whether a boundary can edit a model's codes (made for this model, in a space it has, of that space's
dimension); every command, the analyses, the translator and the browser editor call it through `plan_edit`.

    plan = plan_edit(model, boundary, conditions, space=None, layers=None)   # from boundaries
    plan = vector_plan(model, vector, space, layers=None)                     # from a plain vector
    plan.edit(codes, values, mode)   # (N, S, *code_shape): the pure math of `manipulation`
    plan.distance(codes)             # signed distance to the boundary's hyperplane (mean over the moved layers)
Images of edited codes, streamed in bounded blocks, are in `editing.stream`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.editing.manipulation import (
    conditional_direction,
    edit_layers,
    edit_offset,
    edit_to_distance,
    signed_distance,
)
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers

EDIT_MODES = ("offset", "distance")


def check_mode(mode: str) -> None:
    """One-line error unless `mode` is an edit mode ('offset': x + a n; 'distance': to signed distance a)."""
    if mode not in EDIT_MODES:
        raise InterfaceGANError(f"unknown edit mode {mode!r}: use offset or distance")


def condition_label(attribute: str, kept: Sequence[str]) -> str:
    """'age|eyeglasses': a conditional edit as its direction, the analyses and `analyze --condition` name it."""
    return f"{attribute}|{','.join(kept)}"


def _spec(model) -> str | None:
    """What a run or boundary of `model` records as its model: its spec, or its name when it has none."""
    spec = getattr(model, "spec", None) or getattr(model, "name", None) or None
    return None if spec == "unknown" else spec


def check_fits(model, boundary: Boundary, label: str | None = None) -> None:
    """One-line error unless `boundary` (called `label`, default its attribute) can edit codes of `model`: it was
    made for this model (when both name one), lives in a space the model has, and has that space's dimension."""
    label = label or f"boundary {boundary.attribute!r}"
    spec = _spec(model)
    if boundary.model and boundary.model != "unknown" and spec and boundary.model != spec:
        raise InterfaceGANError(
            f"{label} belongs to model {boundary.model!r}, not {spec!r}: use a boundary trained on this model"
        )
    hint = " (a plain .npy direction does not say its space: pass its space)" if boundary.kind == "imported" else ""
    if boundary.space not in model.spaces:
        raise InterfaceGANError(
            f"{label} lives in space {boundary.space!r}, which model {model.name!r} does not have "
            f"({', '.join(model.spaces)}): it was made for another model{hint}"
        )
    shape = tuple(model.space_shape(boundary.space))
    if math.prod(shape) != boundary.dim:
        raise InterfaceGANError(
            f"{label} has dimension {boundary.dim} but {boundary.space!r} codes of model {model.name!r} have shape "
            f"{shape}: it was made for another model or space{hint}"
        )


@dataclass(frozen=True, eq=False)
class EditPlan:
    """How codes of `model` move along one direction: space, W+ layers, vector, conditions and their cosine."""

    model: object = field(repr=False)
    space: str  # space of the codes edited
    code_shape: tuple[int, ...]  # shape of one code of `space`
    vector: np.ndarray  # float32 unit vector moved along: code-shaped, or (w_dim,) / (L*w_dim,) for layer edits
    layers: tuple[int, ...] | None = None  # W+ layers that move (None: the whole code)
    boundary: Boundary | None = None  # the boundary the plan was made from (None for a plain vector)
    conditions: tuple[Boundary, ...] = ()  # boundaries whose distances the edit keeps
    cosine: float = 1.0  # cosine of `vector` with the boundary's normal (1 without conditions)

    @property
    def layer_text(self) -> str | None:
        """The moved layers as a selection such as '0-3,6' (None for whole-code edits)."""
        return None if self.layers is None else format_layers(self.layers)

    @property
    def conditional(self) -> Boundary | None:
        """The conditional direction as a boundary (kind 'conditional', intercept 0) to save and reuse; None
        without conditions."""
        if not self.conditions:
            return None
        primal = self.boundary
        return primal.with_normal(
            self.vector.reshape(-1), intercept=0.0, kind="conditional", metrics={"cosine_with_primal": self.cosine},
            attribute=condition_label(primal.attribute, [c.attribute for c in self.conditions]),
            settings={"primal": primal.attribute, "conditions": [c.attribute for c in self.conditions]},
        )  # fmt: skip

    def edit(self, codes, values, mode: str = "offset"):
        """Codes (N, *code_shape) -> (N, S, *code_shape) at step `values` (S,): offsets x + a v, or with mode
        'distance' moved along v to signed distance a from the boundary's hyperplane. One code gives (S, ...)."""
        check_mode(mode)
        if mode == "offset":
            if self.layers is not None:
                return edit_layers(codes, self.vector, values, self.layers)
            return edit_offset(codes, self.vector, values, code_shape=self.code_shape)
        self.check_distance_mode()
        b = self.boundary
        return edit_to_distance(codes, b.normal, b.intercept, values, along=self.vector, code_shape=self.code_shape)

    def check_distance_mode(self) -> None:
        """One-line error unless the plan can edit to a distance (a hyperplane, whole codes)."""
        if self.boundary is None:
            raise InterfaceGANError("editing to a distance needs a boundary (a hyperplane), not a plain vector")
        if self.layers is not None:
            raise InterfaceGANError("editing to a distance moves whole codes: use mode 'offset' with layers")

    def distance(self, codes) -> np.ndarray:
        """Signed distances n.x + b of codes (N, *code_shape) (or one code) to the boundary's hyperplane; for a w
        boundary on W+ codes, the mean over the moved layers."""
        if self.boundary is None:
            raise InterfaceGANError("a plain vector has no hyperplane to measure a distance to")
        b = self.boundary
        codes = np.asarray(codes, dtype=np.float32)
        if self.layers is not None and b.dim != math.prod(self.code_shape):
            chosen = codes[..., list(self.layers), :]
            return signed_distance(chosen, b.normal, b.intercept, code_shape=chosen.shape[-2:])
        return signed_distance(codes, b.normal, b.intercept, code_shape=self.code_shape)


def _layers(model, boundary: Boundary, space: str | None, layers, label: str) -> tuple[int, ...] | None:
    """The W+ layers a boundary edit moves: those given, else those the boundary names (SeFa of chosen style
    layers) or all when W+ codes are asked for with a w boundary; None for whole-code edits."""
    if layers is None and space in (None, "wp") and boundary.space == "w" and "wp" in model.spaces:
        layers = (boundary.settings or {}).get("layers") or ("all" if space == "wp" else None)
    if layers is None:
        return None
    if "wp" not in model.spaces:
        raise InterfaceGANError(
            f"model {model.name!r} has no W+ layers (its spaces: {', '.join(model.spaces)}): leave layers unset "
            f"(got {layers!r})"
        )
    if boundary.space not in ("w", "wp"):
        raise InterfaceGANError(
            f"layer-wise edits move W+ codes along a w or wp direction; {label} is in {boundary.space!r}: "
            "leave layers unset"
        )
    if space not in (None, "wp"):
        raise InterfaceGANError(f"layer-wise edits move W+ codes: space must be 'wp' (or None), not {space!r}")
    chosen = parse_layers(layers, int(model.num_ws))
    if not chosen:
        raise InterfaceGANError(f"no W+ layers selected in {layers!r}: choose at least one")
    return chosen


def plan_edit(model, boundary: Boundary, conditions: Sequence[Boundary] = (), space: str | None = None,
              layers=None, label: str | None = None) -> EditPlan:  # fmt: skip
    """The plan for editing `model` codes along `boundary`, kept orthogonal to `conditions`.

    Codes are edited in the boundary's space; a w-space (or flattened W+) boundary edits W+ codes layer-wise when
    `layers` is given (a selection such as '0-3,6' or 'all'), when the boundary names style layers (SeFa on chosen
    layers), or when `space` is 'wp'. `space` otherwise must be the boundary's own. One-line errors when the
    boundary or a condition does not fit the model (`check_fits`), or the conditioning is degenerate.
    """
    label = label or f"boundary {boundary.attribute!r}"
    check_fits(model, boundary, label)
    if space is not None:
        model.check_space(space)
    chosen = _layers(model, boundary, space, layers, label)
    if chosen is None and space is not None and space != boundary.space:
        raise InterfaceGANError(
            f"{label} lives in space {boundary.space!r}, not {space!r}: edit {boundary.space!r} codes, or train a "
            f"boundary in {space!r}"
        )
    space = "wp" if chosen is not None else boundary.space
    conditions = tuple(conditions)
    vector, cosine = boundary.normal, 1.0
    if conditions:
        for c in conditions:
            check_fits(model, c, f"condition {c.attribute!r}")
            if c.space != boundary.space or c.dim != boundary.dim:
                raise InterfaceGANError(
                    f"condition {c.attribute!r} is in {c.space!r} ({c.dim}-d), {label} in {boundary.space!r} "
                    f"({boundary.dim}-d): use conditions of the same space"
                )
        vector = conditional_direction(boundary.normal, [c.normal for c in conditions])
        cosine = float(vector.astype(np.float64) @ boundary.normal.astype(np.float64))
    code_shape = tuple(model.space_shape(space))
    vector = np.asarray(vector, dtype=np.float32)
    if chosen is None:
        vector = vector.reshape(code_shape)
    return EditPlan(model, space, code_shape, vector, chosen, boundary, conditions, cosine)


def vector_plan(model, vector, space: str, layers=None) -> EditPlan:
    """The plan for moving `model` codes of `space` by a plain vector (used as given, not normalised): shaped like
    one code, or with `layers` (W+ codes only) a (w_dim,) or (L, w_dim) vector moving those layers."""
    model.check_space(space)
    vector = np.asarray(vector, dtype=np.float32)
    code_shape = tuple(model.space_shape(space))
    if space == "wp" and layers is None and vector.size == code_shape[-1] != math.prod(code_shape):
        layers = "all"  # the W+ rule: a w vector moves every layer alike
    if layers is not None:
        if space != "wp":
            raise InterfaceGANError(f"layer-wise edits move W+ codes: space must be 'wp', not {space!r}")
        if vector.size not in (code_shape[-1], math.prod(code_shape)):
            raise InterfaceGANError(
                f"a direction of {vector.size} values does not fit W+ codes {code_shape} of model {model.name!r}: "
                f"give ({code_shape[-1]},) or {code_shape}"
            )
        return EditPlan(model, space, code_shape, vector.reshape(-1), parse_layers(layers, code_shape[0]))
    if vector.size != math.prod(code_shape):
        raise InterfaceGANError(
            f"a direction of {vector.size} values does not fit {space!r} codes {code_shape} of model {model.name!r}"
        )
    return EditPlan(model, space, code_shape, vector.reshape(code_shape))


def as_plan(model, direction, space: str, layers=None) -> EditPlan:
    """A plan from what callers hold: an EditPlan (its space must be `space`), a Boundary (`plan_edit`) or a plain
    vector (`vector_plan`), for codes of `space`."""
    if isinstance(direction, EditPlan):
        plan = direction
    elif isinstance(direction, Boundary):
        plan = plan_edit(model, direction, space=space, layers=layers)
    else:
        plan = vector_plan(model, direction, space, layers)
    if plan.space != space:
        raise InterfaceGANError(f"the edit moves {plan.space!r} codes, not {space!r}: give codes of {plan.space!r}")
    return plan
