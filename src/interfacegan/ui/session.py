"""Editing state of the interactive editor: a source code and, per direction, a slider value, conditions and layers.

No web code and no editing math of its own: each slider is an `editing.EditPlan` (made by `plan_edit`, the one
engine every command uses) and the edited code is the source code moved by every slider's plan in turn, value a
along the plan's vector d: the direction's unit normal or, with conditions, the unit vector closest to it that
keeps every condition's distance. On style models the editor works in W+ (num_ws, w_dim) and d moves only the
direction's chosen layers; other layers stay bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.editing.plan import EditPlan, plan_edit
from interfacegan.errors import InterfaceGANError

SLIDER_LIMIT = 100.0  # |value| above this is a typo, not an edit
MAX_PLANS = 1024  # slider plans (direction, conditions, layers) kept between requests


@dataclass(frozen=True)
class Direction:
    """One slider of the editor: a boundary under a unique `key`, a display `label` and a short `note`."""

    key: str
    boundary: Boundary
    label: str = ""
    note: str = ""

    @property
    def title(self) -> str:
        return self.label or self.boundary.attribute


def describe(boundary: Boundary) -> str:
    """A short note on where a boundary comes from: SeFa eigenvalue, SVM validation accuracy, conditions."""
    m = boundary.metrics or {}
    if boundary.kind == "sefa" and "eigenvalue" in m:
        return f"SeFa eigenvalue {m['eigenvalue']:.4g}"
    if boundary.kind == "svm" and m.get("val_accuracy") is not None:
        return f"SVM, val acc {m['val_accuracy']:.3f}"
    if boundary.kind == "conditional":
        return f"conditional, cos {m.get('cosine_with_primal', float('nan')):.3f} with its boundary"
    return boundary.kind


def make_directions(
    boundaries: Iterable[Boundary | Direction], labels: Mapping[str, str] | None = None
) -> list[Direction]:
    """Directions with unique keys (attribute, then attribute#2, ...); `labels` maps attribute -> what it moves
    (e.g. '+yaw' from names.json), shown as 'sefa_0 (+yaw)'."""
    labels = labels or {}
    out: list[Direction] = []
    seen: set[str] = set()
    for item in boundaries:
        d = item if isinstance(item, Direction) else Direction(item.attribute, item, note=describe(item))
        key, n = d.key, 2
        while key in seen:
            key, n = f"{d.key}#{n}", n + 1
        seen.add(key)
        named = labels.get(d.boundary.attribute, "")
        label = d.label or (f"{d.boundary.attribute} ({named})" if named else "")
        out.append(replace(d, key=key, label=label))
    return out


def editor_space(model, boundaries: Sequence[Boundary]) -> str:
    """The space the editor works in: 'wp' on style models when directions live in w/wp, else their common space."""
    spaces = sorted({b.space for b in boundaries})
    if "wp" in model.spaces and (not spaces or set(spaces) <= {"w", "wp"}):
        return "wp"
    if len(spaces) == 1 and spaces[0] in model.spaces:
        return spaces[0]
    if not spaces:
        return "z"
    raise InterfaceGANError(
        f"the directions live in spaces {', '.join(spaces)} of model {model.name!r}: the editor needs them all in z, "
        f"or all in w/wp (style models); load directions of one space"
    )


class Editor:
    """A model with its directions in one edit space; turns slider settings into plans, codes and images."""

    def __init__(self, model, directions: Sequence[Direction | Boundary]):
        self.model = model
        self.directions: dict[str, Direction] = {d.key: d for d in make_directions(directions)}
        if not self.directions:
            raise InterfaceGANError("the editor needs at least one direction: give boundaries or SeFa directions")
        self.space = editor_space(model, [d.boundary for d in self.directions.values()])
        self.code_shape = tuple(model.space_shape(self.space))
        self.num_layers = int(model.num_ws) if self.space == "wp" else None
        self._plans: dict[tuple, EditPlan] = {}
        for key in self.directions:
            self.plan(key)  # every direction fits the model (one-line error naming it otherwise)

    # ---- directions -----------------------------------------------------------------------------------------
    def direction(self, key: str) -> Direction:
        if key not in self.directions:
            keys = list(self.directions)
            listed = ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "")
            raise InterfaceGANError(f"unknown direction {key!r}: use one of {listed}")
        return self.directions[key]

    def default_layers(self, key: str) -> str | None:
        """The layers a direction moves unless told otherwise: those its boundary names (SeFa layers), else all."""
        if self.space != "wp":
            return None
        return (self.direction(key).boundary.settings or {}).get("layers") or "all"

    def plan(self, key: str, conditions: Sequence[str] = (), layers: str | None = None) -> EditPlan:
        """The plan slider `key` moves along: its direction kept orthogonal to the `conditions` (direction keys),
        on `layers` of W+ (default: `default_layers`). One-line errors for an unknown or self condition, layers on
        a Z editor, bad layers, a condition in another space, or a degenerate conditioning."""
        primal = self.direction(key)
        conds = tuple(dict.fromkeys(conditions))
        for c in conds:
            if c == key:
                raise InterfaceGANError(f"direction {key!r} cannot be conditioned on itself: untick it")
            self.direction(c)
        if layers in (None, ""):
            layers = self.default_layers(key)
        elif self.space != "wp":
            raise InterfaceGANError(
                f"layer ranges need a style model edited in W+; {self.model.name!r} is edited in {self.space!r}: "
                f"clear the layers of {key!r}"
            )
        cache = (key, conds, layers)
        plan = self._plans.get(cache)  # held here: another request may clear the cache meanwhile
        if plan is None:
            label = f"direction {key!r}"
            try:
                plan = plan_edit(self.model, primal.boundary, [self.direction(c).boundary for c in conds],
                                 space=self.space, layers=layers, label=label)  # fmt: skip
            except InterfaceGANError as exc:
                if not conds and str(exc).startswith(label):
                    raise
                where = f"conditioning {key!r} on {', '.join(conds)}" if conds else label
                raise InterfaceGANError(f"{where}: {exc}") from None
            if len(self._plans) >= MAX_PLANS:  # states come from the page: keep the cache bounded
                self._plans.clear()
            self._plans[cache] = plan
        return plan

    # ---- codes ----------------------------------------------------------------------------------------------
    def code_from_z(self, z: np.ndarray, truncation=None) -> np.ndarray:
        """One z (z_dim,) as a code of the edit space (mapped, with truncation on style models)."""
        z = np.asarray(z, dtype=np.float32).reshape(1, -1)
        if self.space == "z":
            return z[0]
        return self.model.map(z, self.space, truncation)[0]

    def code_from(self, code: np.ndarray, space: str) -> np.ndarray:
        """One code of `space` ('z', 'w' or 'wp') converted to the edit space: z is mapped, w broadcast to W+."""
        code = np.asarray(code, dtype=np.float32)
        self.model.check_codes(code[None], space)
        if space == self.space:
            return code.copy()
        if space == "z":
            return self.code_from_z(code)
        if space == "w" and self.space == "wp":
            return np.repeat(code[None], self.num_layers, axis=0)
        raise InterfaceGANError(
            f"a {space!r} code cannot be edited by directions in {self.space!r}: use directions of space {space!r}"
        )

    def session(self, code: np.ndarray, truncation=None) -> "EditSession":
        """A fresh session on `code` (*code_shape); `truncation` is used when rendering z codes of style models."""
        code = np.asarray(code, dtype=np.float32)
        if code.shape != self.code_shape:
            raise InterfaceGANError(f"the source code has shape {code.shape}, the editor edits {self.code_shape}")
        return EditSession(self, code, truncation=truncation)

    def synthesize(self, codes: np.ndarray, truncation=None) -> np.ndarray:
        """Images (N, H, W, 3) uint8 of codes (N, *code_shape); `truncation` applies to z codes of style models."""
        return self.model.synthesize(np.asarray(codes, dtype=np.float32), self.space, truncation=truncation)


@dataclass
class Slider:
    """The setting of one direction: offset `value` (unit-normal lengths), condition keys, W+ layer selection."""

    value: float = 0.0
    conditions: tuple[str, ...] = ()
    layers: str | None = None


@dataclass
class EditSession:
    """A source code (*code_shape) and the sliders applied to it; `edited_code()` is the code to render."""

    editor: Editor
    code: np.ndarray
    sliders: dict[str, Slider] = field(default_factory=dict)
    truncation: object = None  # a models.Truncation for rendering z codes of style models

    def slider(self, key: str) -> Slider:
        self.editor.direction(key)
        return self.sliders.setdefault(key, Slider())

    def set_value(self, key: str, value: float) -> None:
        value = float(value)
        if not np.isfinite(value) or abs(value) > SLIDER_LIMIT:
            raise InterfaceGANError(f"slider {key!r}: value {value} must be finite and within +-{SLIDER_LIMIT:g}")
        self.slider(key).value = value

    def set_conditions(self, key: str, conditions: Sequence[str]) -> None:
        for c in conditions:
            self.editor.direction(c)
        self.slider(key).conditions = tuple(dict.fromkeys(conditions))

    def set_layers(self, key: str, layers: str | None) -> None:
        self.slider(key).layers = self.editor.plan(key, (), layers).layer_text

    def reset(self) -> None:
        """Every slider back to zero, conditions and layers back to their defaults."""
        self.sliders.clear()

    def plan(self, key: str) -> EditPlan:
        """The plan slider `key` moves along with its current conditions and layers."""
        s = self.sliders.get(key) or Slider()
        return self.editor.plan(key, s.conditions, s.layers)

    def edited_code(self, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """The source code moved by every slider (values in `overrides` replace the sliders'), (*code_shape)."""
        return self.edited_codes([overrides or {}])[0]

    def edited_codes(self, overrides: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Codes (S, *code_shape): the current edit once per mapping of slider values that replace the sliders'."""
        for o in overrides:
            for key in o:
                self.editor.direction(key)
        plans = {key: self.plan(key) for key in dict.fromkeys([*self.sliders, *(k for o in overrides for k in o)])}
        out = []
        for o in overrides:
            values = {k: s.value for k, s in self.sliders.items()}
            values.update({k: float(v) for k, v in o.items()})
            code = self.code.copy()
            for key, value in values.items():
                if value != 0.0:
                    code = plans[key].edit(code, [value])[0]
            out.append(code.astype(np.float32))
        return np.stack(out) if out else np.zeros((0, *self.editor.code_shape), np.float32)

    def strip_codes(self, key: str, values: Sequence[float]) -> np.ndarray:
        """Codes (S, *code_shape): the current edit with slider `key` set to each of `values`."""
        return self.edited_codes([{key: float(v)} for v in values])

    def position(self, key: str, code: np.ndarray | None = None) -> float:
        """Signed distance n.x + b of the edited code to direction `key`'s hyperplane (mean over its W+ layers)."""
        s = self.sliders.get(key) or Slider()
        code = self.edited_code() if code is None else code
        return float(self.editor.plan(key, (), s.layers).distance(code))

    def render(self) -> np.ndarray:
        """The edited image (H, W, 3) uint8."""
        return self.editor.synthesize(self.edited_code()[None], self.truncation)[0]

    def render_strip(self, key: str, values: Sequence[float]) -> np.ndarray:
        """Images (S, H, W, 3) uint8: the current edit with slider `key` set to each of `values`."""
        return self.editor.synthesize(self.strip_codes(key, values), self.truncation)
