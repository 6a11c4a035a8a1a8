"""Where a sample store's bytes live (a local directory or any fsspec URL) and what each backend guarantees.

A store location is a local directory (`Path`) or a URL that fsspec understands (`s3://bucket/run`, `gs://...`,
`memory://run`; credentials and endpoints come from the backend's usual environment, e.g. `AWS_ENDPOINT_URL`).
zarr v3 reaches both: `zarr.storage.LocalStore` for directories, `zarr.storage.FsspecStore` for URLs.

The store is built on two operations, whose guarantees depend on the backend:
- **Whole writes.** Every key (a chunk, a metadata document) is written whole or not at all: zarr's LocalStore
  writes a temporary `*.partial` file and renames it; an object store's PUT is atomic. A reader never sees half a
  chunk, so a writer killed at any instant leaves only whole keys (and, locally, stray `*.partial` files).
- **Create-if-absent** (`put_if_absent`), which makes claiming a store and creating its arrays safe among
  concurrent writers: exactly one writer's document is stored and every writer reads back the one that was.
  Local directories: the temporary file is hard-linked onto the key, which fails when it exists (zarr's
  `set_if_not_exists`): atomic. S3 and S3-compatible servers (AWS, MinIO, Ceph, moto): a PUT with
  `If-None-Match: *` (s3fs's `mode="create"`), which the server refuses when the key exists: atomic. Other fsspec
  backends without a conditional write (e.g. `memory://`): check, write, read back; two first writers racing within
  one round trip could both write, and the read-back then tells the later one only if the earlier one's write
  landed last. Concurrent writers with the same arguments are safe on every backend (their documents agree).
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any, Callable

import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, MemoryStore, WrapperStore

from interfacegan.atomic import check_output
from interfacegan.errors import InterfaceGANError

Location = Path | str  # a local directory, or the URL of a remote one
PARTIAL_SUFFIX = ".partial"  # zarr's LocalStore writes `<key>.<hex>.partial`, then renames it onto the key
_RESTORE = "restore it from a copy, or start anew elsewhere"
_CHUNK_KEY = re.compile(r"^(?P<array>.+)/c/(?P<index>\d+)(/\d+)*$")  # zarr v3 default chunk keys: ARRAY/c/i/j/...


def is_url(location: str | os.PathLike) -> bool:
    """True for a URL with a scheme other than file:// (a remote or in-memory store)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def parse_location(location: str | os.PathLike) -> Location:
    """A store location: the URL as given (without a trailing slash), or a local `Path` (file:// stripped)."""
    text = os.fspath(location)
    if is_url(text):
        return text.rstrip("/")
    return Path(text.removeprefix("file://"))


def local_leftovers(path: Path) -> list[str]:
    """Entries of a local directory other than a killed writer's temporary files."""
    if not path.exists():
        return []
    if not path.is_dir():
        raise InterfaceGANError(f"{path} is a file: choose a directory for the run")
    return [p.name for p in path.iterdir() if not p.name.endswith(PARTIAL_SUFFIX)]


def check_new_location(location: Location, storage_options: dict | None = None) -> Store:
    """The zarr store of `location` to create a sample store in (or to find one there); one line when it cannot be
    written (`atomic.check_output`: a file, under a file, read-only, a system folder) or holds anything else."""
    if isinstance(location, Path):
        check_output(location, "dir")
    store = zarr_store(location, storage_options=storage_options)

    def holds_something() -> bool:  # besides a killed writer's temporary files
        return bool(local_leftovers(location)) if isinstance(location, Path) else not sync(store.is_empty(""))

    # Content without a claim is someone else's, unless a racing writer claimed in between: read it again.
    if read_key(store, "zarr.json") is None and holds_something() and read_key(store, "zarr.json") is None:
        raise InterfaceGANError(f"{location} exists and is not empty: choose a new output location")
    return store


