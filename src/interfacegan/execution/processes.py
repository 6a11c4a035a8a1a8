"""Chunks on worker processes of this machine (`processes`), and `auto`: processes where the GIL would bind.

Image scorers spend their time in code that holds the GIL (dlib's shape predictor, PIL resizes, numpy on small
arrays), so the local executor's threads run them on one core. `ProcessExecutor` starts one worker process per
core (spawned, so no thread or OpenMP state is inherited), each with an equal share of the thread count
(`threads.thread_count`, one per worker on a 2-core machine). A worker unpickles a job once per run (`setup` loads
the generator and scorers once per worker, not per chunk), computes whole chunks and sends their arrays back; this
process writes them and flags each chunk (`SampleStore.write_chunk`), as the local executor does, so the store has
one writer and the result is bit for bit the local one (chunks are computed independently, on the same batches).

The workers live as long as the executor (`close`, or the end of this process), so the runs of one command reuse
them. Chunk k goes to worker k % workers, taking over another worker's chunks only when its own are done: a
second scorer of the same run (`score --scorer face --scorer gender --scorer age`) then mostly meets the images
whose landmarks that worker already has (`landmarks.LandmarkStage`). At most two chunks per worker are in flight,
so memory stays bounded. A chunk that fails raises its error here (an `InterfaceGANError` as its one line); a
worker that dies is reported as one line; either way the workers are stopped and the chunks written so far stay
flagged, so a rerun resumes.
"""

from __future__ import annotations

import logging
import pickle
import signal
import traceback
import weakref
from collections import deque
from multiprocessing import connection, get_context
from typing import Callable, Sequence

from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor
from interfacegan.execution.local import LocalExecutor
from interfacegan.store import SampleStore
from interfacegan.threads import thread_count

logger = logging.getLogger(__name__)

IN_FLIGHT = 2  # chunks queued per worker: one computing, one waiting, so a worker never idles on this process
MIN_PROCESS_ROWS = 2048  # `auto`: fewer rows than this do not pay for starting workers (about 3 s each)


class _RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, chained to the error re-raised here."""

    def __str__(self) -> str:
        return self.args[0]


def _serve(conn, threads: int) -> None:
    """A worker's loop: ('job', key, payload) sets a job up; ('chunk', key, k, start, stop) computes one chunk and
    answers ('done', key, k, arrays), or ('error' or 'setup-error', key, k, pickled error or None, traceback text);
    None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the workers
    from interfacegan.threads import configure_threads

    configure_threads(threads)
    key, job, failure = None, None, None
    while True:
        message = conn.recv()
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
            conn.send(("done", key, k, job.compute(start, stop, job.prefetch(start, stop))))
        except BaseException as exc:
            try:
                error = pickle.dumps(exc)
            except Exception:
                error = None
            conn.send((kind, chunk_key, k, error, traceback.format_exc()))


