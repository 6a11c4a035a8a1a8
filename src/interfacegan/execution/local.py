"""The default executor: chunks run in this process as a three-stage pipeline of threads.

Block k is computed in the calling thread while block k-1 is delivered (one writer thread: written to the store
and flagged by `run`, handed to the caller by `map`) and the job's input stage for block k+1 runs (one prefetch
thread; e.g. images synthesized by torch, which releases the GIL, while the scorer works on block k). At most
three blocks are in memory, so memory stays bounded whatever N is.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence

from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor, ResultCallback
from interfacegan.store import SampleStore


def _pipeline(job: ChunkJob, blocks: Sequence[tuple[int, int]], deliver: Callable[[int, int, int, dict], None]):
    """Prefetch block i+1, compute block i, deliver block i-1 (`deliver(i, start, stop, arrays)`, writer thread)."""
    blocks = list(blocks)
    if not blocks:
        return
    job.setup()
    with ThreadPoolExecutor(max_workers=1) as reader, ThreadPoolExecutor(max_workers=1) as writer:
        ahead = reader.submit(job.prefetch, *blocks[0])
        in_flight: Future | None = None
        for i, (start, stop) in enumerate(blocks):
            prefetched = ahead.result()
            if i + 1 < len(blocks):
                ahead = reader.submit(job.prefetch, *blocks[i + 1])
            arrays = job.compute(start, stop, prefetched)
            if in_flight is not None:
                in_flight.result()
            in_flight = writer.submit(deliver, i, start, stop, arrays)
        in_flight.result()


class LocalExecutor(Executor):
    """Threads in this process (see module docstring); what every command uses unless told otherwise."""

    name = "local"

    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        """See `Executor.run`; `on_chunk` is called from the writer thread."""
        chunks = list(chunks)

        def write(i: int, start: int, stop: int, arrays: dict) -> None:
            store.write_chunk(job.task, chunks[i], start, arrays)
            if on_chunk is not None:
                on_chunk(chunks[i], start, stop)

        _pipeline(job, [store.chunk_range(k) for k in chunks], write)

    def map(self, job: ChunkJob, blocks: Sequence[tuple[int, int]], on_result: ResultCallback) -> None:
        """See `Executor.map`; `on_result` is called from the writer thread, in block order."""
        _pipeline(job, blocks, lambda i, start, stop, arrays: on_result(start, stop, arrays))
