"""Bounded pickle reading shared by every checkpoint reader: no code runs, no class changes, no unbounded work.

Two tools. `BoundedUnpickler` is a pure-Python unpickler that resolves only the globals its caller allows,
applies BUILD (`__setstate__`) only to objects it created itself and only for the types its caller names (never
to a class or function, so a pickle cannot replace a loader's `__init__`), refuses the class-instantiating
opcodes INST / OBJ, reads through a `BoundedReader` (no read may ask for more bytes than the file has left), and
charges every call for the size of its arguments against a budget proportional to the file size (a small file
cannot make it call `set` on one memoised list a million times). `declared_storage_bytes` dry-runs a torch
pickle (legacy `torch.save` files and the `data.pkl` of zip files) with inert placeholders for every global, to
learn how many bytes its tensor storages declare before torch allocates them.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Iterable

import numpy as np

# Work a pickle may cause, per byte of file, before it is refused (plus a fixed allowance for tiny files).
WORK_PER_BYTE = 8
WORK_ALLOWANCE = 1 << 22

# Bytes per element of torch's legacy storage classes (`torch.FloatStorage`, ...), for the dry run.
STORAGE_ELEMENT_BYTES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "UntypedStorage": 1,
}  # fmt: skip
_TORCH_DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
                      "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16}  # fmt: skip


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class BoundedReader:
    """A read-only view of a binary file that refuses any read asking for more bytes than remain."""

    def __init__(self, raw, size: int):
        self.raw, self.remaining = raw, int(size)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.remaining
        if n > self.remaining:
            raise pickle.UnpicklingError(f"a field declares {n} bytes but only {self.remaining} remain in the file")
        data = self.raw.read(n)
        self.remaining -= len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        line = self.raw.readline(min(self.remaining, 1 << 16))
        self.remaining -= len(line)
        return line

    def peek(self, n: int = 1) -> bytes:  # pickle's framing never needs it; kept for file-like duck typing
        return b""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)) else 1


class BoundedUnpickler(pickle._Unpickler):
    """See the module docstring. `allowed` maps (module, name) to what the global resolves to; `buildable` lists
    the types whose instances (made by this unpickler) may receive BUILD state; dict instances drop theirs."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, size: int, allowed: dict[tuple[str, str], Any], buildable: tuple[type, ...] = (),
                 budget: int | None = None):  # fmt: skip
        super().__init__(BoundedReader(file, size))
        self._allowed, self._buildable = allowed, buildable
        self._budget = WORK_PER_BYTE * int(size) + WORK_ALLOWANCE if budget is None else int(budget)
        self._created: dict[int, Any] = {}

    def charge(self, units: int) -> None:
        """Spend `units` of the work budget; refuse the pickle when it runs out."""
        self._budget -= int(units)
        if self._budget < 0:
            raise pickle.UnpicklingError("the pickle asks for far more work than its size allows (a pickle bomb?)")

    def find_class(self, module: str, name: str):
        found = self._allowed.get((module, name))
        if found is None:
            raise RefusedGlobal(module, name)
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed in this pickle")

    def _made(self, obj):
        self._created[id(obj)] = obj
        return obj

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not isinstance(args, tuple):
            raise pickle.UnpicklingError("call arguments are not a tuple")
        self.charge(1 + sum(_size(a) for a in args))
        self.stack[-1] = self._made(func(*args))

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, type) or not isinstance(args, tuple):
            raise pickle.UnpicklingError("NEWOBJ on something that is not a class")
        self.charge(1 + sum(_size(a) for a in args))
        self.append(self._made(cls.__new__(cls, *args)))

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        if kwargs:
            raise pickle.UnpicklingError("NEWOBJ_EX with keyword arguments")
        self.load_newobj()

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        self.charge(1 + _size(state))
        if self._created.get(id(inst)) is not inst:
            raise pickle.UnpicklingError(
                f"the pickle sets the state of {type(inst).__name__} {getattr(inst, '__name__', '')}, an object it did "
                "not create (it could change a class or function): refused"
            )
        if isinstance(inst, dict):
            return  # attributes of a dict (e.g. an OrderedDict's `_metadata`) are dropped, never set
        if not isinstance(inst, self._buildable):
            raise pickle.UnpicklingError(f"the pickle sets the state of a {type(inst).__name__}: refused")
        inst.__setstate__(state)

    def load_refused(self):
        raise pickle.UnpicklingError("class-instantiating opcodes (INST, OBJ) are not allowed")

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.INST[0]] = load_refused
    dispatch[pickle.OBJ[0]] = load_refused


