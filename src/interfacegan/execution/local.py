"""The default executor: chunks run in this process as a three-stage pipeline of threads.

Chunk k is computed in the calling thread while chunk k-1 is written (one writer thread) and the job's input
stage for chunk k+1 runs (one prefetch thread; e.g. images synthesized by torch, which releases the GIL, while
the scorer works on chunk k). At most three chunks are in memory, so memory stays bounded whatever N is.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence

from interfacegan.execution.base import ChunkCallback, ChunkJob, Executor
from interfacegan.store import SampleStore


class LocalExecutor(Executor):
    """Threads in this process (see module docstring); what every command uses unless told otherwise."""

    name = "local"

    def run(
        self, store: SampleStore, job: ChunkJob, chunks: Sequence[int], on_chunk: ChunkCallback | None = None
    ) -> None:
        """See `Executor.run`; `on_chunk` is called from the writer thread."""
        chunks = list(chunks)
        if not chunks:
            return
        job.setup()
        with ThreadPoolExecutor(max_workers=1) as reader, ThreadPoolExecutor(max_workers=1) as writer:
            ahead = reader.submit(job.prefetch, *store.chunk_range(chunks[0]))
            in_flight: Future | None = None
            for i, k in enumerate(chunks):
                start, stop = store.chunk_range(k)
                prefetched = ahead.result()
                if i + 1 < len(chunks):
                    ahead = reader.submit(job.prefetch, *store.chunk_range(chunks[i + 1]))
                arrays = job.compute(start, stop, prefetched)
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(store.write_chunk, job.task, k, start, arrays)
                if on_chunk is not None:
                    in_flight.add_done_callback(lambda f, k=k, a=start, b=stop: f.exception() or on_chunk(k, a, b))
            if in_flight is not None:
                in_flight.result()
