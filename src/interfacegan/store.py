"""The sample store: codes, images, scores and features of N samples in a chunked zarr group (a run directory).

Layout of RUN/ (a zarr v3 group; every array is chunked along rows in blocks of `chunk_rows`):
    codes/<space>        (N, *space_shape) float32     latent codes: z always; w, wp when asked for
    images               (N, H, W, 3) uint8            optional (full size or thumbnails)
    scores/<name>        (N,) float32                  attribute scores (NaN = scorer could not tell)
    features/<name>      (N, k) float32                vector outputs such as the identity descriptor
    progress/<task>      (num_chunks,) uint8           1 once chunk k of that task is completely written
The group attribute `interfacegan` holds the metadata (model, seed, spaces, truncation, created, ...).

Chunks of rows are the unit of work: a task writes every array of a chunk, then sets its progress flag
(`write_chunk`), so a run killed at any moment resumes by redoing unflagged chunks, and many writers (machines)
can fill disjoint chunks of one store. zarr writes each chunk file under a temporary name and renames it.
Engines that run the work of a task over the chunks live in `interfacegan.execution`.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import zarr

from interfacegan import __version__
from interfacegan.errors import InterfaceGANError

STORE_FORMAT = 1
DEFAULT_CHUNK_ROWS = 1024
SAMPLE_TASK = "sample"  # the task that writes a run's codes; every other task needs it complete


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def is_store(path: str | Path) -> bool:
    """True when `path` is a directory holding an interfacegan sample store."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        return False
    try:
        return "interfacegan" in zarr.open_group(str(path), mode="r").attrs
    except Exception:
        return False