def _stop(workers: list, wait: float = 5.0) -> None:
    """Ask each worker (process, connection) to end, then end those that do not within `wait` seconds."""
    for process, conn in workers:
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
    for process, conn in workers:
        process.join(timeout=wait)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
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
        self._pool: list = []  # (process, connection) per worker
        self._jobs = 0
        self._finalizer = weakref.finalize(self, _stop, self._pool)

    # ---- the pool ---------------------------------------------------------------------------------------------
    def _start(self, blocks: int) -> list:
        """The running workers, started as needed: `workers` (default one per thread), at most one per block."""
        wanted = max(1, min(self.workers or thread_count(), blocks))
        for process, conn in [(p, c) for p, c in self._pool if not p.is_alive()]:  # ended since the last run
            conn.close()
            self._pool.remove((process, conn))
        if len(self._pool) < wanted:
            threads = self.threads_per_worker or max(1, thread_count() // wanted)
            context = get_context("spawn")
            for _ in range(wanted - len(self._pool)):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs, threads), daemon=True,
                                          name=f"interfacegan-worker-{len(self._pool)}")  # fmt: skip
                process.start()
                theirs.close()
                self._pool.append((process, ours))
            logger.info("processes: %d worker(s), %d thread(s) each", len(self._pool), threads)
        return self._pool[:wanted]

    def close(self, wait: float = 5.0) -> None:
        """Stop the workers, ending those still busy after `wait` seconds (a later run starts new ones)."""
        _stop(self._pool, wait)
        self._pool.clear()

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- running jobs -------------------------------------------------------------------------------------------
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
        key = self._jobs
        own = [deque(i for i in blocks if i % len(pool) == w) for w in range(len(pool))]
        busy: list[list[int]] = [[] for _ in pool]
        self.placement = {}

        def submit(w: int) -> None:
            queue = own[w] if own[w] else max(own, key=len)  # its own blocks first, then the longest other queue
            if queue:
                i = queue.pop() if queue is not own[w] else queue.popleft()
                pool[w][1].send(("chunk", key, i, *blocks[i]))
                busy[w].append(i)

        try:
            for w, (_, conn) in enumerate(pool):
                conn.send(("job", key, payload))
                for _ in range(IN_FLIGHT):
                    submit(w)
            while any(busy):
                for w in self._ready(pool, busy):
                    kind, _, i, *rest = pool[w][1].recv()
                    if kind != "done":
                        raise _remote_error(i, *rest, setup=kind == "setup-error")
                    busy[w].remove(i)
                    self.placement[i] = w
                    deliver(i, *blocks[i], rest[0])
                    submit(w)
        except BaseException:
            self.close(wait=0)  # stale chunks must not reach a later run; a rerun resumes from the chunks delivered
            raise

    def _ready(self, pool: list, busy: list[list[int]]) -> list[int]:
        """Workers with a message waiting; a one-line error when a busy worker has died."""
        conns = {conn: w for w, (_, conn) in enumerate(pool) if busy[w]}
        sentinels = {process.sentinel: w for w, (process, _) in enumerate(pool) if busy[w]}
        ready = connection.wait([*conns, *sentinels])
        with_data = sorted({conns[r] for r in ready if r in conns})
        if with_data:
            return with_data
        w = sentinels[ready[0]]
        process = pool[w][0]
        process.join(timeout=1)
        raise InterfaceGANError(
            f"worker process {process.pid} ended (exit code {process.exitcode}) while computing chunk(s) "
            f"{', '.join(map(str, busy[w]))}: run the command again to resume from the chunks written"
        )


class WorkerSetupError(InterfaceGANError):
    """A worker process could not unpickle or set up the job (e.g. a scorer class it cannot import)."""


def _remote_error(i: int, error: bytes | None, text: str, setup: bool = False) -> BaseException:
    """The worker's exception, its traceback chained (a `WorkerSetupError` when the job's set-up failed); a
    RuntimeError carrying the traceback when the exception itself does not unpickle here."""
    exc = None
    if error is not None:
        try:
            exc = pickle.loads(error)
        except Exception:
            exc = None
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    if setup:
        message = str(exc) if isinstance(exc, InterfaceGANError) else f"a worker process could not set the job up: {last}"
        exc = WorkerSetupError(message)
    elif not isinstance(exc, BaseException):
        exc = RuntimeError(f"chunk {i} failed in a worker process: {last}")
    exc.__cause__ = _RemoteTraceback(text)
    return exc


def wants_processes(job: ChunkJob, rows: int, blocks: int) -> bool:
    """The `auto` rule: worker processes when the job prefers them (`ChunkJob.prefers_processes`: image scorers),
    this process may use more than one thread (`threads.thread_count`), and there are at least two blocks and
    `MIN_PROCESS_ROWS` rows to do; threads in this process otherwise."""
    return job.prefers_processes and thread_count() > 1 and blocks >= 2 and rows >= MIN_PROCESS_ROWS


class AutoExecutor(Executor):
    """`auto`: a `ProcessExecutor` for the runs `wants_processes` picks, the `LocalExecutor` for the others (and
    for a job the workers cannot set up, e.g. a scorer class defined in a notebook). The workers, once started,
    serve the later runs given to this executor (options go to `ProcessExecutor`)."""

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
                logger.warning("worker processes could not set up %s (%s): running it in this process", job.task, exc)
                done = store.done_chunks(job.task)
                chunks = [k for k in chunks if not done[k]]
        self.local.run(store, job, chunks, on_chunk)

    def close(self) -> None:
        self.processes.close()


__all__ = ["AutoExecutor", "MIN_PROCESS_ROWS", "ProcessExecutor", "WorkerSetupError", "wants_processes"]
