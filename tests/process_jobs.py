"""A chunk job for the process executor's tests, in a module of its own: worker processes import it to unpickle
the job, and it imports neither torch nor the models, so they start in about a second."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.execution.base import ChunkJob

ROWS = ("scores/rows", "scores/pid", "scores/setups")  # the arrays RowsJob writes


@dataclass
class RowsJob(ChunkJob):
    """Writes each row's index, the pid that computed it and how often that process set the job up. Raises at the
    chunk starting at `fail_at`; in a worker (any pid but `parent`, the test's) it ends the process at `exit_at`
    and, with `setup_fails_in_workers`, fails its set-up."""

    task: str = "rows"
    fail_at: int = -1
    exit_at: int = -1
    setup_fails_in_workers: bool = False
    parent: int = 0  # pid of the test process
    setups: int = 0

    def setup(self) -> None:
        if self.setup_fails_in_workers and os.getpid() != self.parent:
            raise RuntimeError("this worker cannot build the job")
        self.setups += 1

    @property
    def prefers_processes(self) -> bool:
        return True

    def compute(self, start, stop, prefetched=None):
        if start == self.fail_at:
            raise InterfaceGANError(f"row block {start} is bad: fix it")
        if start == self.exit_at and os.getpid() != self.parent:
            os._exit(3)
        n = stop - start
        return {"scores/rows": np.arange(start, stop, dtype=np.float32),
                "scores/pid": np.full(n, os.getpid(), np.float32), "scores/setups": np.full(n, self.setups, np.float32)}  # fmt: skip
