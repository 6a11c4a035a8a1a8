"""Where the analyses get latent codes: the first rows of a run, in any space of its model, block by block.

Rows come from the store when it holds that space, otherwise they are mapped from the stored z codes with the
run's truncation (e.g. W+ codes of a run sampled with --space w), so large M never needs all codes in memory.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.models import Truncation
from interfacegan.editing.stream import run_codes
from interfacegan.store import SampleStore

DEFAULT_BLOCK_ROWS = 2048


class CodeSource:
    """Rows [0, num) of a run's codes in `space` (shape (num, *space_shape)), read or mapped in blocks."""

    def __init__(self, store: SampleStore, model, space: str, num: int, block_rows: int = DEFAULT_BLOCK_ROWS):
        model.check_space(space)
        if num <= 0:
            raise InterfaceGANError(f"the number of samples to analyse must be positive, got {num}")
        self.store, self.model, self.space = store, model, space
        self.num = min(int(num), store.num)
        self.block_rows = max(1, int(block_rows))
        self.truncation = store.truncation
        self.from_store = space in store.spaces
        if not self.from_store and "z" not in store.spaces:
            raise InterfaceGANError(f"{store.path} has no {space!r} codes and no z codes to map: resample the run")
        shape = tuple(model.space_shape(space))
        if self.from_store and tuple(store.codes_array(space).shape[1:]) != shape:
            raise InterfaceGANError(
                f"{store.path} holds {space!r} codes of shape {tuple(store.codes_array(space).shape[1:])}, "
                f"but model {model.name!r} expects {shape}: analyse the run with the model that sampled it"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.num, *self.model.space_shape(self.space))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Codes of rows [start, stop) as float32 (stop - start, *space_shape)."""
        return run_codes(self.store, self.model, self.space, slice(start, min(stop, self.num)))

    def blocks(self, num: int | None = None) -> Iterator[tuple[int, int]]:
        """(start, stop) blocks covering rows [0, num) (default all `self.num`)."""
        num = self.num if num is None else min(num, self.num)
        for start in range(0, num, self.block_rows):
            yield start, min(start + self.block_rows, num)

    def synthesis_truncation(self) -> Truncation | None:
        """Truncation to pass when synthesizing these codes: only z codes still need it."""
        return self.truncation if self.space == "z" and self.truncation.active else None
