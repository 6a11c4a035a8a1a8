"""Directions for the editor from files and folders: boundary `.npz`, official `.npy`, `PATH:I`, direction stacks.

A folder contributes its `.npz` and `.npy` files (sorted); a plain (k, d) stack without `:I` contributes all k rows.
A `names.json` written by `interfacegan sefa --name-with` / `name-directions` beside the files labels them with
the attribute each moves most. Plain arrays do not say their space: it is `space` when given, else guessed from
their size: num_ws*w_dim values -> 'wp', else the space SeFa works in (`Generator.affine_space`: 'w' for style
models, 'z' otherwise) when the size fits it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary, pick_npz_array, load_direction
from interfacegan.errors import InterfaceGANError
from interfacegan.ui.session import Direction, describe, make_directions

_INDEXED = re.compile(r"^(.*):(-?\d+)$")
NAMES_FILE = "names.json"


def _is_boundary_npz(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return "normal" in data.files and "meta" in data.files
    except Exception as exc:
        raise InterfaceGANError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc})") from None


def _plain_shape(path: Path) -> tuple[int, ...]:
    """Shape of the direction array in a plain `.npy` / `.npz` (not a boundary archive)."""
    try:
        if path.suffix == ".npy":
            return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        with np.load(path, allow_pickle=False) as data:
            return tuple(data[pick_npz_array(list(data.files), path)].shape)
    except InterfaceGANError:
        raise
    except Exception as exc:
        raise InterfaceGANError(f"{path} is not a plain .npy/.npz array ({type(exc).__name__}: {exc})") from None


def _rows_and_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(number of directions, values per direction) of a plain array shaped (d,), (k, d) or (k, 1, d)."""
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 3 and shape[1] == 1:
        return shape[0], shape[2]
    if len(shape) == 2:
        return shape[0], shape[1]
    return 1, int(np.prod(shape))


def plain_defaults(model, size: int, space: str | None) -> dict:
    """Space (and code shape) of a plain direction with `size` values for `model` (see module docstring)."""
    if space is None:
        num_ws, w_dim = getattr(model, "num_ws", None), getattr(model, "w_dim", None)
        candidates = [model.affine_space, *model.spaces]
        if "wp" in model.spaces and num_ws and w_dim and size == num_ws * w_dim:
            space = "wp"
        else:
            space = next((s for s in candidates if s != "wp" and math.prod(model.space_shape(s)) == size), None)
        if space is None:
            raise InterfaceGANError(
                f"a plain direction of {size} values fits no latent space of model {model.name!r}: "
                "it was made for another model"
            )
    model.check_space(space)
    return {"space": space, "code_shape": tuple(model.space_shape(space))}


def names_labels(folder: Path) -> dict[str, str]:
    """{direction attribute: label such as '+yaw'} from `folder/names.json` ({} when there is none)."""
    path = folder / NAMES_FILE
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("directions", [])
        return {str(e["direction"]): str(e.get("label") or e.get("attribute") or "") for e in entries}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InterfaceGANError(f"{path} is not a names file of 'interfacegan sefa --name-with' ({exc})") from None


def _files(item: str) -> list[str]:
    path = Path(item)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".npz", ".npy") and not p.name.startswith("."))
        if not files:
            raise InterfaceGANError(f"{path} holds no .npz or .npy directions")
        return [str(p) for p in files]
    return [item]


def load_directions(model, items: Sequence[str], space: str | None = None) -> list[Direction]:
    """Directions from files, folders and `PATH:I` items (see module docstring), labelled from names.json."""
    boundaries: list[Boundary] = []
    labels: dict[str, str] = {}
    for item in items:
        for text in _files(str(item)):
            path, index = Path(text), None
            match = _INDEXED.match(text)
            if not path.exists() and match:
                path, index = Path(match.group(1)), int(match.group(2))
            if not path.is_file():
                raise InterfaceGANError(f"direction file {path} does not exist")
            if path.suffix not in (".npz", ".npy"):
                raise InterfaceGANError(f"{path}: directions are .npz boundaries or .npy arrays")
            labels.update(names_labels(path.parent))
            if path.suffix == ".npz" and _is_boundary_npz(path):
                boundaries.append(load_direction(path, index))
                continue
            rows, size = _rows_and_size(_plain_shape(path))
            defaults = plain_defaults(model, size, space)
            indices = [index] if index is not None or rows == 1 else list(range(rows))
            boundaries.extend(load_direction(path, i, **defaults) for i in indices)
    return make_directions([Direction(b.attribute, b, note=describe(b)) for b in boundaries], labels)


def model_named_by(items: Sequence[str]) -> str | None:
    """The model spec the first boundary `.npz` among `items` names (None when none does)."""
    for item in items:
        for text in _files(str(item)):
            path = Path(text)
            if path.suffix == ".npz" and path.is_file() and _is_boundary_npz(path):
                spec = Boundary.load(path).model
                if spec and spec != "unknown":
                    return spec
    return None
