"""Reads the known attributes back from `ToyGenerator` images (pixel k of the first row)."""

from __future__ import annotations

import numpy as np

from interfacegan.models.toy import TOY_SCALE
from interfacegan.scoring.base import Scorer


class ToyScorer(Scorer):
    """attr_k = n_k . z recovered from the uint8 pixel (exact up to 8-bit quantisation)."""

    name = "toy"
    version = "1"

    def __init__(self, num_attributes: int = 3):
        self.num_attributes = num_attributes

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {f"attr{k}": () for k in range(self.num_attributes)}

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        pixels = images[:, 0, : self.num_attributes, 0].astype(np.float64)
        tanh = np.clip((pixels - 127.5) / 127.5, -0.999, 0.999)
        values = np.arctanh(tanh) * TOY_SCALE
        return {f"attr{k}": values[:, k].astype(np.float32) for k in range(self.num_attributes)}
