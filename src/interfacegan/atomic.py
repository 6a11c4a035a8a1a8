"""Outputs appear whole or not at all: checked before any work, written under temporary names, renamed at the end.

    check_output(path, kind)   one line, before any work, unless `path` can become a 'file' or 'dir' output: not
                               the other kind, not under a file, not in a read-only place, not under /proc, /sys
                               or /dev, not through a link to nothing
    atomic_path(path)          one file (or a folder another library fills): write the temporary sibling it
                               yields; it is renamed onto `path` only when the block succeeds
    staged_dir(out)            a folder of outputs: write into the hidden folder it yields; when the block
                               succeeds its files move into `out` (created, or merged file by file: files of the
                               same name are replaced, the user's other files stay); on failure nothing moves

Nothing is created before the block succeeds, not even missing parent folders, so a refusal or a crash midway
leaves the output location as it was (a `kill -9` can leave a hidden `.NAME.*.partial` entry behind, never a
half-written output under its real name).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from interfacegan.errors import InterfaceGANError

SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
KINDS = ("file", "dir")
_NOUNS = {"file": "a file", "dir": "a folder"}


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above `path` that exists; a one-line error when a file stands in the way."""
    parent = path.parent
    while not (parent.exists() or parent == parent.parent):
        _no_dangling_link(path, parent)
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise InterfaceGANError(f"output {path} lies under {parent}, which is a file: choose a path in a folder")
    return parent


def _no_dangling_link(path: Path, entry: Path) -> None:
    """One line when `entry` (the output `path` or a folder above it) is a symbolic link to nothing: writing there
    would fail midway, or create folders wherever the link points."""
    if entry.is_symlink() and not entry.exists():
        raise InterfaceGANError(f"output {path}: {entry} is a link to {os.readlink(entry)}, which does not exist; "
                                "create it or choose another path")  # fmt: skip


def _writable(folder: Path) -> bool:
    """Whether this process may create entries in `folder` (a read-only mount refuses even root)."""
    effective = os.access in os.supports_effective_ids
    return os.access(folder, os.W_OK | os.X_OK, effective_ids=effective)


def check_output(path: str | os.PathLike, kind: str | None = "file") -> Path:
    """`path` as a Path when it can be written as `kind` ('file', 'dir', or None for either); else one line.

    Refused: a path under /proc, /sys or /dev; an existing entry of the other kind (or a device, pipe or socket);
    a path under a file; a place this process cannot write (a read-only mount, a folder without write access); a
    path that is, or lies under, a symbolic link to nothing. Nothing is created or written.
    """
    if kind not in (*KINDS, None):
        raise ValueError(f"kind must be 'file', 'dir' or None, got {kind!r}")
    path = Path(path)
    real = Path(os.path.realpath(path))
    for root in SYSTEM_ROOTS:
        if real == root or root in real.parents:
            raise InterfaceGANError(f"output {path} is under {root}, a system folder: write it elsewhere")
    _no_dangling_link(path, path)
    if path.exists():
        if kind == "dir" and not path.is_dir():
            raise InterfaceGANError(f"output {path} is a file, not a folder: choose a folder (new or existing)")
        if kind == "file" and path.is_dir():
            raise InterfaceGANError(f"output {path} is a folder, not a file: name a file (e.g. inside it)")
        if not (path.is_dir() or path.is_file()):
            raise InterfaceGANError(f"output {path} is not a regular file or folder: choose another path")
    folder = _existing_ancestor(path)
    receivers = [folder] + ([path] if path.is_dir() else [])
    for receiver in receivers:
        if not _writable(receiver):
            raise InterfaceGANError(
                f"output {path} cannot be written: {receiver} is read-only for this process; choose another place"
            )
    return path


def _os_error(path: Path, exc: OSError) -> InterfaceGANError:
    return InterfaceGANError(f"cannot write {path} ({exc.strerror or exc}): check the path and the free space")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path (same suffix); rename it onto `path` only if the block succeeds.

    The temporary path lies in the nearest existing folder above `path` (so on its filesystem); missing parent
    folders are created only on success. A folder written at the temporary path replaces a folder at `path`.
    """
    path = check_output(path, None)
    tmp = _existing_ancestor(path) / f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}"
    try:
        yield tmp
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if tmp.is_dir() and path.is_dir():
                shutil.rmtree(path)
            os.replace(tmp, path)
        except OSError as exc:
            raise _os_error(path, exc) from None
    finally:
        _remove(tmp)


def _moves(stage: Path, out: Path) -> list[tuple[Path, Path]]:
    """(staged file, its place in `out`) for every file of the stage; a one-line error, before anything moves,
    when a staged file or folder would land on an entry of the other kind."""
    moves = []
    for root, folders, files in os.walk(stage):
        rel = Path(root).relative_to(stage)
        for name in folders:
            target = out / rel / name
            if target.exists() and not target.is_dir():
                raise InterfaceGANError(f"cannot write into {target}: it is a file where a folder belongs; move it")
        for name in files:
            target = out / rel / name
            if target.is_dir():
                raise InterfaceGANError(f"cannot write {target}: it is a folder where a file belongs; move it")
            moves.append((Path(root) / name, target))
    return moves


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden folder to write a folder of outputs into; on success move its files into `out`.

    A new `out` appears at once (the stage is renamed onto it); into an existing `out` the files move one by one,
    replacing files of the same name and keeping every other file there. On failure (an error in the block, a
    refusal, Ctrl-C) the stage is removed and `out` is as it was. Stages nest: an API writing through its own
    `staged_dir` into a caller's stage commits into that stage.
    """
    out = check_output(out, "dir")
    home = out if out.is_dir() else _existing_ancestor(out)  # the stage lives on the filesystem of `out`
    stage = home / f".{out.name or 'output'}.{uuid.uuid4().hex[:8]}.partial"
    try:
        stage.mkdir()
    except OSError as exc:
        raise _os_error(out, exc) from None
    try:
        yield stage
        moves = _moves(stage, out)
        try:
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage, out)
                return
            for source, target in moves:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        except OSError as exc:
            raise _os_error(out, exc) from None
    finally:
        _remove(stage)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))
