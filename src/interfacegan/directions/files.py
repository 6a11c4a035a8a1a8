"""THE reader of every direction file (boundary `.npz`, official `.npy`, stacks, GANSpace, SeFa folders + names).

Items are a path, `PATH:I` (row I of a stack) or a folder. One shape rule for every plain array (a `.npy`, or the
direction array of a plain `.npz`: `lat_comp` (GANSpace), `directions`, `boundary`, `normal`, or its only array):
a 1-D array is one direction; otherwise its first axis counts the directions and each row, flattened, is one.
So (d,) and (1, d) (official InterFaceGAN) hold 1; (k, d) (SeFa/GANSpace stacks) k; (k, 1, d) (GANSpace) k;
(1, num_ws, w_dim) one W+ direction. A boundary `.npz` (`normal` + `meta`, `Boundary.save`) is one direction that
says its own space and model.

`read_directions` gives every direction of its items: a folder gives its `.npz`/`.npy` files in natural order
(sefa_2 before sefa_10), skipping an `.npy` beside a same-named `.npz` (that boundary's official export); a stack
without `:I` gives all its rows. `load_direction` gives exactly one (a stack of several needs `:I`).
Plain arrays do not say their space: it is `space` when given; else, with a `model` (a Generator), guessed from
their size: num_ws*w_dim values -> 'wp', else the first of the model's SeFa space (`affine_space`) and its other
spaces whose code has that size; else 'z'. When the model's code in that space has that size, the direction gets
its code shape. A folder's `names.json` (`write_names`: `sefa --name-with`, `name-directions`) labels directions
with the attribute each moves most (`read_names`, `direction_labels`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from interfacegan.atomic import write_text_atomic
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError, unreadable_array

NAMES_FILE = "names.json"
PLAIN_SPACE = "z"  # the space of a plain array read without a space or a Generator to guess it from
NPZ_KEYS = ("lat_comp", "directions", "boundary", "normal")  # GANSpace components, generic stacks
_INDEXED = re.compile(r"^(.*):(-?\d+)$")


# ---- reading ----------------------------------------------------------------------------------------------------
def read_directions(items: Iterable[str | Path], model=None, space: str | None = None) -> list[Boundary]:
    """Every direction of files, folders and `PATH:I` items, by the module docstring's rules."""
    out: list[Boundary] = []
    for item in items:
        for path, index in _expand(item):
            rows = _read_file(path)
            if isinstance(rows, Boundary):
                _check_single(path, index)
                out.append(rows)
                continue
            indices = [index] if index is not None or len(rows) == 1 else list(range(len(rows)))
            out.extend(_plain(rows, path, i, model, space) for i in indices)
    return out


def load_direction(
    item: str | Path,
    model=None,
    space: str | None = None,
    index: int | None = None,
    attribute: str | None = None,
) -> Boundary:
    """Exactly one direction: a boundary `.npz`, a one-row array, or row `index` (or `PATH:I`) of a stack.

    `model` is a Generator (guesses the space of plain arrays, see module docstring) or a model spec, which plain
    arrays are then marked with; `attribute` names a plain array's direction (default: the file stem, `_I` added).
    """
    path, parsed = _split_index(item)
    index = parsed if index is None else index
    if path.is_dir():
        raise InterfaceGANError(f"{path} is a folder: name one direction file in it (or read all with read_directions)")
    rows = _read_file(path)
    if isinstance(rows, Boundary):
        _check_single(path, index)
        return rows
    if len(rows) > 1 and index is None:
        raise InterfaceGANError(f"{path} holds {len(rows)} directions: pick one with {path}:I (index I from 0)")
    return _plain(rows, path, index, model, space, attribute)


def model_named_by(items: Sequence[str | Path]) -> str | None:
    """The model spec the first boundary `.npz` among `items` names (None when none does)."""
    for item in items:
        for path, _ in _expand(item):
            found = _read_file(path) if path.suffix == ".npz" else None
            if isinstance(found, Boundary) and found.model and found.model != "unknown":
                return found.model
    return None


def _split_index(item: str | Path) -> tuple[Path, int | None]:
    text = str(item)
    match = _INDEXED.match(text)
    if match and not Path(text).exists():
        return Path(match.group(1)), int(match.group(2))
    return Path(text), None


