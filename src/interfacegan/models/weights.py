"""Reading torch checkpoint files and copying their tensors into our modules, each failure as one line.

Files are read with `torch.load(weights_only=True)` only, so no code from a file ever runs. Before torch allocates
anything, what the file declares is bounded by its size (zip records, the storages a legacy file declares); after
loading, every tensor must fit its storage (no zero-stride views declaring giant shapes) and all of them together
a small multiple of the file size. A state dict is checked key by key and shape by shape against the network
built on the meta device (no memory) before the real network is allocated, and must hold finite values only.
Every model loader uses these functions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.safe_pickle import declared_storage_bytes, iter_tensors, legacy_storage_bytes

# Tensors of a file may view at most this multiple of its size (shared storages), plus a fixed allowance.
VIEW_BYTES_PER_FILE_BYTE = 4
VIEW_BYTES_ALLOWANCE = 64 << 20
ZIP_BYTES_ALLOWANCE = 1 << 20
# torch.save's legacy (non-zip) format starts with a pickled magic number.
LEGACY_TORCH_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def read_torch_checkpoint(path: str | Path) -> object:
    """`torch.load(path, weights_only=True)` on CPU; a missing, corrupt, truncated, oversized-by-declaration or
    code-carrying file -> one line.

    `argparse.Namespace` is allowed (rosinality's training checkpoints store their arguments as one).
    """
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"checkpoint {path} not found: check the path")
    try:
        return load_torch_bounded(path)
    except OSError as exc:
        raise InterfaceGANError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is executed
        raise InterfaceGANError(f"cannot load checkpoint {path}: {describe_load_error(exc)}") from None


class OversizedCheckpoint(ValueError):
    """What a file declares does not fit in the file (a crafted size, shape or stride)."""


def load_torch_bounded(source: str | Path | bytes) -> object:
    """`torch.load(weights_only=True)` of a path or of bytes, with the declared sizes bounded before and the
    loaded tensors checked after (see the module docstring); raises OversizedCheckpoint or torch's own errors."""
    data = source if isinstance(source, (bytes, bytearray)) else None
    size = len(data) if data is not None else Path(source).stat().st_size
    with (io.BytesIO(data) if data is not None else open(source, "rb")) as f:
        _check_declared_sizes(f, size)
        f.seek(0)
        safe = getattr(torch.serialization, "safe_globals", None)
        allow = safe([argparse.Namespace]) if safe is not None else contextlib.nullcontext()
        with warnings.catch_warnings(), allow:
            warnings.simplefilter("ignore")  # e.g. torch's note on pickle protocols; failures raise below
            obj = torch.load(f, map_location="cpu", weights_only=True)
    check_tensor_views(obj, size)
    return obj


def _check_declared_sizes(f, size: int) -> None:
    if zipfile.is_zipfile(f):
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            records = {info.filename: info for info in archive.infolist()}
            total = sum(info.file_size for info in records.values())
            if total > 2 * size + ZIP_BYTES_ALLOWANCE:
                raise OversizedCheckpoint(f"its zip records unpack to {total} bytes from a {size}-byte file")
            pickles = [name for name in records if name.endswith("data.pkl")]
            if len(pickles) != 1:
                return  # not a torch zip: torch.load reports it
            prefix = pickles[0][: -len("data.pkl")]
            declared = declared_storage_bytes(archive.read(pickles[0]))
        for key, nbytes in declared.items():
            record = records.get(f"{prefix}data/{key}")
            if record is None or nbytes > record.file_size:
                held = "no" if record is None else f"{record.file_size} bytes of"
                raise OversizedCheckpoint(f"storage {key} declares {nbytes} bytes but the file holds {held} data")
        return
    f.seek(0)
    if LEGACY_TORCH_MAGIC not in f.read(64):
        return  # neither zip nor legacy torch: torch.load reports what it is
    f.seek(0)
    declared = legacy_storage_bytes(f, size)
    if declared > size:
        raise OversizedCheckpoint(f"its storages declare {declared} bytes but the file has {size}")


def check_tensor_views(obj, size: int) -> None:
    """Every tensor in `obj` views no more elements than its storage holds, and all views together stay within
    VIEW_BYTES_PER_FILE_BYTE times the file size; raises OversizedCheckpoint naming the first offender."""
    budget = VIEW_BYTES_PER_FILE_BYTE * size + VIEW_BYTES_ALLOWANCE
    try:
        tensors = list(iter_tensors(obj))
    except ValueError as exc:
        raise OversizedCheckpoint(str(exc)) from None
    for where, tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        held = tensor.untyped_storage().nbytes()
        if nbytes > held:
            raise OversizedCheckpoint(
                f"tensor {where or '(root)'} declares shape {tuple(tensor.shape)} with strides {tensor.stride()} "
                f"over a storage of {held} bytes (overlapping views are refused)"
            )
        budget -= nbytes
        if budget < 0:
            raise OversizedCheckpoint(f"its tensors view far more bytes than the {size}-byte file holds")


def read_tagged_file(path: str | Path, tag: str, version: int, what: str, fix: str) -> dict:
    """One of our own torch files (encoder, translator, ...): a dict whose "format" is `tag` and whose "version" is
    at most `version`, read with `weights_only=True`. A missing, corrupt, foreign or newer file -> one line ending
    in `fix` (what the user should give instead)."""
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"{what} file {path} does not exist: {fix}")
    try:
        payload = load_torch_bounded(path)
    except Exception as exc:  # noqa: BLE001 - not a torch file, truncated, oversized or holding code
        raise InterfaceGANError(f"cannot read {what} {path} ({describe_load_error(exc)}): {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != tag:
        raise InterfaceGANError(f"{path} is not an interfacegan {what} file: {fix}")
    if not isinstance(payload.get("version"), int) or payload["version"] > version:
        raise InterfaceGANError(f"{path} was written by a newer interfacegan (or is damaged): upgrade to read it")
    return payload


def read_json_config(text, fields: dict[str, tuple], source: str, what: str, fix: str) -> dict:
    """A JSON object from a file's config string with every field checked before anything is built from it.

    `fields` maps a name to (types, low, high, required): numbers must lie in [low, high] (bool is not a number),
    strings and dicts have at most `high` characters / items, lists (shapes) at most 8 integers in [low, high];
    unknown names are refused. Broken JSON, other types, values out of range -> one line naming `source` and `fix`.
    """

    def fail(reason: str):
        raise InterfaceGANError(f"{source} has a broken {what} config ({reason}): {fix}")

    try:
        data = json.loads(text) if isinstance(text, (str, bytes)) else fail(f"a {type(text).__name__}, not JSON")
    except (ValueError, RecursionError) as exc:
        fail(f"{type(exc).__name__}: not valid JSON")
    if not isinstance(data, dict):
        fail(f"a {type(data).__name__}, not an object")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        fail(f"unknown field(s) {', '.join(map(str, unknown[:5]))}")
    for name, (types, low, high, required) in fields.items():
        if name not in data:
            if required:
                fail(f"no {name}")
            continue
        value = data[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            fail(f"{name} is {value!r:.40}, not {' or '.join(t.__name__ for t in types)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            fail(f"{name} {value!r} is outside [{low}, {high}]")
        if isinstance(value, (str, dict)) and len(value) > high:
            fail(f"{name} is too long ({len(value)})")
        items_ok = isinstance(value, list) and all(type(v) is int and low <= v <= high for v in value)
        if isinstance(value, list) and not (items_ok and len(value) <= 8):
            fail(f"{name} must hold at most 8 integers in [{low}, {high}]")
    return data


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
    if isinstance(exc, OversizedCheckpoint):
        return f"{text}: the file is corrupt or crafted; refused before allocating"
    if isinstance(exc, RecursionError):
        return "it nests objects too deeply: the file is corrupt or crafted"
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


def build_checked(
    make_net: Callable[[], torch.nn.Module],
    state: Mapping[str, torch.Tensor],
    source: str,
    problem: str,
    optional: re.Pattern | None = None,
) -> torch.nn.Module:
    """`make_net()` holding `state`: built first on the meta device (no memory) and checked key by key and shape by
    shape, so an architecture read from a crafted file is refused before anything of its size is allocated. When
    the file holds every parameter and buffer, the checked meta network is materialised empty and filled (no
    random initialisation to pay for); otherwise `make_net()` is built for its own values of the optional ones."""
    probe = check_buildable(make_net, state, source, problem, optional)
    tensors = {name for name, _ in probe.named_parameters()} | {name for name, _ in probe.named_buffers()}
    complete = set(probe.state_dict()) == tensors and all(k in state for k in tensors)
    net = probe.to_empty(device="cpu") if complete else make_net()
    _copy_state(net, state)
    return net


def check_buildable(make_net: Callable[[], torch.nn.Module], state: Mapping[str, torch.Tensor], source: str,
                    problem: str, optional: re.Pattern | None = None) -> torch.nn.Module:  # fmt: skip
    """`check_state_fits` on `make_net()` built on the meta device (returned): the network's size is checked
    against the file's tensors without allocating it."""
    with torch.device("meta"):
        probe = make_net()
    check_state_fits(probe, state, source, problem, optional)
    return probe


def check_state_fits(net: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str, problem: str,
                     optional: re.Pattern | None = None) -> None:  # fmt: skip
    """One-line InterfaceGANError naming `source` unless `state` has every key of `net` (except `optional` ones),
    no other key, the same shapes, and finite floating-point values only."""
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
    check_finite(state, source)


def check_finite(state: Mapping[str, torch.Tensor], source: str) -> None:
    """One-line InterfaceGANError naming the first tensor of `state` holding NaN or infinite values."""
    for key, value in state.items():  # min and max are NaN or infinite exactly when some value is
        if value.is_floating_point() and value.numel() and not torch.isfinite(torch.stack(torch.aminmax(value))).all():
            raise InterfaceGANError(
                f"{source}: tensor {key!r} holds NaN or infinite values: the file is corrupt (download or save it)"
            )


def load_state_checked(
    net: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    problem: str,
    optional: re.Pattern | None = None,
) -> None:
    """Copy `state` into `net` after `check_state_fits`; one-line InterfaceGANError naming `source`.

    `problem` heads the error for missing or unexpected keys (e.g. 'weights do not fit the architecture'); keys
    of `net` matching `optional` may be absent from `state` (the module keeps its own values). Values are cast
    to the dtype of the module's tensors.
    """
    check_state_fits(net, state, source, problem, optional)
    _copy_state(net, state)


def _copy_state(net: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for key, target in net.state_dict().items():
            if key in state:
                target.copy_(state[key].to(target.dtype))
