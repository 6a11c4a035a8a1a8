"""Re-scoring as executor jobs: what one block of code rows contributes (its unedited scores, or the running sums
of its edits), computed by a `ChunkJob` that any engine (`interfacegan.execution`) maps over the blocks.

A job carries the model's spec and reloads the generator once per worker (a model without a spec travels
pickled), the code source without its model, the scorers (they load their weights lazily, once per worker
process) and the edits as plain arrays; `setup` binds them again. `execution.map_blocks` hands the blocks' arrays
back in block order, so the sums add up in the same order on every engine: the result is the same bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from interfacegan.execution import ChunkJob
from interfacegan.rescoring.rescore import rescore

SUMS = ("total", "total_sq", "rose", "count")  # what `EditSumsJob` adds up per (edit, attribute) cell


@dataclass
class CodeBlocksJob(ChunkJob):
    """Work on blocks of a code source's rows (`source`: a `CodeSource` or `SampledCodes`) with `model`, whose codes
    are read (or mapped) ahead by `prefetch`. Subclasses define `compute(start, stop, codes)`."""

    model: Any
    source: Any
    scorers: list
    batch_size: int = 64
    device: Any = None  # where a worker loads the model (None: where `model` was asked to be, its requested_device)
    task: str = "re-scoring"
    model_spec: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.model_spec = getattr(self.model, "spec", None) or None
        if self.device is None:
            self.device = getattr(self.model, "requested_device", None)

    def __getstate__(self) -> dict:
        """A model with a spec is reloaded by the worker (`setup`), so neither the job nor its source carries it."""
        state = self.__dict__.copy()
        if self.model_spec:
            state["model"] = None
            state["source"] = copy.copy(self.source)
            state["source"].model = None
        return state

    def setup(self) -> None:
        if self.model is None:
            from interfacegan.models import load_model

            self.model = load_model(self.model_spec, device=self.device)
        if self.source.model is None:
            self.source.model = self.model

    @property
    def prefers_processes(self) -> bool:
        """Image scorers hold the GIL; workers can rebuild the job only when the model has a spec."""
        return bool(self.model_spec)

    def prefetch(self, start: int, stop: int) -> np.ndarray:
        return self.source.read(start, stop)

    def blocks(self) -> list[tuple[int, int]]:
        return list(self.source.blocks())


@dataclass
class BaselineJob(CodeBlocksJob):
    """Scores {output: (n,)} of the unedited images of a block (a zero edit through `rescore`, the pipeline the
    edits use); with `vectors` also vector outputs {output: (n, k)} such as identity descriptors."""

    vectors: bool = False

    def compute(self, start: int, stop: int, prefetched: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self.source.read(start, stop) if prefetched is None else prefetched
        zero = np.zeros(self.model.space_shape(self.source.space), dtype=np.float32)
        out = rescore(self.model, codes, self.source.space, zero, [0.0], self.scorers, batch_size=self.batch_size,
                      truncation=self.source.synthesis_truncation(), vectors=self.vectors)  # fmt: skip
        return {name: values[:, 0] for name, values in out.items()}


@dataclass
class EditSumsJob(CodeBlocksJob):
    """Per block, running sums (4, E, C) over its rows of every edit's score change against `before` (the
    unedited scores {attribute: (M,)}, in column order): sum of the changes, of their squares, how many rose and
    how many had both scores finite (SUMS)."""

    edits: Sequence = ()  # `rescoring.matrix.Edit`s (plain arrays and names)
    alpha: float = 0.0
    before: dict[str, np.ndarray] = field(default_factory=dict)

    def compute(self, start: int, stop: int, prefetched: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self.source.read(start, stop) if prefetched is None else prefetched
        names = list(self.before)
        sums = np.zeros((len(SUMS), len(self.edits), len(names)))
        for i, edit in enumerate(self.edits):
            out = rescore(self.model, codes, self.source.space, np.asarray(edit.direction, dtype=np.float32),
                          [self.alpha], self.scorers, batch_size=self.batch_size, layers=edit.layers,
                          truncation=self.source.synthesis_truncation())  # fmt: skip
            for j, name in enumerate(names):
                after = out[name][:, 0].astype(np.float64)
                before = self.before[name][start:stop].astype(np.float64)
                ok = np.isfinite(after) & np.isfinite(before)
                diff = after[ok] - before[ok]
                sums[:, i, j] = diff.sum(), (diff**2).sum(), (diff > 0).sum(), ok.sum()
        return {"sums": sums}
