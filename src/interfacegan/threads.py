"""Thread counts for torch, onnxruntime and the OpenMP/BLAS libraries (dlib, numpy), from the cores we may use.

Left alone, each library sizes its own pool from the machine, and OpenMP threads spin while they wait: on a
machine whose cores are busy with other work, torch's threads then fight over them (`edit-image --encoder` on 2
shared cores: 68-75 s spinning, 22-24 s with the threads sleeping; 170 s vs 57 s beside two busy processes).
`configure_threads` applies one count, chosen once at start:
the `threads` given (the CLI's `--threads`), else `$INTERFACEGAN_THREADS`, else `$OMP_NUM_THREADS`, else the
cores this process may run on (`os.sched_getaffinity`), and makes OpenMP threads sleep instead of spinning
(`OMP_WAIT_POLICY=PASSIVE`, unless set). Environment variables only reach libraries loaded afterwards, so the
CLI calls it before importing torch; torch's own count is also set when torch is already loaded.
"""

from __future__ import annotations

import logging
import os
import sys

from interfacegan.errors import InterfaceGANError

logger = logging.getLogger(__name__)

THREADS_ENV = "INTERFACEGAN_THREADS"
_LIBRARY_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_configured: int | None = None  # the count applied in this process, once configure_threads ran


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), which can be fewer than the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_count(threads: int | None = None) -> int:
    """The count to use: `threads`, else the one configured, else $INTERFACEGAN_THREADS, else $OMP_NUM_THREADS,
    else the available cores."""
    if threads is None and _configured is not None:
        return _configured
    if threads is None:
        for var in (THREADS_ENV, "OMP_NUM_THREADS"):
            text = os.environ.get(var, "").strip()
            if text:
                try:
                    threads = int(text)
                except ValueError:
                    raise InterfaceGANError(f"{var}={text!r} is not a whole number: set it to e.g. 2") from None
                break
    if threads is None:
        return available_cores()
    if threads < 1:
        raise InterfaceGANError(f"threads must be >= 1, got {threads}")
    return int(threads)


def configure_threads(threads: int | None = None) -> int:
    """Apply one thread count to every library (see module docstring); returns it. Call once at start."""
    global _configured
    n = thread_count(threads)
    for var in _LIBRARY_ENV:
        os.environ[var] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    _configured = n
    logger.info("using %d thread(s) for torch, onnxruntime and OpenMP (%d core(s) available)", n, available_cores())
    return n


def limit_threads() -> None:
    """What long-running API calls do first: cap torch at `thread_count()` threads, never raising a smaller count
    a caller chose. An application that called `configure_threads` (the CLI does) keeps its choice as it is."""
    if _configured is not None:
        return
    import torch

    n = thread_count()
    if torch.get_num_threads() > n:
        torch.set_num_threads(n)


def onnx_session_options():
    """`onnxruntime.SessionOptions` with this process's thread count and no spinning while waiting."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
