"""Engines for chunked work over a sample store (see `base` for the seam): `local` threads by default, `ray`.

An engine is one module with an `Executor` subclass, registered here by name and imported only when asked for.
"""

from __future__ import annotations

from contextlib import contextmanager
from importlib import import_module
from typing import Iterator

from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor, ResultCallback, run_chunk, run_job

# name -> "module:class", imported on demand (an engine's own dependencies load only when it is used); `processes`:
# worker processes of this machine; `auto`: processes for image scorers on several cores, else local (`score`)
_BUILTIN = {
    "local": "interfacegan.execution.local:LocalExecutor",
    "processes": "interfacegan.execution.processes:ProcessExecutor",
    "auto": "interfacegan.execution.processes:AutoExecutor",
    "ray": "interfacegan.execution.ray:RayExecutor",
}


def available_executors() -> list[str]:
    return sorted(_BUILTIN)


def load_executor(spec: "Executor | str | None" = None, **options) -> Executor:
    """The executor named `spec` ('local' when None) built with `options`; an Executor instance is returned as is."""
    if isinstance(spec, Executor):
        return spec
    name = spec or "local"
    if name not in _BUILTIN:
        raise InterfaceGANError(f"unknown executor {name!r}: use one of {', '.join(available_executors())}")
    module, _, cls = _BUILTIN[name].partition(":")
    try:
        engine = getattr(import_module(module), cls)
    except ModuleNotFoundError as exc:
        install = "pip install 'interfacegan[distributed]'"
        raise InterfaceGANError(f"the {name} executor needs {exc.name}: {install}") from None
    try:
        return engine(**options)
    except TypeError as exc:
        raise InterfaceGANError(f"executor {name!r} does not take these options: {exc}") from None


@contextmanager
def executor_in_use(spec: "Executor | str | None" = None, **options) -> Iterator[Executor]:
    """`load_executor(spec, **options)` for the block; an engine built here from a name is closed at its end (its
    Ray actors or worker processes stop), one given as an instance is left to its owner."""
    engine = load_executor(spec, **options)
    try:
        yield engine
    finally:
        if engine is not spec and hasattr(engine, "close"):
            engine.close()


__all__ = [
    "ChunkCallback",
    "ChunkJob",
    "Executor",
    "ResultCallback",
    "available_executors",
    "executor_in_use",
    "load_executor",
    "run_chunk",
    "run_job",
]