class SampleStore:
    """Read and write access to one run directory (see module docstring)."""

    def __init__(self, group: zarr.Group, path: Path):
        self.group = group
        self.path = path

    # ---- opening ------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, num: int, meta: dict[str, Any], chunk_rows: int = DEFAULT_CHUNK_ROWS):
        """Create an empty store for `num` samples; refuses a path that already has content."""
        path = Path(path)
        if num <= 0:
            raise InterfaceGANError(f"number of samples must be positive, got {num}")
        if path.exists() and any(path.iterdir()):
            raise InterfaceGANError(f"{path} exists and is not empty: choose a new output directory")
        group = zarr.open_group(str(path), mode="w")
        group.attrs["interfacegan"] = {
            "format": STORE_FORMAT,
            "num": int(num),
            "chunk_rows": int(chunk_rows),
            "created": utc_now(),
            "version": __version__,
            **meta,
        }
        return cls(group, path)

    @classmethod
    def open(cls, path: str | Path, mode: str = "r+") -> "SampleStore":
        """Open an existing store; a clear error when `path` is not one."""
        path = Path(path)
        if not path.exists():
            raise InterfaceGANError(f"{path} does not exist: sample a run into it first (`interfacegan sample`)")
        if not is_store(path):
            raise InterfaceGANError(f"{path} is not an interfacegan sample store (no zarr metadata)")
        store = cls(zarr.open_group(str(path), mode=mode), path)
        fmt = store.meta.get("format")
        if fmt != STORE_FORMAT:
            raise InterfaceGANError(f"{path} has store format {fmt}, this version reads format {STORE_FORMAT}")
        return store

    # ---- metadata -----------------------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.group.attrs["interfacegan"])

    @property
    def num(self) -> int:
        return int(self.meta["num"])

    @property
    def chunk_rows(self) -> int:
        return int(self.meta["chunk_rows"])

    @property
    def num_chunks(self) -> int:
        return -(-self.num // self.chunk_rows)

    def chunk_range(self, k: int) -> tuple[int, int]:
        """Rows [start, stop) of chunk k."""
        return k * self.chunk_rows, min((k + 1) * self.chunk_rows, self.num)

    @property
    def truncation(self):
        """The `Truncation` the run was sampled with (psi 1 when the run does not say)."""
        from interfacegan.models.base import Truncation

        return Truncation(**(self.meta.get("truncation") or {}))

    # ---- arrays -------------------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self.group

    def array(self, name: str) -> zarr.Array:
        if name not in self.group:
            raise InterfaceGANError(f"{self.path} has no array {name!r}")
        return self.group[name]

    def ensure_array(
        self,
        name: str,
        tail: tuple[int, ...],
        dtype: str,
        attrs: dict | None = None,
        fill_value: Any = None,
        compress: bool = True,
    ) -> zarr.Array:
        """The (num, *tail) array `name`, created if missing; refuses one of another shape or dtype.

        `compress=False` stores raw chunks: for data that barely compresses (synthesized images shrink by ~5%)
        it saves the writer a fifth of its CPU time, which the generator otherwise loses.
        """
        shape = (self.num, *tail)
        if name in self.group:
            arr = self.group[name]
            if tuple(arr.shape) != shape or np.dtype(arr.dtype) != np.dtype(dtype):
                raise InterfaceGANError(
                    f"{self.path}: array {name!r} is {arr.shape} {arr.dtype}, expected {shape} {dtype}; "
                    "use a new output directory"
                )
            return arr
        if fill_value is None:
            fill_value = np.nan if np.dtype(dtype).kind == "f" else 0
        arr = self.group.create_array(
            name=name, shape=shape, chunks=(self.chunk_rows, *tail), dtype=dtype, fill_value=fill_value,
            compressors="auto" if compress else None,
        )  # fmt: skip
        if attrs:
            arr.attrs.update(attrs)
        return arr

    def write_rows(self, name: str, start: int, values: np.ndarray) -> None:
        self.group[name][start : start + len(values)] = values

    # ---- codes, images, scores ------------------------------------------------------------------------------
    @property
    def spaces(self) -> list[str]:
        return sorted(self.group["codes"].keys()) if "codes" in self.group else []

    def codes_array(self, space: str = "z") -> zarr.Array:
        if f"codes/{space}" not in self.group:
            raise InterfaceGANError(
                f"{self.path} has no codes in space {space!r} (it has: {', '.join(self.spaces) or 'none'}); "
                f"sample the run with {space!r} among its spaces"
            )
        return self.group[f"codes/{space}"]

    def codes(self, space: str = "z", rows: slice | np.ndarray | None = None) -> np.ndarray:
        """Latent codes in `space` (all rows, a slice, or an index array), float32."""
        arr = self.codes_array(space)
        if rows is None:
            return arr[:]
        if isinstance(rows, slice):
            return arr[rows]
        return arr.get_orthogonal_selection((np.asarray(rows),))

    @property
    def has_images(self) -> bool:
        return "images" in self.group

    def images(self, rows: slice | np.ndarray) -> np.ndarray:
        arr = self.array("images")
        return arr[rows] if isinstance(rows, slice) else arr.get_orthogonal_selection((np.asarray(rows),))

    def _names(self, group: str) -> list[str]:
        return sorted(self.group[group].keys()) if group in self.group else []

    @property
    def score_names(self) -> list[str]:
        """Names of the scalar attribute scores in the store."""
        return self._names("scores")

    @property
    def feature_names(self) -> list[str]:
        return self._names("features")

    def scores(self, names: Iterable[str] | None = None, rows: slice | None = None) -> dict[str, np.ndarray]:
        """{name: float32 (N,)} for the requested (default: all) attribute scores."""
        names = list(names) if names is not None else self.score_names
        missing = [n for n in names if n not in self.score_names]
        if missing:
            raise InterfaceGANError(
                f"{self.path} has no scores {missing} (it has: {', '.join(self.score_names) or 'none'}); "
                "score the run with a scorer that writes them first (`interfacegan score`)"
            )
        sel = rows if rows is not None else slice(None)
        return {n: self.group[f"scores/{n}"][sel] for n in names}

    def score_info(self, name: str) -> dict[str, Any]:
        """The scorer name and version that produced `scores/<name>` or `features/<name>`."""
        for group in ("scores", "features"):
            if f"{group}/{name}" in self.group:
                return dict(self.group[f"{group}/{name}"].attrs)
        raise InterfaceGANError(f"{self.path} has no score or feature named {name!r}")

    # ---- progress -----------------------------------------------------------------------------------------
    def _progress(self, task: str) -> zarr.Array:
        name = f"progress/{task}"
        if name not in self.group:
            self.group.create_array(name=name, shape=(self.num_chunks,), chunks=(1,), dtype="uint8", fill_value=0)
        return self.group[name]

    def done_chunks(self, task: str) -> np.ndarray:
        """Boolean (num_chunks,) of the chunks `task` has completed."""
        if f"progress/{task}" not in self.group:
            return np.zeros(self.num_chunks, dtype=bool)
        return self.group[f"progress/{task}"][:].astype(bool)

    def pending_chunks(self, task: str, shard: tuple[int, int] = (0, 1)) -> list[int]:
        """Chunks of `task` still to do that belong to shard (index, count)."""
        index, count = shard
        done = self.done_chunks(task)
        return [k for k in range(self.num_chunks) if k % count == index and not done[k]]

    def mark_done(self, task: str, k: int) -> None:
        self._progress(task)[k] = 1

    def is_complete(self, task: str) -> bool:
        return bool(self.done_chunks(task).all())

    def write_chunk(self, task: str, k: int, start: int, arrays: dict[str, np.ndarray]) -> None:
        """Write every array of chunk k (rows from `start`), then flag the chunk done for `task`.

        The flag comes last, so a writer killed in between leaves the chunk unflagged and a rerun redoes it.
        """
        for name, values in arrays.items():
            self.write_rows(name, start, values)
        self.mark_done(task, k)

    def iter_chunks(self) -> Iterator[tuple[int, int, int]]:
        """(k, start, stop) for every chunk, for streaming reads."""
        for k in range(self.num_chunks):
            yield (k, *self.chunk_range(k))

    def remove_partial_files(self, older_than_s: float = 600.0) -> int:
        """Delete temporary files a killed writer left behind; returns how many.

        Only files older than `older_than_s` go, so a live writer on another machine keeps its own.
        """
        removed, now = 0, time.time()
        for p in self.path.rglob("*.partial"):
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def delete(self, name: str) -> None:
        """Remove an array (e.g. scores to recompute)."""
        if name in self.group:
            target = self.path / name
            shutil.rmtree(target, ignore_errors=True)
            self.group = zarr.open_group(str(self.path), mode="r+")
