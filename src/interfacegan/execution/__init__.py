"""Engines for chunked work over a sample store (see `base` for the seam): `local` threads by default.

An engine is one module with an `Executor` subclass, registered here by name and imported only when asked for.
"""

from __future__ import annotations

from importlib import import_module

from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor, run_chunk, run_job

# name -> "module:class", imported on demand (an engine's own dependencies load only when it is used)
_BUILTIN = {"local": "interfacegan.execution.local:LocalExecutor"}

# worker processes of this machine, and `auto`: processes for image scorers on several cores, else local (`score`)
_BUILTIN.update(processes="interfacegan.execution.processes:ProcessExecutor", auto="interfacegan.execution.processes:AutoExecutor")  # fmt: skip


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
    return getattr(import_module(module), cls)(**options)


__all__ = ["ChunkCallback", "ChunkJob", "Executor", "available_executors", "load_executor", "run_chunk", "run_job"]