def remove_stale_partials(location: Location, older_than_s: float = 600.0) -> int:
    """Delete temporary files that killed writers left in a local store; returns how many (0 for a URL, whose
    writes leave none). Only files older than `older_than_s` go, so a live writer elsewhere keeps its own."""
    if not isinstance(location, Path):
        return 0
    removed, now = 0, time.time()
    for p in location.rglob(f"*{PARTIAL_SUFFIX}"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def key_url(location: Location, key: str) -> str:
    """Where `key` of the store at `location` lives, to name it in messages (a file path or a URL)."""
    return f"{str(location).rstrip('/')}/{key}"


def zarr_store(location: Location, read_only: bool = False, storage_options: dict | None = None) -> Store:
    """The zarr store of `location`: a LocalStore for a directory, an FsspecStore for a URL."""
    if isinstance(location, Path):
        return LocalStore(location, read_only=read_only)
    try:
        return FsspecStore.from_url(location, storage_options=storage_options, read_only=read_only)
    except (ImportError, ValueError) as exc:
        raise InterfaceGANError(
            f"cannot open {location} ({exc}): install the fsspec backend of its scheme (s3fs for s3://, gcsfs for "
            "gs://, adlfs for az://), e.g. pip install 'interfacegan[distributed]'"
        ) from None
    except OSError as exc:  # a scheme that connects at once (ftp://, sftp://)
        raise _unreachable(location, exc) from None


def _unreachable(location, exc: OSError) -> InterfaceGANError:
    from interfacegan.store_reads import short

    return InterfaceGANError(f"cannot reach {location} ({short(exc)}): check the address, the network and the "
                             "credentials")  # fmt: skip


def read_key(store: Store, key: str) -> bytes | None:
    """The bytes stored at `key`, or None when it does not exist; one line when a remote store cannot be reached
    (the first read of every open or claim)."""
    try:
        buffer = sync(store.get(key, prototype=default_buffer_prototype()))
    except OSError as exc:
        if not isinstance(store, FsspecStore):
            raise
        raise _unreachable(f"{store.fs.unstrip_protocol(store.path)}", exc) from None
    return None if buffer is None else buffer.to_bytes()


def put_if_absent(store: Store, key: str, data: bytes) -> bytes:
    """Store `data` at `key` unless the key exists; returns what `key` holds afterwards (`data` when this call
    created it, the earlier writer's bytes otherwise). Atomic on local directories and S3 (see module docstring)."""
    if isinstance(store, FsspecStore):
        try:
            sync(store.fs._pipe_file(f"{store.path}/{key}", data, mode="create"))
        except (FileExistsError, OSError):
            pass  # refused because the key exists (a precondition failure); the read-back below tells
    else:
        sync(store.set_if_not_exists(key, default_buffer_prototype().buffer.from_bytes(data)))
    stored = read_key(store, key)
    if stored is None:
        raise InterfaceGANError(f"could not write {key} to the store: check that the location is writable")
    return stored


def metadata_documents(build: Callable[[zarr.Group], Any]) -> dict[str, bytes]:
    """{key: bytes} of the zarr metadata that `build(root)` creates, made by zarr in memory (parents first).

    Lets the store write each document with `put_if_absent` instead of zarr's check-then-write.
    """
    documents: dict = {}
    build(zarr.open_group(MemoryStore(documents), mode="w"))
    keys = sorted(documents, key=lambda k: (k.count("/"), k))
    return {key: documents[key].to_bytes() for key in keys}


def parse_document(data: bytes, where: str) -> dict:
    """A zarr metadata document (JSON object); a one-line error naming `where` when it is damaged."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InterfaceGANError(f"{where} is damaged ({exc}): {_RESTORE}") from None
    if not isinstance(doc, dict):
        raise InterfaceGANError(f"{where} is damaged (not a JSON object): {_RESTORE}")
    return doc


def chunk_index(key: str) -> tuple[str, int] | None:
    """(array path, row-chunk index) of a chunk key, or None when `key` is not a chunk."""
    match = _CHUNK_KEY.match(key)
    return (match["array"], int(match["index"])) if match else None


def stored_chunks(store: Store, array: str) -> set[int]:
    """Row-chunk indices whose files exist for `array` (one listing; temporary files ignored)."""

    async def collect() -> set[int]:
        found = set()
        async for key in store.list_prefix(f"{array}/c/"):
            parsed = chunk_index(key)
            if parsed is not None and parsed[0] == array:
                found.add(parsed[1])
        return found

    return sync(collect())


def refused_write(location: Location, name: str, start: int, stop: int, exc: OSError) -> InterfaceGANError:
    """One line for rows [start, stop) of array `name` that the file system refused to write, naming the entry."""
    entry = exc.filename2 or exc.filename  # a rename's target, else the file refused
    return InterfaceGANError(f"cannot write rows {start}-{stop - 1} of {key_url(location, name)} ({exc.strerror or exc}"
                             f"{f': {entry}' if entry else ''}): delete what stands in the way or free space, then run "
                             "the command again")  # fmt: skip


class MissingChunk(InterfaceGANError):
    """A chunk of a data array has no file (never written, or deleted). `key` is the chunk's store key."""

    def __init__(self, location: Location, key: str):
        self.key = key
        super().__init__(f"chunk file {key_url(location, key)} is missing")


def _refuse_special_file(path: Path) -> None:
    """An OSError unless `path` is missing or a regular file (after links): a device such as /dev/zero reads without
    end and a pipe blocks, so neither is ever read as a chunk (the readers report it as a damaged chunk)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise OSError(f"not a regular file but {_KINDS.get(stat.S_IFMT(mode), 'a special file')}")


_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFIFO: "a pipe",
          stat.S_IFSOCK: "a socket"}  # fmt: skip


class StrictReads(WrapperStore):
    """Reads of `store` where a missing chunk of a data array raises `MissingChunk` instead of zarr's fill value
    (NaN codes, black images). Progress flags are exempt: a missing flag means "not done". For readers only:
    zarr reads a chunk before writing part of it, and that read may find none."""

    def __init__(self, store: Store, location: Location):
        super().__init__(store)
        self.location = location

    async def get(self, key, prototype, byte_range=None):
        if isinstance(self._store, LocalStore):
            _refuse_special_file(Path(self._store.root) / key)
        value = await self._store.get(key, prototype, byte_range)
        if value is None and not key.startswith("progress/") and chunk_index(key) is not None:
            raise MissingChunk(self.location, key)
        return value

    def _with_store(self, store: Store) -> "StrictReads":
        return type(self)(store, self.location)
