"""Reading torch checkpoint files and copying their tensors into our modules, each failure as one line.

Files are read with `torch.load(weights_only=True)` only, so no code from a file ever runs; a state dict is
checked key by key and shape by shape before anything is copied. Every model loader uses these two functions.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError


def read_torch_checkpoint(path: str | Path) -> object:
    """`torch.load(path, weights_only=True)` on CPU; a missing, corrupt, truncated or code-carrying file -> one line.

    `argparse.Namespace` is allowed (rosinality's training checkpoints store their arguments as one).
    """
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"checkpoint {path} not found: check the path")
    safe = getattr(torch.serialization, "safe_globals", None)
    allow = safe([argparse.Namespace]) if safe is not None else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), allow:
            warnings.simplefilter("ignore")  # e.g. torch's note on pickle protocols; failures raise below
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise InterfaceGANError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is executed
        raise InterfaceGANError(f"cannot load checkpoint {path}: {describe_load_error(exc)}") from None


def read_tagged_file(path: str | Path, tag: str, version: int, what: str, fix: str) -> dict:
    """One of our own torch files (encoder, translator, ...): a dict whose "format" is `tag` and whose "version" is
    at most `version`, read with `weights_only=True`. A missing, corrupt, foreign or newer file -> one line ending
    in `fix` (what the user should give instead)."""
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"{what} file {path} does not exist: {fix}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - not a torch file, truncated, or holding objects a safe load refuses
        raise InterfaceGANError(f"cannot read {what} {path} ({describe_load_error(exc)}): {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != tag:
        raise InterfaceGANError(f"{path} is not an interfacegan {what} file: {fix}")
    if not isinstance(payload.get("version"), int) or payload["version"] > version:
        raise InterfaceGANError(f"{path} was written by a newer interfacegan (or is damaged): upgrade to read it")
    return payload


def write_tagged_file(path: str | Path, tag: str, version: int, payload: dict) -> Path:
    """Save `payload` (tensors and plain containers) with "format" `tag` and "version" to `path` atomically: the
    files `read_tagged_file` reads."""
    from interfacegan.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": tag, "version": version, **payload}, tmp)
    return path


def describe_load_error(exc: Exception) -> str:
    """One line saying why `torch.load(weights_only=True)` refused or failed."""
    text = str(exc)
    blocked = re.search(r"unsupported GLOBAL ([\w.]+)|Unsupported global: GLOBAL ([\w.]+)", text)
    if blocked:
        name = blocked.group(1) or blocked.group(2)
        return (
            f"it holds the Python object `{name}`, which would run code when unpickled; refused (only plain "
            "tensor checkpoints are loaded: re-save the weights as a state dict)"
        )
    if isinstance(exc, EOFError) or "central directory" in text or "Unsupported operand" in text:
        return "the file is corrupt or truncated (not a complete torch checkpoint): download or save it again"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {first[:200]} (the file is corrupt or not a torch checkpoint)"


def describe_keys(obj, shown: int = 6) -> str:
    """What a loaded file holds, for 'unknown layout' errors: its first keys, or its type when it is no dict."""
    return ", ".join(map(str, list(obj)[:shown])) if isinstance(obj, dict) else type(obj).__name__


def _some(keys: list[str], shown: int = 4) -> str:
    more = f" (+{len(keys) - shown} more)" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def load_state_checked(
    net: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    problem: str,
    optional: re.Pattern | None = None,
) -> None:
    """Copy `state` into `net` after checking every key and shape; one-line InterfaceGANError naming `source`.

    `problem` heads the error for missing or unexpected keys (e.g. 'weights do not fit the architecture'); keys
    of `net` matching `optional` may be absent from `state` (the module keeps its own values). Values are cast
    to the dtype of the module's tensors.
    """
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not (optional is not None and optional.search(k))]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {_some(missing)}"] if missing else []
        parts += [f"unexpected {_some(unexpected)}"] if unexpected else []
        raise InterfaceGANError(f"{source}: {problem} ({'; '.join(parts)})")
    for key, target in expected.items():
        value = state.get(key)
        if value is not None and tuple(value.shape) != tuple(target.shape):
            raise InterfaceGANError(
                f"{source}: {key!r} has shape {tuple(value.shape)} but the architecture inferred from the file "
                f"expects {tuple(target.shape)}: unknown or inconsistent checkpoint layout"
            )
    with torch.no_grad():
        for key, target in expected.items():
            if key in state:
                target.copy_(state[key].to(target.dtype))
