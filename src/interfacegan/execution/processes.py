"""Chunks on worker processes of this machine (`processes`), and `auto`: processes where the GIL would bind.

Image scorers spend their time in code that holds the GIL (dlib's shape predictor, PIL resizes, numpy on small
arrays), so the local executor's threads run them on one core. `ProcessExecutor` starts one worker per thread of
`threads.thread_count()` (one per core unless told otherwise), each a fresh interpreter running this module
(`python -m interfacegan.execution.processes`: nothing is inherited, and the caller's script is never imported
again, so it needs no `if __name__ == "__main__"` guard) with an equal share of the threads. A worker unpickles
a job once per run (`setup` loads the generator and scorers once per worker, not per chunk), computes whole chunks
and sends their arrays back over a socket pair; this process writes them and flags each chunk
(`SampleStore.write_chunk`), as the local executor does, so the store has one writer and the result is bit for
bit the local one (chunks are computed independently, in the same batches).

The workers live as long as the executor (`close`, or the end of this process), so the runs of one command reuse
them. Chunk k goes to worker k % workers, which takes over another worker's chunks only when its own are done:
a second scorer of the same run (`score --scorer face --scorer gender --scorer age`) then mostly meets images
whose landmarks that worker already has (`landmarks.LandmarkStage`). At most two chunks per worker are in flight,
so memory stays bounded. A chunk that fails raises its error here (an `InterfaceGANError` as its one line), a
worker that dies is reported in one line; either way the workers are stopped and the chunks written so far stay
flagged, so a rerun resumes. A job the workers cannot build (a class they cannot import, e.g. one defined in a
notebook) raises `WorkerSetupError`, on which `auto` runs it in this process instead.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import traceback
import weakref
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Callable, Sequence

from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor
from interfacegan.execution.local import LocalExecutor
from interfacegan.store import SampleStore
from interfacegan.threads import THREADS_ENV, thread_count

logger = logging.getLogger(__name__)

IN_FLIGHT = 2  # chunks queued per worker: one computing, one waiting, so a worker never waits on this process
WORKER_MODULE = "interfacegan.execution.processes"  # what a worker runs (`python -m`)
MIN_PROCESS_ROWS = 2048  # `auto`: fewer rows do not pay for starting workers (a few seconds: torch, dlib, models)


class WorkerSetupError(InterfaceGANError):
    """Worker processes could not build the job (unpickle it, import its classes, set it up) or ended before
    answering for their first chunk of it."""


class _RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, chained to the error re-raised here."""

    def __str__(self) -> str:
        return self.args[0]


