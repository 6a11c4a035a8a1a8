"""The Boundary value: a hyperplane n.x + b = 0 in one latent space, and its `.npz` file format.

File format (`Boundary.save` / `Boundary.load`): one `.npz` archive, readable with `np.load(allow_pickle=False)`:
    normal     float32 (d,)    unit normal n (d = prod(code_shape); for a flattened W+ boundary d = num_ws*w_dim)
    intercept  float64 ()      b, in unit-normal units: distance(x) = x.n + b (positive side = high scores)
    meta       str ()          JSON: {"format": 1, "attribute", "space", "code_shape", "model", "model_info",
                               "kind" ('svm' | 'sefa' | 'ganspace' | 'imported' | 'conditional'), "metrics", "settings",
                               "created", "version"}
Official InterFaceGAN boundaries are plain float32 `.npy` arrays of shape (1, d) with no intercept: `to_official_npy`
writes one. Reading them (and every other direction file) is `interfacegan.directions.files`; learning boundaries
from scored samples is `interfacegan.learning`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from interfacegan import __version__
from interfacegan.atomic import atomic_path
from interfacegan.errors import InterfaceGANError, unreadable_array

BOUNDARY_FORMAT = 1
KINDS = ("svm", "sefa", "ganspace", "imported", "conditional")
# field -> (types, low, high, required) of the metadata JSON (`models.weights.read_json_config`'s checks)
META_FIELDS = {
    "format": ((int,), 0, 1 << 30, True), "attribute": ((str,), 1, 1000, False), "space": ((str,), 1, 16, False),
    "code_shape": ((list, type(None)), 1, 1 << 30, False), "model": ((str, type(None)), 0, 4096, False),
    "model_info": ((dict, type(None)), 0, 1000, False), "kind": ((str,), 1, 64, False),
    "metrics": ((dict, type(None)), 0, 10_000, False), "settings": ((dict, type(None)), 0, 10_000, False),
    "created": ((str, type(None)), 0, 100, False), "version": ((str, type(None)), 0, 100, False),
}  # fmt: skip


def _utc_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Boundary:
    """A unit normal and intercept in one latent space, with what it means and how it was obtained."""

    normal: np.ndarray
    intercept: float = 0.0
    attribute: str = "direction"
    space: str = "z"
    model: str | None = None
    model_info: dict | None = None
    kind: str = "svm"
    metrics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    code_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        normal = np.asarray(self.normal)
        if normal.dtype.kind not in "iuf":
            raise InterfaceGANError(f"boundary {self.attribute!r} has a normal of {normal.dtype} values, not numbers")
        normal = normal.astype(np.float64).reshape(-1)
        norm = float(np.linalg.norm(normal))
        if normal.size == 0 or not np.isfinite(norm) or norm == 0.0:
            raise InterfaceGANError(f"boundary {self.attribute!r} has a zero or non-finite normal: refit or re-export it")
        intercept = np.asarray(self.intercept, dtype=np.float64) if _is_number(self.intercept) else None
        if intercept is None or intercept.size != 1 or not np.isfinite(intercept).all():
            shown = (f"{intercept.reshape(-1)[0]:g}" if intercept is not None and intercept.size == 1 else
                     f"of shape {intercept.shape}" if intercept is not None else f"{self.intercept!r:.40}")  # fmt: skip
            raise InterfaceGANError(
                f"boundary {self.attribute!r} has intercept {shown}, not a finite number: refit or re-export it"
            )
        intercept = float(intercept.reshape(()))
        # Keep the hyperplane when normalising: (n.x + b)/|n| is the same plane in unit-normal units.
        self.normal = (normal / norm).astype(np.float32)
        self.intercept = intercept / norm if abs(norm - 1.0) > 1e-6 else intercept
        self.code_shape = tuple(int(s) for s in (self.code_shape or (normal.size,)))
        if math.prod(self.code_shape) != normal.size:
            raise InterfaceGANError(
                f"boundary {self.attribute!r}: code shape {self.code_shape} does not hold {normal.size} values"
            )
        if self.kind not in KINDS:
            raise InterfaceGANError(f"unknown boundary kind {self.kind!r}: use one of {', '.join(KINDS)}")

    # ---- geometry -----------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.normal.size)

    def distance(self, codes) -> np.ndarray:
        """Signed distances (N,) = codes.n + b for codes (N, *code_shape) (or one code -> a 0-d array)."""
        codes = np.asarray(codes, dtype=np.float64)
        single = codes.shape in (self.code_shape, (self.dim,))
        if single:
            return np.asarray(codes.reshape(-1) @ self.normal.astype(np.float64) + self.intercept)
        if math.prod(codes.shape[1:]) != self.dim:
            raise InterfaceGANError(
                f"codes of shape {codes.shape} do not fit boundary {self.attribute!r} of dimension {self.dim} "
                f"(space {self.space!r}, code shape {self.code_shape})"
            )
        return codes.reshape(len(codes), -1) @ self.normal.astype(np.float64) + self.intercept

    def direction(self) -> np.ndarray:
        """The unit normal shaped like one code, float32 `code_shape`."""
        return self.normal.reshape(self.code_shape)

    # ---- files --------------------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        return {
            "format": BOUNDARY_FORMAT,
            "attribute": self.attribute,
            "space": self.space,
            "code_shape": list(self.code_shape),
            "model": self.model,
            "model_info": self.model_info,
            "kind": self.kind,
            "metrics": _jsonable(self.metrics),
            "settings": _jsonable(self.settings),
            "created": self.settings.get("created") or _utc_now(),
            "version": __version__,
        }

    def save(self, path: str | Path) -> Path:
        """Write the `.npz` file described in the module docstring, atomically; returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            raise InterfaceGANError(f"boundary files end in .npz, got {path}: use e.g. {path.with_suffix('.npz')}")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                normal=self.normal.astype(np.float32),
                intercept=np.float64(self.intercept),
                meta=np.array(json.dumps(self.metadata())),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Boundary":
        """Read a boundary `.npz` written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise InterfaceGANError(f"boundary file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:
            raise InterfaceGANError(f"{path} is not a readable .npz boundary ({unreadable_array(exc)})") from None
        if "normal" not in arrays or "meta" not in arrays:
            raise InterfaceGANError(
                f"{path} holds {sorted(arrays)} but no 'normal'/'meta': not an interfacegan boundary "
                "(open plain directions with interfacegan.directions.load_direction)"
            )
        meta = _read_meta(arrays["meta"], path)
        settings = dict(meta.get("settings") or {})
        settings.setdefault("created", meta.get("created"))
        return cls(
            normal=arrays["normal"],
            intercept=arrays.get("intercept", 0.0),
            attribute=meta.get("attribute", path.stem),
            space=meta.get("space", "z"),
            model=meta.get("model"),
            model_info=meta.get("model_info"),
            kind=meta.get("kind", "svm"),
            metrics=dict(meta.get("metrics") or {}),
            settings=settings,
            code_shape=tuple(meta["code_shape"]) if meta.get("code_shape") else None,
        )

    @classmethod
    def from_vectors(
        cls,
        vectors: np.ndarray,
        path: str | Path,
        index: int | None = None,
        attribute: str | None = None,
        space: str = "z",
        model: str | None = None,
        code_shape: Sequence[int] | None = None,
    ) -> "Boundary":
        """Row `index` of directions (k, d) read from `path` as kind 'imported' (intercept 0); one row needs no index."""
        path = Path(path)
        if len(vectors) > 1 and index is None:
            raise InterfaceGANError(
                f"{path} holds {len(vectors)} directions: pick one with index (e.g. {path}:0 on the command line)"
            )
        i = 0 if index is None else index
        if not -len(vectors) <= i < len(vectors):
            raise InterfaceGANError(f"{path} holds {len(vectors)} directions, index {i} is out of range")
        vector = np.asarray(vectors[i], dtype=np.float64)
        return cls(
            normal=vector,
            intercept=0.0,
            attribute=attribute or (path.stem if index is None else f"{path.stem}_{i}"),
            space=space,
            model=model,
            kind="imported",
            settings={"source": str(path), "index": index, "original_norm": float(np.linalg.norm(vector))},
            code_shape=code_shape,
        )

    def to_official_npy(self, path: str | Path) -> Path:
        """Write the normal as the official format: float32 (1, d) `.npy` (the intercept is dropped)."""
        path = Path(path)
        if path.suffix != ".npy":
            raise InterfaceGANError(f"official boundaries are .npy files, got {path}")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, self.normal.reshape(1, -1).astype(np.float32))
        return path

    def with_normal(self, normal: np.ndarray, **changes) -> "Boundary":
        """A copy with another normal (e.g. a conditional direction); other fields as given or unchanged."""
        fields = dict(
            normal=normal, intercept=self.intercept, attribute=self.attribute, space=self.space, model=self.model,
            model_info=self.model_info, kind=self.kind, metrics=dict(self.metrics), settings=dict(self.settings),
            code_shape=self.code_shape,
        )  # fmt: skip
        fields.update(changes)
        return Boundary(**fields)


def _read_meta(stored: np.ndarray, path: Path) -> dict:
    """The metadata of a boundary file, every field of the type and size the format says (one line otherwise)."""
    from interfacegan.models.weights import read_json_config

    if stored.dtype.kind not in "SU" or stored.ndim != 0:
        raise InterfaceGANError(f"{path}: boundary metadata is {stored.dtype} {stored.shape}, not a JSON string")
    meta = read_json_config(str(stored), META_FIELDS, str(path), "boundary", "refit or re-export it")
    if meta["format"] != BOUNDARY_FORMAT:
        raise InterfaceGANError(f"{path} has boundary format {meta['format']}, this version reads {BOUNDARY_FORMAT}")
    return meta


def _is_number(value) -> bool:
    """A real number or a numeric array (bool excluded): what an intercept may be given as."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float, np.number)) or (isinstance(value, np.ndarray) and value.dtype.kind in "iuf")


def _jsonable(value):
    """Make numpy scalars/arrays in metadata JSON-serialisable."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
