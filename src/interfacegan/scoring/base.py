"""The scorer protocol: images in, named float scores out.

A scorer maps a batch of uint8 images (N, H, W, 3) to a dict {output name: float32 array (N,) or (N, k)}.
Scalar outputs are attribute scores (NaN where the scorer cannot tell); vector outputs are features such as
the 128-d identity descriptor. `version` is stored beside every score so results stay traceable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from interfacegan.errors import InterfaceGANError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 luma weights, as PIL's "L" mode


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

    def for_run(self, store, images=None) -> Scorer:
        """The scorer to use on the run `store` (a `SampleStore`): itself, or a copy bound to run-specific settings
        such as the face framing (`framed.py`); `images(start, stop)` gives the run's images if a setting must
        be measured on them. `score_store` calls it once per run."""
        return self


def bind_run(scorer: Scorer, store, images=None) -> Scorer:
    """`scorer.for_run(store, images)` for scorers that have the hook (any `Scorer`), else `scorer` itself."""
    hook = getattr(scorer, "for_run", None)
    return hook(store, images) if hook is not None else scorer


def check_images(images: np.ndarray, who: str) -> np.ndarray:
    """Return `images` as a uint8 (N, H, W, 3) array or raise a one-line error naming `who` (the scorer)."""
    if images is None:
        raise InterfaceGANError(f"scorer {who!r} needs images: pass a uint8 array of shape (N, H, W, 3)")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InterfaceGANError(f"scorer {who!r} needs images of shape (N, H, W, 3), got {images.shape}")
    if images.dtype != np.uint8:
        raise InterfaceGANError(f"scorer {who!r} needs uint8 images (0-255), got {images.dtype}")
    return images


def parse_names(value, who: str) -> list[str] | None:
    """Output names given as 'a,b,c' or a sequence (None stays None); a one-line error unless distinct and non-empty."""
    if value is None:
        return None
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value)]
    if not names or not all(names) or len(set(names)) != len(names):
        raise InterfaceGANError(f"{who}: names={value!r} must be distinct non-empty names, comma-separated")
    return names
