"""Reading a store without being lied to: damaged metadata, or a chunk that is missing or does not decode, is one line.

zarr reads a chunk without a file as the array's fill value (NaN codes, black images) and a damaged chunk raises
whatever its codec raises. `StoreArray` wraps a zarr array opened on `storage.StrictReads`: a missing chunk
becomes an `InterfaceGANError` naming the chunk file, the rows it holds and how to repair it, and so does a chunk
that fails to decode (found by reading the selection's chunks one by one, only once a read has failed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from interfacegan.errors import InterfaceGANError
from interfacegan.storage import Location, MissingChunk, chunk_index, key_url, parse_document


MAX_NUM = 2**40  # samples in one run: far above any real run, far below what numpy and zarr can index
_RECHECKS = "it re-checks chunk files and refills missing ones"


def checked_meta(document: bytes, where: str, store_format: int) -> dict[str, Any]:
    """The `interfacegan` metadata of a root zarr.json, checked enough to open the store; one line if not."""
    attrs = parse_document(document, where).get("attributes")
    meta = attrs.get("interfacegan") if isinstance(attrs, dict) else None
    if not isinstance(meta, dict):
        raise InterfaceGANError(f"{where} has no interfacegan metadata: not an interfacegan sample store")
    if meta.get("format") is None and meta.get("num") is None:
        raise InterfaceGANError(f"{where} is damaged (no store format): restore it, or sample into a new directory")
    if meta.get("format") != store_format:
        raise InterfaceGANError(f"{where}: store format {meta.get('format')!r}, this version reads {store_format}")
    for key in ("num", "chunk_rows"):
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_NUM:
            raise InterfaceGANError(f"{where} is damaged: {key!r} is {value!r:.40}, expected an integer in [1, 2**40]")
    return meta


def repair_hint(location: Location, name: str, attrs: dict[str, Any], chunk: bool = True) -> str:
    """How to rewrite a chunk (or, `chunk=False`, all) of array `name`: rerun the command that writes it (it
    refills missing chunks)."""
    if name.startswith("progress/"):
        return "the task's next run then redoes that chunk" if chunk else "the task's next run then redoes all of it"
    if "/" not in name and name != "images":  # a group's metadata: codes, scores, features, progress
        return "the next `interfacegan sample` or `interfacegan score` run writes it again"
    if name.startswith(("scores/", "features/")):
        scorer = attrs.get("scorer") or "SCORER"
        if scorer == "imported":
            return "import the run again (`interfacegan import-official`)"
        return f"run `interfacegan score {location} --scorer {scorer}` again ({_RECHECKS})"
    return f"run the same `interfacegan sample` command again ({_RECHECKS})"


def chunk_key(name: str, k: int, ndim: int) -> str:
    """The store key of row-chunk k of array `name` (zarr v3 default keys: NAME/c/k/0/...)."""
    return "/".join([name, "c", str(k), *["0"] * (ndim - 1)])


def short(exc: BaseException) -> str:
    """'Type: first line of the message' (at most 120 characters), for one-line errors."""
    lines = str(exc).splitlines()
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text[:117] + '...' if len(text) > 120 else text}"


def _rows(selection: Any, num: int) -> np.ndarray:
    """Row indices a selection reads (its first axis)."""
    first = selection[0] if isinstance(selection, tuple) and selection else selection
    if isinstance(first, slice):
        return np.arange(*first.indices(num))
    if first is Ellipsis or (isinstance(selection, tuple) and not selection):
        return np.arange(num)
    return np.arange(num)[np.asarray(first)].reshape(-1)


# The codec chains `SampleStore.ensure_array` writes: little-endian bytes, optionally zstd, then a CRC32C checksum
# (runs made before the checksum was added lack it). Any other chain (big-endian, a transpose) would decode other
# numbers from the same chunk files, so it is refused rather than read.
STORE_CODECS = {("bytes", "zstd", "crc32c"), ("bytes", "crc32c"), ("bytes", "zstd"), ("bytes",)}


def _codec_names(array: zarr.Array) -> tuple[str, ...]:
    """The names of `array`'s codecs in order, with 'bytes' spelled 'bytes/big' when big-endian."""
    names = []
    for codec in array.metadata.to_dict().get("codecs", ()):
        name = str(codec.get("name")) if isinstance(codec, dict) else str(codec)
        config = codec.get("configuration") if isinstance(codec, dict) else None
        endian = config.get("endian") if isinstance(config, dict) else None
        names.append(f"{name}/{endian}" if name == "bytes" and endian not in (None, "little") else name)
    return tuple(names)


