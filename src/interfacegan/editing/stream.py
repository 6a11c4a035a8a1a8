"""Edited codes and their images, streamed in bounded blocks: the editing engine the rest of the package calls.

`edit_plan` decides the space and W+ layers of an edit and checks that a boundary fits the model; `edited_codes`
moves codes (offset or to a distance, optionally layer-wise); `edited_batches` / `edit_images` synthesize them.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from interfacegan.editing.manipulation import edit_layers, edit_offset, edit_to_distance
from interfacegan.errors import InterfaceGANError

def _direction_array(model, direction, space: str, layers) -> np.ndarray:
    from interfacegan.directions.boundary import Boundary

    if isinstance(direction, Boundary):
        if layers is None:
            direction.check_fits(space, model.space_shape(space), getattr(model, "spec", None) or None)
        elif space != "wp":
            raise InterfaceGANError(f"layer-wise edits need W+ codes (space 'wp'), not {space!r}")
        return direction.normal
    return np.asarray(direction, dtype=np.float32)


def edited_batches(
    model,
    codes: np.ndarray,
    space: str,
    direction,
    alphas: Sequence[float],
    batch_size: int = 64,
    layers: str | Sequence[int] | None = None,
    truncation=None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Images of codes (N, *space_shape) edited by x + alpha*direction for each alpha (S,), block by block.

    Yields (start, stop, images (n*S, H, W, 3) uint8) with image i*S + s showing row start + i at alpha s; a block
    holds about `batch_size` images, so memory stays bounded. `direction` is an array or Boundary; with `layers`,
    codes are W+ and only those layers move (`edit_layers`). Arguments are checked on the call, not on first use.
    """
    codes = np.asarray(codes, dtype=np.float32)
    model.check_codes(codes, space)
    alphas = np.asarray(alphas, dtype=np.float32).reshape(-1)
    if len(alphas) == 0:
        raise InterfaceGANError("give at least one edit step (alpha)")
    if batch_size <= 0:
        raise InterfaceGANError(f"batch size must be positive, got {batch_size}")
    vector = _direction_array(model, direction, space, layers)
    return _edited_batches(model, codes, space, vector, alphas, batch_size, layers, truncation)


def _edited_batches(model, codes, space, vector, alphas, batch_size, layers, truncation):
    s = len(alphas)
    per_batch = max(1, batch_size // s)
    for start in range(0, len(codes), per_batch):
        part = codes[start : start + per_batch]
        flat = edited_codes(part, vector, alphas, layers=layers).reshape(len(part) * s, *codes.shape[1:])
        yield start, start + len(part), model.synthesize(flat, space, batch_size=batch_size, truncation=truncation)


def check_boundary(model, boundary, label: str | None = None) -> None:
    """One-line error unless `boundary` (called `label`, default its attribute) fits `model`: a space the model
    has, the dimension of that space, and the model it was made for."""
    label = label or f"boundary {boundary.attribute!r}"
    if boundary.space not in model.spaces:
        raise InterfaceGANError(
            f"{label} lives in space {boundary.space!r}, which model {model.name!r} does not "
            f"have ({', '.join(model.spaces)}): it was made for another model"
        )
    spec = getattr(model, "spec", None) or None
    boundary.check_fits(boundary.space, model.space_shape(boundary.space), spec, what=f"of model {model.name!r}")


def edit_plan(model, boundary, space: str | None = None, layers=None) -> tuple[str, str | None]:
    """(space of the codes to edit, layer selection or None) for editing `model` codes with `boundary`.

    A w-space (or flattened W+) boundary edits W+ codes layer-wise when `layers` is given or the boundary names
    style layers (SeFa on chosen layers); otherwise codes are edited in the boundary's own space. Raises a
    one-line error when the boundary's model, space or dimension does not fit.
    """
    check_boundary(model, boundary)
    if layers is None and space in (None, "wp") and boundary.space == "w" and "wp" in model.spaces:
        layers = (boundary.settings or {}).get("layers") or ("all" if space == "wp" else None)
    if layers is not None:
        if boundary.space not in ("w", "wp") or "wp" not in model.spaces:
            raise InterfaceGANError(
                f"layer-wise edits need a style model and a w or wp boundary; {boundary.attribute!r} is in "
                f"{boundary.space!r} of {model.name!r}: drop --layers"
            )
        if space not in (None, "wp"):
            raise InterfaceGANError(f"layer-wise edits move W+ codes: use --space wp (or drop it), not {space!r}")
        return "wp", str(layers)
    if space is not None and space != boundary.space:
        model.check_space(space)
        boundary.check_fits(space, model.space_shape(space), getattr(model, "spec", None) or None)
    return boundary.space, None


def run_codes(store, model, space: str, rows: slice | np.ndarray) -> np.ndarray:
    """Codes of store `rows` in `space`: read when stored, else mapped from the stored z (run's truncation)."""
    if space in store.spaces:
        return store.codes(space, rows=rows)
    return model.map(store.codes("z", rows=rows), space, store.truncation)


def edited_codes(codes, direction, values, mode: str = "offset", intercept: float = 0.0, along=None, layers=None):
    """Codes (N, S, *code_shape) for step `values` (S,): offsets, or target distances with mode 'distance'."""
    if mode == "offset":
        if along is not None:
            direction = along
        if layers is not None:
            return edit_layers(codes, direction, values, layers)
        return edit_offset(codes, direction, values)
    if mode == "distance":
        if layers is not None:
            raise InterfaceGANError("editing to a distance moves whole codes: use --mode offset with --layers")
        return edit_to_distance(codes, direction, intercept, values, along=along)
    raise InterfaceGANError(f"unknown edit mode {mode!r}: use 'offset' or 'distance'")


def edit_images(model, codes, space: str, direction, values, mode: str = "offset", intercept: float = 0.0,
                along=None, layers=None, batch_size: int = 64, truncation=None) -> np.ndarray:  # fmt: skip
    """Images (N, S, H, W, 3) uint8 of codes (N, *space_shape) edited at each step value (see edited_codes)."""
    codes = np.asarray(codes, dtype=np.float32)
    model.check_codes(codes, space)
    edited = edited_codes(codes, direction, values, mode, intercept, along, layers)
    n, s = edited.shape[:2]
    images = model.synthesize(edited.reshape(n * s, *codes.shape[1:]), space, batch_size=batch_size,
                              truncation=truncation)  # fmt: skip
    return images.reshape(n, s, *images.shape[1:])


def edit_codes_for(model, boundary, num: int, seed: int = 0, truncation=None):
    """(codes, space, layers) to edit with `boundary`: `num` fresh samples, in W+ when it names style layers."""
    space, layers = edit_plan(model, boundary)
    return model.map(model.sample(num, seed), space, truncation), space, layers