def _expand(item: str | Path) -> list[tuple[Path, int | None]]:
    """(file, index) pairs of one item: a folder's direction files, or the item itself."""
    path, index = _split_index(item)
    if not path.is_dir():
        return [(path, index)]
    files = [p for p in path.iterdir() if p.suffix in (".npz", ".npy") and not p.name.startswith(".")]
    stems = {p.stem for p in files if p.suffix == ".npz"}
    files = sorted((p for p in files if not (p.suffix == ".npy" and p.stem in stems)), key=_natural_key)
    if not files:
        raise InterfaceGANError(f"{path} holds no .npz or .npy directions")
    return [(p, None) for p in files]


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _read_file(path: Path) -> Boundary | np.ndarray:
    """A boundary `.npz` as a Boundary, or a plain array's directions as rows (k, d) float64."""
    if not path.is_file():
        raise InterfaceGANError(f"direction file {path} does not exist")
    if path.suffix not in (".npz", ".npy"):
        raise InterfaceGANError(f"{path}: directions are .npz boundaries or .npy arrays")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as data:
                files = list(data.files)
                if "normal" in files and "meta" in files:
                    return Boundary.load(path)
                array = data[_npz_key(files, path)]
    except InterfaceGANError:
        raise
    except Exception as exc:
        raise InterfaceGANError(f"{path} is not a readable plain array ({unreadable_array(exc)})") from None
    return _rows(array, path)


def _npz_key(files: list[str], path: Path) -> str:
    """The key of the direction array in a plain .npz (GANSpace `lat_comp`, `directions`, ... or its only array)."""
    for key in NPZ_KEYS:
        if key in files:
            return key
    if len(files) == 1:
        return files[0]
    raise InterfaceGANError(f"{path} holds arrays {files}: save the direction(s) alone, or as 'directions'")


def _rows(array: np.ndarray, path: Path) -> np.ndarray:
    """The shape rule of the module docstring: (d,) -> one row; (k, ...) -> k rows, each flattened."""
    if array.dtype.kind not in "fiu":
        raise InterfaceGANError(f"{path} holds {array.dtype} values, not numbers")
    if array.ndim == 0 or array.size == 0:
        raise InterfaceGANError(f"{path} has shape {array.shape}: expected (d,), (1, d), (k, d) or (k, 1, d)")
    rows = array.reshape(1, -1) if array.ndim == 1 else array.reshape(len(array), -1)
    return rows.astype(np.float64)


def _check_single(path: Path, index: int | None) -> None:
    if index not in (None, 0):
        raise InterfaceGANError(f"{path} is a single boundary: drop the index {index}")


def _plain(rows: np.ndarray, path: Path, index, model, space, attribute=None) -> Boundary:
    """Row `index` of a plain array as an 'imported' Boundary in the space the module docstring's rule gives."""
    size = rows.shape[1]
    if model is None or isinstance(model, str):
        space, spec, code_shape = space or PLAIN_SPACE, model, None
    else:
        space = space or _guess_space(model, size)
        model.check_space(space)
        shape = tuple(model.space_shape(space))
        spec, code_shape = model.info.spec, shape if math.prod(shape) == size else None
    return Boundary.from_vectors(rows, path, index, attribute=attribute, space=space, model=spec,
                                 code_shape=code_shape)  # fmt: skip


def _guess_space(model, size: int) -> str:
    num_ws, w_dim = getattr(model, "num_ws", None), getattr(model, "w_dim", None)
    if "wp" in model.spaces and num_ws and w_dim and size == num_ws * w_dim:
        return "wp"
    for space in (model.affine_space, *model.spaces):
        if space != "wp" and math.prod(model.space_shape(space)) == size:
            return space
    raise InterfaceGANError(
        f"a plain direction of {size} values fits no latent space of model {model.name!r}: "
        "it was made for another model (or give its space)"
    )


# ---- names.json -------------------------------------------------------------------------------------------------
def write_names(path: str | Path, entries: Sequence[Any], settings: dict) -> Path:
    """Write names.json: {"settings": settings, "directions": [entry.as_dict() or entry, ...]}, atomically."""
    directions = [e.as_dict() if hasattr(e, "as_dict") else dict(e) for e in entries]
    payload = {"settings": settings, "directions": directions}
    return write_text_atomic(path, json.dumps(payload, indent=2, default=float) + "\n")


def read_names(folder: str | Path) -> dict[str, str]:
    """{direction attribute: label such as '+yaw'} from `folder/names.json` ({} when there is none)."""
    path = Path(folder) / NAMES_FILE
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("directions", [])
        return {str(e["direction"]): str(e.get("label") or e.get("attribute") or "") for e in entries}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InterfaceGANError(f"{path} is not a names file of 'interfacegan sefa --name-with' ({exc})") from None


def direction_labels(items: Iterable[str | Path]) -> dict[str, str]:
    """The names.json labels of every folder that `items` (files, folders, `PATH:I`) read from."""
    labels: dict[str, str] = {}
    for item in items:
        for folder in dict.fromkeys(path.parent for path, _ in _expand(item)):
            labels.update(read_names(folder))
    return labels
