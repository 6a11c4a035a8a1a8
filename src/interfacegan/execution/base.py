"""The executor seam: chunked work over a sample store, described as picklable jobs and run by an engine.

Sampling and scoring do not loop over chunks themselves. Each describes one task's work as a `ChunkJob`: a
picklable object holding the arguments that rebuild its models (`setup`, once per worker) and computing the arrays
of rows [start, stop) (`compute`, with an optional input stage `prefetch`). `run_job` finds the chunks of the
task still to do in a shard and hands them to an `Executor`, which computes each chunk, writes all its arrays and
only then flags it done (`SampleStore.write_chunk`), reporting each chunk as it completes. Because codes come
from per-chunk seeds, an engine may run chunks in any order, on any worker, and retry one: the store ends up
identical. The default engine is `interfacegan.execution.local.LocalExecutor` (threads in this process).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from interfacegan.progress import ProgressOption, progress_bar
from interfacegan.store import SampleStore
from interfacegan.threads import limit_threads

logger = logging.getLogger(__name__)

# on_chunk(k, start, stop): chunk k, rows [start, stop), has been written and flagged done.
ChunkCallback = Callable[[int, int, int], None]
# on_result(start, stop, arrays): the arrays `compute` returned for rows [start, stop) (`Executor.map`).
ResultCallback = Callable[[int, int, dict], None]


class ChunkJob(ABC):
    """One task's work over the chunks of a store (see module docstring).

    A job must pickle small: it carries specs and settings, not loaded models. Attributes named in `live_fields`
    hold objects built in this process (a loaded generator, an open store) and are dropped when the job is
    pickled; `setup` rebuilds them on the worker that unpickled it.
    """

    task: str  # the store's progress flag name, e.g. 'sample' or 'score-face'
    live_fields: ClassVar[tuple[str, ...]] = ()

    def setup(self) -> None:
        """Load what `compute` needs (models, scorers); called once per worker before its first chunk."""

    @property
    def prefers_processes(self) -> bool:
        """True when `compute` runs mostly in code that holds the GIL (dlib, PIL, small numpy), which threads of one
        process cannot share out, and other processes can rebuild the job: the `auto` executor then runs it on
        worker processes. False by default."""
        return False

    def array_names(self) -> list[str]:
        """The store arrays `compute` writes; before a run, chunks flagged done whose files are missing in any of
        them are unflagged and redone (`SampleStore.unflag_missing`). None by default."""
        return []

    def prefetch(self, start: int, stop: int) -> Any:
        """Input of rows [start, stop) that may be made ahead, while the previous chunk is computed (e.g. images
        synthesized for a scorer); handed to `compute`. None by default."""
        return None

    @abstractmethod
    def compute(self, start: int, stop: int, prefetched: Any = None) -> dict[str, np.ndarray]:
        """{array name in the store: its rows [start, stop)} for one chunk."""

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in self.live_fields:
            state[name] = None
        return state


class Executor(ABC):
    """An engine that runs a `ChunkJob` over chunks of a store (`run`: workers write the chunks) or over blocks of
    rows whose results come back to the caller (`map`: e.g. re-scoring, which keeps its results in memory)."""

    name: str = "executor"

    @abstractmethod
    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        """Compute, write and flag every chunk in `chunks` (each flag set only after all its arrays are written),
        calling `on_chunk(k, start, stop)` as each one completes. Returns when all are done; raises the first
        error of any chunk, leaving the chunks completed so far flagged (a rerun resumes from them)."""

    def map(self, job: ChunkJob, blocks: Sequence[tuple[int, int]], on_result: ResultCallback) -> None:
        """Compute `job` on every block of rows (start, stop) and hand each block's arrays to `on_result` in this
        process, in any order. This default runs the blocks one after the other here; engines run them on their
        workers (each set up once)."""
        job.setup()
        for start, stop in blocks:
            on_result(start, stop, job.compute(start, stop, job.prefetch(start, stop)))


def map_blocks(
    job: ChunkJob,
    blocks: Sequence[tuple[int, int]],
    executor: "Executor | str | None" = None,
    progress: ProgressOption = True,
    description: str = "",
    units_per_row: int = 1,
) -> list[dict[str, np.ndarray]]:
    """The arrays `job` computes for each block of rows (start, stop), in the order of `blocks`, whatever order
    the engine delivers them in: callers that reduce them (running sums) add them up in the same order on every
    engine, so the result is the same bit for bit. The progress bar (`units_per_row` units per row) advances as
    each block completes. `executor`: an `Executor`, a registered name or None (local); one built here from a
    name is closed at the end."""
    from interfacegan.execution import executor_in_use

    blocks = [(int(a), int(b)) for a, b in blocks]
    results: dict[int, dict] = {}
    total = sum(b - a for a, b in blocks) * units_per_row
    with executor_in_use(executor) as engine, progress_bar(description or job.task, total, enabled=progress) as bar:

        def collect(start: int, stop: int, arrays: dict) -> None:
            results[start] = arrays
            bar.advance((stop - start) * units_per_row)

        engine.map(job, blocks, collect)
    return [results[start] for start, _ in blocks]


def run_chunk(store: SampleStore, job: ChunkJob, k: int) -> tuple[int, int]:
    """Do chunk k of `job` start to end in this process (setup, prefetch, compute, write, flag); its rows.

    The unit of work for engines that run whole chunks on workers; the local executor pipelines the same steps.
    """
    job.setup()
    start, stop = store.chunk_range(k)
    store.write_chunk(job.task, k, start, job.compute(start, stop, job.prefetch(start, stop)))
    return start, stop


def run_job(
    store: SampleStore,
    job: ChunkJob,
    shard: tuple[int, int] = (0, 1),
    executor: "Executor | str | None" = None,
    progress: ProgressOption = True,
    description: str = "",
) -> list[int]:
    """Run `job` on the chunks of its task in `shard` that are not flagged done yet; returns those chunks.

    `executor` is an `Executor`, a registered name ('local') or None for the local one; one built here from a name
    is closed at the end (as in `map_blocks`); one given as an instance is left open. `progress` counts rows,
    those of chunks done before included: True draws the progress bar, a callable gets (description, completed,
    total), False shows nothing.
    """
    from interfacegan.execution import executor_in_use

    limit_threads()
    with executor_in_use(executor) as engine:  # built (and a bad name refused) even when no chunk is left
        store.unflag_missing(job.task, job.array_names(), range(shard[0], store.num_chunks, shard[1]))
        chunks = store.pending_chunks(job.task, shard)
        done_rows = store.num - sum(stop - start for start, stop in map(store.chunk_range, chunks))
        logger.info("%s: %d of %d chunks to do (shard %d/%d, %s executor)", job.task, len(chunks), store.num_chunks,
                    *shard, engine.name)  # fmt: skip
        if not chunks:
            return chunks
        with progress_bar(description or job.task, total=store.num, completed=done_rows, enabled=progress) as bar:
            engine.run(store, job, chunks, on_chunk=lambda k, start, stop: bar.advance(stop - start))
    return chunks
