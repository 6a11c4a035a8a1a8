"""Run chunked work on a Ray cluster (`--executor ray`): one actor per worker, chunks to whichever actor is free.

Each actor sets a job up once (the generator and scorers load once per worker, on the GPU when the actor has one:
`gpus_per_worker`), then runs whole chunks of it; the actors live as long as the executor (`close`), so the runs
of one command (sampling, then scoring; the blocks of an analysis) reuse the same worker processes. In `run` the
actor writes its chunks to the store itself (`run_chunk`: arrays, then the flag), so the driver moves no data,
and the store must be reachable from every node: a shared directory or object storage (`s3://...`). In `map` the
arrays come back to the driver. A worker that dies is restarted (`max_restarts`) and its chunks are retried
(`max_task_retries`): a retried chunk rewrites the same content, since codes come from per-chunk seeds. Ray is
imported only with this module, which `load_executor("ray")` imports on demand.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from typing import Any, Callable, Sequence

import ray

from interfacegan.device import CudaUnavailableError
from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor, ResultCallback, run_chunk
from interfacegan.store import SampleStore

logger = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # a local instance's shared memory: chunks go to the store, not through Ray


class ChunkWorker:
    """A Ray actor that runs chunks of jobs. The job and store arrive boxed (a list holding their object ref, so
    Ray does not deserialize them for every call); a worker sets up each job once, on its first chunk of it, and
    keeps it for the chunks that follow. Every call also returns the id of the node that did the work."""

    def __init__(self, threads: int):
        from interfacegan.threads import configure_threads

        configure_threads(threads)
        self.key, self.job, self.store = None, None, None

    def _load(self, key: int, boxed: list) -> None:
        if key != self.key:
            self.job, self.store = ray.get(boxed[0])
            self.job.setup()
            self.key = key

    def write(self, key: int, boxed: list, k: int) -> tuple[tuple[int, int, int], str]:
        self._load(key, boxed)
        return (k, *run_chunk(self.store, self.job, k)), ray.get_runtime_context().get_node_id()

    def compute(self, key: int, boxed: list, start: int, stop: int) -> tuple[tuple[int, int, dict], str]:
        self._load(key, boxed)
        arrays = self.job.compute(start, stop, self.job.prefetch(start, stop))
        return (start, stop, arrays), ray.get_runtime_context().get_node_id()


class RayExecutor(Executor):
    """Chunks on Ray actors (see module docstring). `address` is a running cluster ('auto', 'HOST:PORT',
    'ray://...'), None for $RAY_ADDRESS or else a new local instance (or the one this process has joined);
    `num_workers` actors (default: as many as the cluster's CPUs, or GPUs with `gpus_per_worker`, hold);
    `max_retries` restarts of a dead worker and retries of its chunks; `init_options` go to `ray.init`."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_workers: int | None = None,
        gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0,
        max_retries: int = 3,
        init_options: dict[str, Any] | None = None,
    ):
        self.address, self.num_workers = address, num_workers
        self.gpus_per_worker, self.cpus_per_worker = gpus_per_worker, cpus_per_worker
        self.max_retries, self.init_options = max_retries, dict(init_options or {})
        if not gpus_per_worker >= 0 or not cpus_per_worker > 0:
            raise InterfaceGANError(f"gpus_per_worker must be >= 0 and cpus_per_worker > 0, got {gpus_per_worker} "
                                    f"and {cpus_per_worker}")  # fmt: skip
        if num_workers is not None and num_workers < 1:
            raise InterfaceGANError(f"num_workers must be positive, got {num_workers}")
        if max_retries < 0:
            raise InterfaceGANError(f"max_retries must be >= 0, got {max_retries}")
        self.placement: dict[int, str] = {}  # chunk (run) or first row (map) -> id of the node that did it
        self._workers: list = []
        self._jobs = 0  # key of the job being dispatched (workers set up a job when its key changes)

    def connect(self) -> None:
        """Join the cluster at `address` (None: $RAY_ADDRESS when set), or start a new local instance (no
        dashboard, bounded shared memory), even where a cluster runs on this machine (join it with 'auto')."""
        if ray.is_initialized():
            return
        options = {"include_dashboard": False, "logging_level": logging.WARNING, **self.init_options}
        address = self.address or os.environ.get("RAY_ADDRESS") or "local"
        if address == "local":
            options.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise InterfaceGANError(f"cannot start or reach Ray at {where} ({exc}): check --ray-address") from None

    def _worker_count(self, blocks: int) -> int:
        """Actors to use: `num_workers` (default: all the cluster holds), never more than it holds (an actor that
        cannot be placed would hold its queued chunks forever), nor more than there are blocks."""
        resources = ray.cluster_resources()
        capacity = int(resources.get("CPU", 1) // self.cpus_per_worker)
        if self.gpus_per_worker > 0:
            capacity = min(capacity, int(resources.get("GPU", 0) // self.gpus_per_worker))
            if capacity == 0:
                raise InterfaceGANError(f"the Ray cluster has no GPU for a worker of {self.gpus_per_worker} GPU(s): "
                                        "lower gpus_per_worker or add GPU nodes")  # fmt: skip
        if self.num_workers is not None and self.num_workers > capacity:
            logger.warning("ray: the cluster holds %d workers of this size, not %d", capacity, self.num_workers)
        return max(1, min(self.num_workers or capacity, capacity, blocks))

    def _pool(self, blocks: int) -> list:
        """The executor's actors, started as needed: as many as the cluster holds, at most one per block."""
        self.connect()
        wanted = self._worker_count(blocks)
        if len(self._workers) < wanted:
            actor = ray.remote(ChunkWorker).options(
                num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_restarts=self.max_retries,
                max_task_retries=self.max_retries, scheduling_strategy="SPREAD",
            )  # fmt: skip
            threads = max(1, round(self.cpus_per_worker))
            self._workers += [actor.remote(threads) for _ in range(wanted - len(self._workers))]
        return self._workers[:wanted]

    def close(self) -> None:
        """End the executor's actors (they also end with this process)."""
        for worker in self._workers:
            ray.kill(worker, no_restart=True)
        self._workers = []

    def _dispatch(self, job, store, calls: list[tuple], method: str, done: Callable[[tuple], None]) -> None:
        """Run `method(*call)` for every call on the actors, two queued per actor, calling `done(result)` as each
        completes; on the first error the actors are ended and the error raised (as one line when it is ours)."""
        if not calls:
            return
        workers = self._pool(len(calls))
        self._jobs += 1
        key, boxed = self._jobs, [ray.put((job, store))]
        queue, pending = deque(calls), {}
        self.placement = {}

        def submit(worker) -> None:
            pending[getattr(worker, method).remote(key, boxed, *queue.popleft())] = worker

        try:
            for _ in range(2):
                for worker in workers:
                    if queue:
                        submit(worker)
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                worker = pending.pop(ref)
                result, node = _result(ref, self.gpus_per_worker)
                self.placement[result[0]] = node
                done(result)
                if queue:
                    submit(worker)
        except BaseException:
            self.close()  # stop the chunks still in flight
            raise
        logger.info("ray: %d blocks on %d workers over %d node(s)", len(calls), len(workers),
                    len(set(self.placement.values())))  # fmt: skip

    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        """See `Executor.run`; each chunk is written by the actor that computed it."""

        def done(result: tuple) -> None:
            k, start, stop = result
            if on_chunk is not None:
                on_chunk(k, start, stop)

        self._dispatch(job, store, [(k,) for k in chunks], "write", done)

    def map(self, job: ChunkJob, blocks: Sequence[tuple[int, int]], on_result: ResultCallback) -> None:
        """See `Executor.map`; results arrive in completion order."""
        self._dispatch(job, None, [tuple(b) for b in blocks], "compute", lambda r: on_result(*r))


def _result(ref, gpus_per_worker: float) -> tuple:
    """The value of a finished call; a failure inside the job is raised as its own one-line error when it is an
    InterfaceGANError (`job_error`), a worker that died more than `max_retries` times as one line naming the cause."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, InterfaceGANError):
            raise job_error(exc.cause, gpus_per_worker) from None
        raise
    except ray.exceptions.RayActorError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InterfaceGANError(f"a Ray worker died and could not be restarted ({first}): see the Ray logs") from None


def job_error(cause: InterfaceGANError, gpus_per_worker: float) -> InterfaceGANError:
    """The one-line error of a job that failed on a worker: its own message, plus, where CUDA was asked for on
    workers given no GPU (Ray hides the node's GPUs from them), how to give them one."""
    message = str(cause)
    if isinstance(cause, CudaUnavailableError) and not gpus_per_worker:
        message += ", or give the Ray workers GPUs (gpus_per_worker, e.g. 1)"
    return InterfaceGANError(message)
