"""Codes to edit, in any space of a model, block by block: rows of a run (`run_codes`, `CodeSource`) or fresh
samples of a seed (`SampledCodes`, what SeFa naming and grids edit).

Run rows come from the store when it holds that space, otherwise they are mapped from the stored z codes with the
run's truncation (e.g. W+ codes of a run sampled with space w), so large M never needs all codes in memory.
Both sources offer `num`, `space`, `read(start, stop)`, `blocks()` and `synthesis_truncation()`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.models import Truncation
from interfacegan.store import SampleStore

DEFAULT_BLOCK_ROWS = 2048


def run_codes(store, model, space: str, rows: slice | np.ndarray) -> np.ndarray:
    """Codes of store `rows` in `space`: read when stored, else mapped from the stored z (run's truncation)."""
    if space in store.spaces:
        return store.codes(space, rows=rows)
    return model.map(store.codes("z", rows=rows), space, store.truncation)


def _blocks(num: int, block_rows: int) -> Iterator[tuple[int, int]]:
    for start in range(0, num, block_rows):
        yield start, min(start + block_rows, num)


class CodeSource:
    """Rows [0, num) of a run's codes in `space` (shape (num, *space_shape)), read or mapped in blocks."""

    def __init__(self, store: SampleStore, model, space: str, num: int, block_rows: int = DEFAULT_BLOCK_ROWS):
        model.check_space(space)
        num = checks.positive_int("num", num)
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
        return _blocks(self.num if num is None else min(num, self.num), self.block_rows)

    def synthesis_truncation(self) -> Truncation | None:
        """Truncation to pass when synthesizing these codes: only z codes still need it."""
        return self.truncation if self.space == "z" and self.truncation.active else None


class SampledCodes:
    """Rows [0, num) of the model's z sequence for `seed`, in `space` (mapped with `truncation`), in blocks.

    Rows do not depend on the block size (the z sequence is drawn in fixed blocks), so the same seed gives the
    same codes to every caller: SeFa naming in the demo, the CLI and the editor.
    """

    def __init__(self, model, space: str, num: int, seed: int = 0, truncation: Truncation | None = None,
                 block_rows: int = DEFAULT_BLOCK_ROWS):  # fmt: skip
        model.check_space(space)
        self.model, self.space = model, space
        self.num, self.seed = checks.positive_int("num", num), checks.seed(seed)
        self.truncation = truncation
        self.block_rows = max(1, int(block_rows))

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.num, *self.model.space_shape(self.space))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Codes of rows [start, stop) as float32 (stop - start, *space_shape)."""
        stop = min(stop, self.num)
        z = self.model.sample(max(0, stop - start), seed=self.seed, start=start)
        return self.model.map(z, self.space, self.truncation)

    def blocks(self, num: int | None = None) -> Iterator[tuple[int, int]]:
        return _blocks(self.num if num is None else min(num, self.num), self.block_rows)

    def synthesis_truncation(self) -> Truncation | None:
        """Truncation to pass when synthesizing these codes: only z codes still need it."""
        t = self.truncation
        return t if self.space == "z" and t is not None and t.active else None
