"""The sample store: codes, images, scores and features of N samples in a chunked zarr group (a run directory).

Layout of RUN/ (a zarr v3 group; every array is chunked along rows in blocks of `chunk_rows`):
    codes/<space>        (N, *space_shape) float32     latent codes: z always; w, wp when asked for
    images               (N, H, W, 3) uint8            optional (full size or thumbnails)
    scores/<name>        (N,) float32                  attribute scores (NaN = scorer could not tell)
    features/<name>      (N, k) float32                vector outputs such as the identity descriptor
    progress/<task>      (num_chunks,) uint8           1 once chunk k of that task is completely written
The group attribute `interfacegan` holds the metadata (model, seed, spaces, truncation, created, ...). RUN is a
local directory or any fsspec URL (`s3://bucket/run`); `interfacegan.storage` says what each backend guarantees.

A store is claimed atomically: its root metadata, arguments included, is written with create-if-absent, so of
writers racing to create it with different arguments exactly one wins and the others find its arguments (and
refuse); array metadata is created the same way, so concurrent writers never trip over each other. Chunks of rows
are the unit of work: a task writes every array of a chunk, then sets its progress flag (`write_chunk`), so a run
killed at any moment resumes by redoing unflagged chunks, and many writers (machines) can fill disjoint chunks of
one store; a rerun also unflags chunks whose files have gone missing (`unflag_missing`). Every chunk is written,
even one of fill values, so reading a chunk that has no file, or one that does not decode, is an error naming it
(`store_reads`), never NaN. Engines that run the work of a task over the chunks live in `interfacegan.execution`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec
from zarr.core.sync import sync

from interfacegan import __version__
from interfacegan.atomic import check_output
from interfacegan.errors import InterfaceGANError
from interfacegan.storage import (
    PARTIAL_SUFFIX,
    Location,
    StrictReads,
    check_new_location,
    key_url,
    metadata_documents,
    parse_location,
    put_if_absent,
    read_key,
    refused_write,
    remove_stale_partials,
    stored_chunks,
    zarr_store,
)
from interfacegan.store_reads import StoreArray, checked_meta, repair_hint, short

logger = logging.getLogger(__name__)

STORE_FORMAT = 1
DEFAULT_CHUNK_ROWS = 1024
SAMPLE_TASK = "sample"  # the task that writes a run's codes; every other task needs it complete
_WRITE_CONFIG = {"write_empty_chunks": True}  # a chunk of fill values is written too: no file means not written


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def is_store(path: str | os.PathLike) -> bool:
    """True when `path` (a directory or URL) holds an interfacegan sample store."""
    try:
        return SampleStore.open(path, mode="r") is not None
    except (InterfaceGANError, OSError):
        return False


class SampleStore:
    """Read and write access to one run (see module docstring). `path` is the run's local directory (a `Path`)
    or its URL (a `str`); `storage_options` are fsspec's options for a URL. Pickled, a store reopens by location."""

    def __init__(self, location: Location, storage_options: dict | None = None, mode: str = "r+"):
        self.path, self.storage_options, self.mode = location, storage_options, mode
        self._zstore = zarr_store(location, read_only=mode == "r", storage_options=storage_options)
        self.group = zarr.open_group(self._zstore, mode="r" if mode == "r" else "r+")
        self._reads: zarr.Group | None = None  # the same group on StrictReads, opened on first read
        self._writers: dict[str, zarr.Array] = {}  # arrays written to, opened once (their metadata never changes)

    def __getstate__(self) -> dict:  # a local path travels absolute: workers may run in another directory
        path = self.path.absolute() if isinstance(self.path, Path) else self.path
        return {"path": path, "storage_options": self.storage_options, "mode": self.mode}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["storage_options"], state["mode"])

    # ---- opening ------------------------------------------------------------------------------------------
    @classmethod
    def claim(
        cls, path: str | os.PathLike, meta: dict[str, Any], storage_options: dict | None = None
    ) -> tuple["SampleStore", bool]:
        """The store at `path`, created with `meta` (which holds `num` and `chunk_rows`) unless another writer
        created it first: (store, created). Atomic (create-if-absent of the root metadata, see `storage`): the
        caller compares the store's arguments with its own. Refuses a location holding anything else."""
        location = parse_location(path)
        num, chunk_rows = meta.get("num"), meta.get("chunk_rows", DEFAULT_CHUNK_ROWS)
        if not isinstance(num, int) or num <= 0:
            raise InterfaceGANError(f"number of samples must be positive, got {num}")
        if not isinstance(chunk_rows, int) or chunk_rows <= 0:
            raise InterfaceGANError(f"chunk_rows must be positive, got {chunk_rows}")
        zstore = check_new_location(location, storage_options)
        full = {"format": STORE_FORMAT, "num": num, "chunk_rows": chunk_rows, "created": utc_now(),
                "version": __version__, **meta}  # fmt: skip
        ours = metadata_documents(lambda root: root.attrs.update({"interfacegan": full}))["zarr.json"]
        try:
            stored = put_if_absent(zstore, "zarr.json", ours)
        except OSError as exc:
            raise InterfaceGANError(f"cannot write the run to {location} ({exc}): choose another output") from None
        checked_meta(stored, key_url(location, "zarr.json"), STORE_FORMAT)
        return cls(location, storage_options), stored == ours

    @classmethod
    def create(cls, path: str | os.PathLike, num: int, meta: dict[str, Any], chunk_rows: int = DEFAULT_CHUNK_ROWS,
               storage_options: dict | None = None) -> "SampleStore":  # fmt: skip
        """Create an empty store for `num` samples; refuses a location that already has content."""
        store, created = cls.claim(path, {**meta, "num": num, "chunk_rows": chunk_rows}, storage_options)
        if not created:
            raise InterfaceGANError(f"{store.path} exists and is not empty: choose a new output directory")
        return store

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r+", storage_options: dict | None = None) -> "SampleStore":
        """Open an existing store; a clear error when `path` is not one (or its metadata is damaged)."""
        location = parse_location(path)
        if isinstance(location, Path) and not location.exists():
            raise InterfaceGANError(f"{location} does not exist: sample a run into it first (`interfacegan sample`)")
        document = read_key(zarr_store(location, read_only=True, storage_options=storage_options), "zarr.json")
        if document is None:
            raise InterfaceGANError(f"{location} is not an interfacegan sample store (no zarr metadata)")
        checked_meta(document, key_url(location, "zarr.json"), STORE_FORMAT)
        if mode != "r" and isinstance(location, Path):
            check_output(location, "dir")  # a run on a read-only mount: one line before any work, not an OSError
        return cls(location, storage_options, mode)

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
    def _node(self, name: str, group: zarr.Group | None = None) -> zarr.Array | zarr.Group | None:
        """The node `name` (None when absent); damaged metadata is one line naming its file."""
        group = self.group if group is None else group
        try:
            node = group[name] if name in group else None
            if node is not None and not isinstance(node.metadata.attributes, dict):
                raise ValueError(f"its attributes are {type(node.metadata.attributes).__name__}, not an object")
            return node
        except InterfaceGANError:
            raise
        except Exception as exc:  # zarr raises JSON or metadata errors for a damaged zarr.json
            document = key_url(self.path, f"{name}/zarr.json")
            hint = repair_hint(self.path, name, {}, chunk=False)
            target = document if "/" not in name and name != "images" else key_url(self.path, name)
            raise InterfaceGANError(f"{document} is damaged ({short(exc)}): delete {target}, then {hint}") from None

    def has(self, name: str) -> bool:
        return self._node(name) is not None

    def array(self, name: str) -> StoreArray:
        """Array `name` for reading: a missing or damaged chunk is an error naming it (see `store_reads`)."""
        if self._reads is None:
            self._reads = zarr.open_group(StrictReads(self._zstore, self.path), mode="r" if self.mode == "r" else "r+")
        node = self._node(name, self._reads)
        if not isinstance(node, zarr.Array):
            raise InterfaceGANError(f"{self.path} has no array {name!r}")
        array = StoreArray(node, self.path, name, self.chunk_rows, repair_hint(self.path, name, dict(node.attrs)))
        return array if name.startswith("progress/") else array.check_layout(self.meta)

    def _writable(self, name: str) -> zarr.Array:
        if name not in self._writers:
            self._writers[name] = self.group[name].with_config(_WRITE_CONFIG)
        return self._writers[name]

    def ensure_array(self, name: str, tail: tuple[int, ...], dtype: str, attrs: dict | None = None,
                     fill_value: Any = None, compress: bool = True) -> zarr.Array:  # fmt: skip
        """The (num, *tail) array `name`, created if missing; refuses one of another shape, dtype or `attrs`.

        Created with create-if-absent (see `storage`), so concurrent writers agree on one array. Chunks carry a
        CRC32C checksum, so a damaged chunk fails to read instead of decoding to wrong values. `compress=False`
        stores raw chunks: for data that barely compresses (synthesized images shrink by ~5%) it saves the
        writer a fifth of its CPU time, which the generator otherwise loses.
        """
        if fill_value is None:
            fill_value = np.nan if np.dtype(dtype).kind == "f" else 0
        codecs = (ZstdCodec(), Crc32cCodec()) if compress else (Crc32cCodec(),)
        return self._ensure(name, (self.num, *tail), (self.chunk_rows, *tail), dtype, fill_value, codecs, attrs)

    def _ensure(self, name, shape, chunks, dtype, fill_value, codecs, attrs) -> zarr.Array:
        documents = metadata_documents(
            lambda root: root.create_array(name=name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill_value,
                                           compressors=codecs, attributes=attrs or {})  # fmt: skip
        )
        for key, document in documents.items():
            if key != "zarr.json":  # the root is the store's claim, written once by `claim`
                put_if_absent(self._zstore, key, document)
        arr = self._node(name)
        if not isinstance(arr, zarr.Array):
            raise InterfaceGANError(f"{key_url(self.path, name)} is not an array: use a new output directory")
        if tuple(arr.shape) != tuple(shape) or np.dtype(arr.dtype) != np.dtype(dtype):
            raise InterfaceGANError(
                f"{self.path}: array {name!r} is {arr.shape} {arr.dtype}, expected {tuple(shape)} {dtype}; "
                "use a new output directory"
            )
        found = {k: arr.attrs.get(k) for k in attrs or {}}
        if attrs and found != attrs:
            raise InterfaceGANError(
                f"{self.path}: array {name!r} was made with {found}, not {attrs} (another writer at the same time?): "
                "use overwrite to replace it, or a prefix to keep both"
            )
        return arr

    def write_rows(self, name: str, start: int, values: np.ndarray) -> None:
        try:
            self._writable(name)[start : start + len(values)] = values
        except OSError as exc:  # e.g. a folder where a chunk file goes: one line naming it
            raise refused_write(self.path, name, start, start + len(values), exc) from None

    # ---- codes, images, scores ------------------------------------------------------------------------------
    def _children(self, group: str) -> list[str]:
        """Names of the arrays in `group` (codes, scores, features), from a listing of the store."""

        async def names() -> list[str]:
            return [n async for n in self._zstore.list_dir(group) if n != "zarr.json" and PARTIAL_SUFFIX not in n]

        found = sync(names()) if self._node(group) is not None else []
        return sorted(n for n in found if read_key(self._zstore, f"{group}/{n}/zarr.json") is not None)

    @property
    def spaces(self) -> list[str]:
        return self._children("codes")

    def codes_array(self, space: str = "z") -> StoreArray:
        if not isinstance(self._node(f"codes/{space}"), zarr.Array):
            raise InterfaceGANError(
                f"{self.path} has no codes in space {space!r} (it has: {', '.join(self.spaces) or 'none'}); "
                f"sample the run with {space!r} among its spaces"
            )
        return self.array(f"codes/{space}")

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
        return self.has("images")

    @property
    def sampled_arrays(self) -> list[str]:
        """The arrays the sample task writes: codes of every space, and images when the run has them."""
        return [f"codes/{s}" for s in self.spaces] + (["images"] if self.has_images else [])

    def images(self, rows: slice | np.ndarray) -> np.ndarray:
        arr = self.array("images")
        return arr[rows] if isinstance(rows, slice) else arr.get_orthogonal_selection((np.asarray(rows),))

    @property
    def score_names(self) -> list[str]:
        """Names of the scalar attribute scores in the store."""
        return self._children("scores")

    @property
    def feature_names(self) -> list[str]:
        return self._children("features")

    def scores(self, names: str | Iterable[str] | None = None, rows: slice | None = None) -> dict[str, np.ndarray]:
        """{name: float32 (N,)} for the requested (default: all) attribute scores; one name may be a string."""
        have = self.score_names
        names = [names] if isinstance(names, str) else list(names) if names is not None else have
        missing = [n for n in names if n not in have]
        if missing:
            raise InterfaceGANError(
                f"{self.path} has no scores {missing} (it has: {', '.join(have) or 'none'}); "
                "score the run with a scorer that writes them first (`interfacegan score`)"
            )
        sel = rows if rows is not None else slice(None)
        return {n: self.array(f"scores/{n}")[sel] for n in names}

    def score_info(self, name: str) -> dict[str, Any]:
        """The scorer name and version that produced `scores/<name>` or `features/<name>`."""
        for group in ("scores", "features"):
            node = self._node(f"{group}/{name}")
            if node is not None:
                return dict(node.attrs)
        raise InterfaceGANError(f"{self.path} has no score or feature named {name!r}")

    # ---- progress -----------------------------------------------------------------------------------------
    def _progress(self, task: str) -> zarr.Array:
        """The flags of `task` for writing, created if missing."""
        name = f"progress/{task}"
        if name not in self._writers:
            self._ensure(name, (self.num_chunks,), (1,), "uint8", 0, (ZstdCodec(),), None)
        return self._writable(name)

    def done_chunks(self, task: str) -> np.ndarray:
        """Boolean (num_chunks,) of the chunks `task` has completed (a flag without a file: not done)."""
        name = f"progress/{task}"
        node = self._node(name)
        if node is None:
            return np.zeros(self.num_chunks, dtype=bool)
        return StoreArray(node, self.path, name, 1, repair_hint(self.path, name, {}))[:].astype(bool)

    def pending_chunks(self, task: str, shard: tuple[int, int] = (0, 1)) -> list[int]:
        """Chunks of `task` still to do that belong to shard (index, count)."""
        index, count = shard
        done = self.done_chunks(task)
        return [k for k in range(self.num_chunks) if k % count == index and not done[k]]

    def mark_done(self, task: str, k: int) -> None:
        self._progress(task)[k] = 1

    def is_complete(self, task: str) -> bool:
        return bool(self.done_chunks(task).all())

    def missing_chunks(self, task: str, names: Iterable[str], chunks: Iterable[int] | None = None) -> list[int]:
        """Chunks flagged done for `task` (among `chunks`, default all) with a file missing in any array of `names`.

        Flags are read before the files are listed: a concurrent writer flags a chunk only after writing its
        files, so a chunk flagged by then is never mistaken for a missing one.
        """
        done = self.done_chunks(task)
        flagged = [k for k in (range(self.num_chunks) if chunks is None else chunks) if done[k]]
        if not flagged:
            return []
        present = [stored_chunks(self._zstore, name) if self.has(name) else set() for name in names]
        return [k for k in flagged if not all(k in p for p in present)]

    def unflag_missing(self, task: str, names: Iterable[str], chunks: Iterable[int] | None = None) -> list[int]:
        """Clear the flags of `missing_chunks` so the task's next run rewrites them; returns those chunks."""
        missing = self.missing_chunks(task, names, chunks)
        if missing:
            logger.warning("%s: %d chunk(s) of task %r were flagged done but have files missing (%s): redoing them",
                           self.path, len(missing), task, ", ".join(map(str, missing[:10])))  # fmt: skip
            flags = self._progress(task)
            for k in missing:
                flags[k] = 0
        return missing

    def write_chunk(self, task: str, k: int, start: int, arrays: dict[str, np.ndarray]) -> None:
        """Write every array of chunk k (rows from `start`), then flag the chunk done for `task`.

        The flag comes last, so a writer killed in between leaves the chunk unflagged and a rerun redoes it.
        """
        for name, values in arrays.items():
            self.write_rows(name, start, values)
        self.mark_done(task, k)

    def iter_chunks(self) -> Iterator[tuple[int, int, int]]:
        """(k, start, stop) for every chunk, for streaming reads."""
        return ((k, *self.chunk_range(k)) for k in range(self.num_chunks))

    def remove_partial_files(self, older_than_s: float = 600.0) -> int:
        """Delete temporary files killed writers left in a local store (see `storage.remove_stale_partials`)."""
        return remove_stale_partials(self.path, older_than_s)

    def delete(self, name: str) -> None:
        """Remove an array (e.g. scores to recompute)."""
        if self.has(name):
            sync(self._zstore.delete_dir(name))
            self.group = zarr.open_group(self._zstore, mode="r+")
            self._reads, self._writers = None, {}