class StoreArray:
    """A store array for reading (shape, dtype, attrs, `[...]`, `get_orthogonal_selection`); see module docstring."""

    def __init__(self, array: zarr.Array, location: Location, name: str, chunk_rows: int, repair: str):
        self._array, self.location, self.name = array, location, name
        self.chunk_rows, self.repair = chunk_rows, repair

    def check_layout(self, meta: dict[str, Any]) -> StoreArray:
        """This array, when its zarr.json declares the run's `num` rows in chunks of `chunk_rows` (codes: rows of the
        shape `model_info` gives their space); else one line: a tampered zarr.json would read other rows or columns."""
        num, info = meta["num"], meta.get("model_info")
        shapes = info.get("space_shapes") if isinstance(info, dict) and self.name.startswith("codes/") else None
        tail = shapes.get(self.name[len("codes/") :]) if isinstance(shapes, dict) else None
        tail = tuple(tail) if isinstance(tail, list) else None
        shape, chunks = tuple(self._array.shape), tuple(self._array.chunks)
        whole_rows = chunks[:1] == (self.chunk_rows,) and chunks[1:] == shape[1:]  # how `ensure_array` makes them
        document, folder = key_url(self.location, f"{self.name}/zarr.json"), key_url(self.location, self.name)
        if shape[:1] != (num,) or not whole_rows or (tail is not None and shape[1:] != tail):
            expected = (num, *tail) if tail is not None else f"({num}, ...)"
            raise InterfaceGANError(
                f"{document} is damaged: shape {shape} in chunks of {chunks[:1]} rows, the run expects {expected} in "
                f"chunks of {self.chunk_rows}: delete {folder}, then {self.repair}"
            )
        codecs = _codec_names(self._array)
        if codecs not in STORE_CODECS:
            raise InterfaceGANError(f"{document} is damaged: codecs {' -> '.join(codecs)}, the run writes "
                                    f"bytes (little-endian) -> [zstd ->] crc32c: delete {folder}, then {self.repair}")
        return self

    def __getattr__(self, attr: str) -> Any:  # shape, dtype, ndim, attrs, chunks, ...
        return getattr(self._array, attr)

    def __len__(self) -> int:
        return int(self._array.shape[0])

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._read(lambda: self._array[selection], selection)

    def get_orthogonal_selection(self, selection: Any) -> np.ndarray:
        return self._read(lambda: self._array.get_orthogonal_selection(selection), selection)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self[:], dtype=dtype)

    def _read(self, read, selection: Any) -> np.ndarray:
        try:
            return read()
        except MissingChunk as exc:
            first = self._first_missing(selection)  # reads run concurrently: name the first one, always the same
            if first is None:  # gone between the read and the check: the chunk zarr found missing
                first = (chunk_index(exc.key) or (None, None))[1]
            raise InterfaceGANError(self._message(first, "is missing")) from None
        except InterfaceGANError:
            raise
        except Exception as exc:  # a codec's error on a damaged chunk: find the chunk and name it
            raise InterfaceGANError(self._damaged(selection, exc)) from None

    def _message(self, k: int | None, what: str, fix: str = "") -> str:
        if k is None:
            return f"{key_url(self.location, self.name)} {what}: {fix}{self.repair}"
        start, stop = k * self.chunk_rows, min((k + 1) * self.chunk_rows, len(self))
        url = key_url(self.location, chunk_key(self.name, k, self._array.ndim))
        held = f"the flag of chunk {k}" if self.name.startswith("progress/") else f"rows {start}-{stop - 1}"
        return f"chunk file {url} ({held} of {self.name}) {what}: {fix}{self.repair}"

    def _chunks(self, selection: Any) -> np.ndarray:
        try:
            return np.unique(_rows(selection, len(self)) // self.chunk_rows)
        except Exception:  # noqa: BLE001  (a selection we cannot map to rows: name the array only)
            return np.zeros(0, dtype=int)

    def _first_missing(self, selection: Any) -> int | None:
        for k in self._chunks(selection):
            if not sync(self._array.store.exists(chunk_key(self.name, int(k), self._array.ndim))):
                return int(k)
        return None

    def _damaged(self, selection: Any, exc: Exception) -> str:
        for k in self._chunks(selection):
            try:
                self._array[int(k) * self.chunk_rows : (int(k) + 1) * self.chunk_rows]
            except Exception as probe:  # noqa: BLE001  (any codec error marks this chunk)
                return self._message(int(k), f"is damaged ({short(probe)})", "delete it, then ")
        return self._message(None, f"could not be read ({short(exc)})")