# ---- the worker side ------------------------------------------------------------------------------------------
def _serve(conn: Connection) -> None:
    """A worker's loop: ('job', key, payload) sets a job up; ('chunk', key, k, start, stop) computes one chunk and
    answers ('done', k, arrays) or ('error' | 'setup-error', k, pickled error or None, traceback text); None or a
    closed connection ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the workers
    from interfacegan.threads import configure_threads

    configure_threads()  # the share $INTERFACEGAN_THREADS names, before torch loads
    key, job, failure = None, None, None
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent has gone
            return
        if message is None:
            return
        if message[0] == "job":
            key, job, failure = message[1], None, None
            try:
                job = pickle.loads(message[2])
                job.setup()
            except BaseException as exc:  # reported with this job's first chunk
                failure = exc
            continue
        _, chunk_key, k, start, stop = message
        kind = "setup-error" if failure is not None else "error"
        try:
            if chunk_key != key:
                raise RuntimeError(f"chunk {k} of job {chunk_key} reached a worker set up for job {key}")
            if failure is not None:
                raise failure
            if not _send(conn, ("done", k, job.compute(start, stop, job.prefetch(start, stop)))):
                return
        except BaseException as exc:
            try:
                error = pickle.dumps(exc)
            except Exception:
                error = None
            if not _send(conn, (kind, k, error, traceback.format_exc())):
                return


def _send(conn: Connection, message: tuple) -> bool:
    """Send `message` to the parent; False when the parent has gone (killed): the worker then ends quietly instead of
    printing a BrokenPipeError traceback onto the terminal the parent was started from."""
    try:
        conn.send(message)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


# ---- the parent side ------------------------------------------------------------------------------------------
def _launch(threads: int) -> tuple[subprocess.Popen, Connection]:
    """Start one worker (this module run by this interpreter, with this process's import path) and its connection."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, THREADS_ENV: str(threads), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                               env=env, stdin=subprocess.DEVNULL)  # fmt: skip
    theirs.close()
    return process, Connection(ours.detach())


def _stop(workers: list, wait_s: float = 5.0) -> None:
    """Ask each worker (process, connection) to end, then kill those still running after `wait_s` seconds."""
    for process, conn in workers:
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
    for process, conn in workers:
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        conn.close()


class ProcessExecutor(Executor):
    """Worker processes on this machine (module docstring). `workers`: how many (default: one per thread of
    `threads.thread_count()`, at most one per chunk); `threads_per_worker`: torch/OpenMP threads of each (default:
    the thread count shared out among the workers, at least 1)."""

    name = "processes"

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None):
        if workers is not None and int(workers) < 1:
            raise InterfaceGANError(f"workers must be positive, got {workers}")
        if threads_per_worker is not None and int(threads_per_worker) < 1:
            raise InterfaceGANError(f"threads_per_worker must be positive, got {threads_per_worker}")
        self.workers, self.threads_per_worker = workers, threads_per_worker
        self.placement: dict[int, int] = {}  # chunk (or block index) -> the worker that computed it, last run
        self._pool: list[tuple[subprocess.Popen, Connection]] = []
        self._jobs = 0
        self._finalizer = weakref.finalize(self, _stop, self._pool)  # also at exit: no worker outlives us

    def _start(self, blocks: int) -> list:
        """The running workers, started as needed: `workers` (default one per thread), at most one per block."""
        wanted = max(1, min(self.workers or thread_count(), blocks))
        for worker in [w for w in self._pool if w[0].poll() is not None]:  # ended since the last run
            worker[1].close()
            self._pool.remove(worker)
        if len(self._pool) < wanted:
            threads = self.threads_per_worker or max(1, thread_count() // wanted)
            self._pool += [_launch(threads) for _ in range(wanted - len(self._pool))]
            logger.info("processes: %d worker(s), %d thread(s) each", len(self._pool), threads)
        return self._pool[:wanted]

    def close(self, wait_s: float = 5.0) -> None:
        """Stop the workers, killing those still busy after `wait_s` seconds (a later run starts new ones)."""
        _stop(self._pool, wait_s)
        self._pool.clear()

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        """See `Executor.run`: workers compute, this process writes and flags each chunk, then calls `on_chunk`."""

        def write(k: int, start: int, stop: int, arrays: dict) -> None:
            store.write_chunk(job.task, k, start, arrays)
            if on_chunk is not None:
                on_chunk(k, start, stop)

        self._dispatch(job, {k: store.chunk_range(k) for k in chunks}, write)

    def map(self, job: ChunkJob, blocks: Sequence[tuple[int, int]], on_result: Callable[[int, int, dict], None]):
        """Compute `job` on blocks of rows (start, stop) on the workers and hand each block's arrays to
        `on_result(start, stop, arrays)` in this process, in any order."""
        self._dispatch(job, dict(enumerate(blocks)), lambda i, start, stop, arrays: on_result(start, stop, arrays))

    def _dispatch(self, job: ChunkJob, blocks: dict[int, tuple[int, int]], deliver) -> None:
        """Compute every block {id: (start, stop)} on the workers and `deliver(id, start, stop, arrays)` each as it
        arrives; on the first error or a dead worker the workers are stopped and the error raised."""
        if not blocks:
            return
        try:
            payload = pickle.dumps(job)
        except Exception as exc:
            raise WorkerSetupError(f"the job cannot be sent to worker processes ({type(exc).__name__}: {exc}): "
                                   "run it with the local executor") from None  # fmt: skip
        pool = self._start(len(blocks))
        self._jobs += 1
        own = [deque(i for i in blocks if i % len(pool) == w) for w in range(len(pool))]
        busy: list[list[int]] = [[] for _ in pool]
        answered = [False] * len(pool)
        self.placement = {}

        def submit(w: int) -> None:
            queue = own[w] if own[w] else max(own, key=len)  # its own blocks first, then the longest other queue
            if queue:
                i = queue.popleft() if queue is own[w] else queue.pop()
                busy[w].append(i)
                try:
                    pool[w][1].send(("chunk", self._jobs, i, *blocks[i]))
                except OSError:  # the worker has ended
                    raise _ended(pool[w][0], busy[w], before_setup=not answered[w]) from None

        try:
            for w, (process, conn) in enumerate(pool):
                try:
                    conn.send(("job", self._jobs, payload))
                except OSError:
                    raise _ended(process, [], before_setup=True) from None
                for _ in range(IN_FLIGHT):
                    submit(w)
            conns = {conn: w for w, (_, conn) in enumerate(pool)}
            while any(busy):
                for conn in wait([c for c, w in conns.items() if busy[w]]):
                    w = conns[conn]
                    try:
                        kind, i, *rest = conn.recv()
                    except (EOFError, OSError):  # closed, or reset with our requests unread: the worker ended
                        raise _ended(pool[w][0], busy[w], before_setup=not answered[w]) from None
                    if kind != "done":
                        raise _remote_error(i, *rest, setup=kind == "setup-error")
                    answered[w] = True
                    busy[w].remove(i)
                    self.placement[i] = w
                    deliver(i, *blocks[i], rest[0])
                    submit(w)
        except BaseException:
            self.close(wait_s=0)  # stale chunks must not reach a later run; a rerun resumes from the chunks delivered
            raise


def _ended(process: subprocess.Popen, chunks: list[int], before_setup: bool) -> InterfaceGANError:
    """The one-line error for a worker that ended while it had `chunks` to compute."""
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = "unknown"
    error = WorkerSetupError if before_setup else InterfaceGANError
    doing = f"while computing chunk(s) {', '.join(map(str, chunks))}" if chunks else "before its job reached it"
    return error(f"worker process {process.pid} ended (exit code {code}) {doing}: run the command again to resume "
                 "from the chunks written")  # fmt: skip


def _remote_error(i: int, error: bytes | None, text: str, setup: bool = False) -> BaseException:
    """The worker's exception with its traceback chained (a `WorkerSetupError` when the job's set-up failed); a
    RuntimeError carrying the traceback when the exception itself does not unpickle here."""
    exc = None
    if error is not None:
        try:
            exc = pickle.loads(error)
        except Exception:
            exc = None
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    if setup:
        message = str(exc) if isinstance(exc, InterfaceGANError) else f"worker processes could not set the job up: {last}"
        exc = WorkerSetupError(message)
    elif not isinstance(exc, BaseException):
        exc = RuntimeError(f"chunk {i} failed in a worker process: {last}")
    exc.__cause__ = _RemoteTraceback(text)
    return exc


# ---- auto -----------------------------------------------------------------------------------------------------
def wants_processes(job: ChunkJob, rows: int, blocks: int) -> bool:
    """The `auto` rule: worker processes when the job prefers them (`ChunkJob.prefers_processes`: image scorers),
    this process may use more than one thread (`threads.thread_count`), and there are at least two blocks and
    `MIN_PROCESS_ROWS` rows to do; threads in this process otherwise."""
    return job.prefers_processes and thread_count() > 1 and blocks >= 2 and rows >= MIN_PROCESS_ROWS


class AutoExecutor(Executor):
    """`auto`: a `ProcessExecutor` for the runs and maps `wants_processes` picks, the `LocalExecutor` for the others
    and for a job the workers cannot build (`WorkerSetupError`, logged as a warning). The workers, once started,
    serve the later runs given to this executor (`options` go to `ProcessExecutor`)."""

    name = "auto"

    def __init__(self, **options):
        self.local = LocalExecutor()
        self.processes = ProcessExecutor(**options)

    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        chunks = list(chunks)
        rows = sum(stop - start for start, stop in map(store.chunk_range, chunks))
        if wants_processes(job, rows, len(chunks)):
            logger.info("auto executor: worker processes for %s (%d rows)", job.task, rows)
            try:
                return self.processes.run(store, job, chunks, on_chunk)
            except WorkerSetupError as exc:
                logger.warning("worker processes could not build %s (%s): running it in this process", job.task, exc)
                done = store.done_chunks(job.task)
                chunks = [k for k in chunks if not done[k]]
        self.local.run(store, job, chunks, on_chunk)

    def map(self, job: ChunkJob, blocks: Sequence[tuple[int, int]], on_result: Callable[[int, int, dict], None]):
        """See `Executor.map`: on worker processes when `wants_processes` picks them, else (and for the blocks not
        delivered when the workers cannot build the job) on the local executor."""
        blocks, delivered = list(blocks), set()

        def deliver(start: int, stop: int, arrays: dict) -> None:
            delivered.add((start, stop))
            on_result(start, stop, arrays)

        if wants_processes(job, sum(b - a for a, b in blocks), len(blocks)):
            try:
                return self.processes.map(job, blocks, deliver)
            except WorkerSetupError as exc:
                logger.warning("worker processes could not build %s (%s): running it in this process", job.task, exc)
        self.local.map(job, [b for b in blocks if b not in delivered], deliver)

    def close(self) -> None:
        self.processes.close()


__all__ = ["AutoExecutor", "MIN_PROCESS_ROWS", "ProcessExecutor", "WorkerSetupError", "wants_processes"]

if __name__ == "__main__":  # a worker (`_launch`): serve the connection whose file descriptor is the argument
    _serve(Connection(int(sys.argv[1])))
