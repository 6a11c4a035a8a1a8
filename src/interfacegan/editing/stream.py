"""Images of edited codes, streamed in bounded blocks: what the `edit` command, re-scoring, SeFa grids and the
translator's pairs synthesize. Codes move as an `EditPlan` says (`plan.edit`); memory stays bounded by one block.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from interfacegan import checks
from interfacegan.editing.plan import EditPlan, check_mode
from interfacegan.errors import InterfaceGANError


def edited_batches(plan: EditPlan, codes: np.ndarray, values: Sequence[float], batch_size: int = 64,
                   truncation=None, mode: str = "offset") -> Iterator[tuple[int, int, np.ndarray]]:  # fmt: skip
    """Images of codes (N, *plan.code_shape) edited at each step value (S,), block by block.

    Yields (start, stop, images (n*S, H, W, 3) uint8) with image i*S + s showing row start + i at value s; a block
    holds about `batch_size` images. `truncation` applies when synthesizing z codes of style models. Arguments are
    checked on the call, not on first use.
    """
    codes = checks.finite_array("codes", codes, dtype=np.float32)
    plan.model.check_codes(codes, plan.space)
    values = checks.finite_array("edit values", np.ravel(values), dtype=np.float32)
    if len(values) == 0:
        raise InterfaceGANError("give at least one edit step (value)")
    checks.positive_int("batch_size", batch_size)
    check_mode(mode)
    if mode == "distance":
        plan.check_distance_mode()
    return _edited_batches(plan, codes, values, batch_size, truncation, mode)


def _edited_batches(plan, codes, values, batch_size, truncation, mode):
    s = len(values)
    per_batch = max(1, batch_size // s)
    for start in range(0, len(codes), per_batch):
        part = codes[start : start + per_batch]
        flat = plan.edit(part, values, mode).reshape(len(part) * s, *plan.code_shape)
        images = plan.model.synthesize(flat, plan.space, batch_size=batch_size, truncation=truncation)
        yield start, start + len(part), images


def edit_images(plan: EditPlan, codes: np.ndarray, values: Sequence[float], mode: str = "offset",
                batch_size: int = 64, truncation=None) -> np.ndarray:  # fmt: skip
    """Images (N, S, H, W, 3) uint8 of codes (N, *plan.code_shape) edited at each step value (S,)."""
    values = np.ravel(values)  # checked (finite, within float32) by `edited_batches`
    blocks = [images.reshape(stop - start, len(values), *images.shape[1:])
              for start, stop, images in edited_batches(plan, codes, values, batch_size, truncation, mode)]  # fmt: skip
    if not blocks:
        r = plan.model.resolution
        return np.zeros((0, len(values), r, r, 3), np.uint8)
    return np.concatenate(blocks)