# ---- plain data: the globals any restricted unpickler may allow (containers, bytes, numpy arrays and scalars) --
class TypeMarker:
    """Stands for a type a pickle names only as an argument (e.g. numpy's `ndarray` in `_reconstruct`): not callable,
    so a pickle cannot call the type itself (numpy.ndarray((10**12,)) would allocate)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


NDARRAY_TYPE = TypeMarker("numpy.ndarray")


def _numpy_dtype(obj, align=False, copy=False):
    dtype = np.dtype(obj, bool(align), True)  # always a copy: BUILD must never reach numpy's shared dtypes
    if dtype.hasobject:
        raise pickle.UnpicklingError("numpy object arrays are not allowed")
    return dtype


def _numpy_reconstruct(subtype, shape, dtype_code):
    if subtype is not NDARRAY_TYPE:
        raise pickle.UnpicklingError("numpy array subclass")
    if tuple(shape) != (0,):  # numpy pickles an empty array and sets its real shape and data with BUILD
        raise pickle.UnpicklingError(f"numpy array reconstructed with shape {shape}, not (0,)")
    return np.ndarray.__new__(np.ndarray, (0,), dtype_code)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("malformed numpy scalar")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0].copy()


def _bytearray(data=b"", encoding=None):
    if not isinstance(data, (bytes, str)):  # bytearray(n) would allocate n bytes
        raise pickle.UnpicklingError("bytearray from something that is not bytes or text")
    return bytearray(data, encoding) if isinstance(data, str) else bytearray(data)


def _numpy_frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("malformed numpy buffer")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


def _plain_data_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): dict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): _bytearray,
        ("_codecs", "encode"): lambda text, encoding="latin1": str(text).encode(str(encoding)),
        ("numpy", "ndarray"): NDARRAY_TYPE,
        ("numpy", "dtype"): _numpy_dtype,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _numpy_reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = _numpy_scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_frombuffer
    return allowed


PLAIN_DATA_GLOBALS = _plain_data_globals()
PLAIN_DATA_BUILDABLE = (np.ndarray, np.dtype)  # numpy sets an array's shape and data, a dtype's byte order, by BUILD


# ---- dry run of torch pickles --------------------------------------------------------------------------------
class _Inert:
    """What every global and every call resolves to in a dry run: records its name, runs nothing."""

    __slots__ = ("name", "args")

    def __init__(self, name: str, args: tuple = ()):
        self.name, self.args = name, args

    def __call__(self, *args):
        return _Inert(self.name, args)

    def __setitem__(self, key, value):  # SETITEM(S), APPEND(S), ADDITEMS on a placeholder container: nothing kept
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass

    def add(self, value):
        pass


class _DryRun(BoundedUnpickler):
    """Resolves every global to an inert placeholder and records the storages the persistent ids declare."""

    dispatch = dict(BoundedUnpickler.dispatch)

    def __init__(self, file, size: int):
        super().__init__(file, size, allowed={})
        self.storages: dict[str, int] = {}  # storage key -> declared bytes

    def find_class(self, module: str, name: str):
        return _Inert(f"{module}.{name}")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {type(pid).__name__}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"storage {key} declares a bad size {numel!r}")
        self.storages[key] = numel * _element_bytes(storage_type)
        return _Inert("storage")

    def load_newobj(self):
        args = self.stack.pop()
        self.stack[-1] = _Inert("newobj", args if isinstance(args, tuple) else ())

    def load_build(self):
        self.stack.pop()

    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.BUILD[0]] = load_build


def _element_bytes(storage_type) -> int:
    name = getattr(storage_type, "name", "") if isinstance(storage_type, _Inert) else str(storage_type)
    short = name.rsplit(".", 1)[-1]
    size = STORAGE_ELEMENT_BYTES.get(short) or _TORCH_DTYPE_BYTES.get(short)
    if size is None:
        raise pickle.UnpicklingError(f"unknown storage type {name!r}")
    return size


def declared_storage_bytes(data: bytes) -> dict[str, int]:
    """{storage key: declared bytes} of the torch pickle `data` (a zip file's data.pkl), learned without running it."""
    unpickler = _DryRun(io.BytesIO(data), len(data))
    unpickler.load()
    return unpickler.storages


def legacy_storage_bytes(file, size: int) -> int:
    """Total bytes the storages of a legacy (non-zip) `torch.save` file declare, read without running anything.

    Layout: pickles of the magic number, protocol version and system info, then the object pickle whose persistent
    ids declare each storage's element count (torch allocates those before it reads their data).
    """
    start = file.tell()
    for _ in range(3):  # magic number, protocol version, sys info: plain data
        BoundedUnpickler(file, size - (file.tell() - start), allowed={}).load()
    unpickler = _DryRun(file, size - (file.tell() - start))
    unpickler.load()
    return sum(unpickler.storages.values())


def iter_tensors(obj: Any, max_nodes: int = 1_000_000, max_depth: int = 64) -> Iterable[tuple[str, Any]]:
    """(path, tensor) for every torch.Tensor in nested dicts / lists / tuples / namespaces, walked iteratively.

    Raises ValueError when the structure is deeper than `max_depth` or has more than `max_nodes` nodes.
    """
    import torch

    stack: list[tuple[str, Any, int]] = [("", obj, 0)]
    seen = 0
    while stack:
        path, node, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise ValueError(f"it holds more than {max_nodes} objects")
        if depth > max_depth:
            raise ValueError(f"it nests containers more than {max_depth} levels deep")
        if isinstance(node, torch.Tensor):
            yield path, node
        elif isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(node))
        elif hasattr(node, "__dict__") and not isinstance(node, type):
            stack.extend((f"{path}.{k}", v, depth + 1) for k, v in vars(node).items())
