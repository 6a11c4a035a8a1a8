"""The scorer protocol: images in, named float scores out.

A scorer maps a batch of uint8 images (N, H, W, 3) to a dict {output name: float32 array (N,) or (N, k)}.
Scalar outputs are attribute scores (NaN where the scorer cannot tell); vector outputs are features such as
the 128-d identity descriptor. `version` is stored beside every score so results stay traceable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Scorer(ABC):
    """Base class for scorer plugins (see module docstring)."""

    name: str = "scorer"
    version: str = "1"
    needs_images: bool = True  # False for scorers keyed by sample index (human labels)

    @property
    @abstractmethod
    def outputs(self) -> dict[str, tuple[int, ...]]:
        """Output name -> trailing shape: () for a scalar score, (k,) for a k-d feature."""

    @abstractmethod
    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Scores for `images` (N, H, W, 3) uint8; `indices` are their sample rows when known."""

    @property
    def attributes(self) -> list[str]:
        """The scalar outputs: the attributes a boundary can be trained on."""
        return [name for name, shape in self.outputs.items() if shape == ()]

    def __call__(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self.score(images, indices)
