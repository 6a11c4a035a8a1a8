"""Scorers that the analysis tests share (not tests themselves): their answers are known on the toy generator."""

from __future__ import annotations

import numpy as np

from interfacegan.models.toy import TOY_SCALE
from interfacegan.scoring.base import Scorer
from interfacegan.scoring.toy import ToyScorer


class PositionScorer(Scorer):
    """Ignores the image: the score of an image is its position in the batch (so it is not constant)."""

    name = "position"

    @property
    def outputs(self):
        return {"position": ()}

    def score(self, images, indices=None):
        return {"position": (np.arange(len(images)) % 7).astype(np.float32)}


class PixelFeatures(Scorer):
    """A feature per image: the toy read-out values readout @ code recovered from the grey pixels."""

    name = "pixels"

    def __init__(self, constant: bool = False):
        self.constant = constant

    @property
    def outputs(self):
        return {"identity": (64,)}

    def score(self, images, indices=None):
        if self.constant:
            return {"identity": np.ones((len(images), 64), np.float32)}
        t = np.clip((images[..., 0].astype(np.float64) - 127.5) / 127.5, -0.999, 0.999)
        return {"identity": (np.arctanh(t) * TOY_SCALE).reshape(len(images), -1).astype(np.float32)}


class ColourScorer(Scorer):
    """Image statistics any generator moves: mean brightness and red minus blue (counting the images it scores)."""

    name = "colour"

    def __init__(self):
        self.images = 0

    @property
    def outputs(self):
        return {"brightness": (), "redness": ()}

    def score(self, images, indices=None):
        self.images += len(images)
        x = images.astype(np.float32) / 255
        return {"brightness": x.mean(axis=(1, 2, 3)), "redness": (x[..., 0] - x[..., 2]).mean(axis=(1, 2))}


class CountingToyScorer(ToyScorer):
    """The toy scorer, counting the images it scores (to check the plan's image counts)."""

    def __init__(self, num_attributes: int = 3):
        super().__init__(num_attributes)
        self.images = 0

    def score(self, images, indices=None):
        self.images += len(images)
        return super().score(images, indices)


class CountingFeatures(PixelFeatures):
    """PixelFeatures, counting the images it describes."""

    def __init__(self):
        super().__init__()
        self.images = 0

    def score(self, images, indices=None):
        self.images += len(images)
        return super().score(images, indices)


def toy_run_with_w(path, num: int, chunk_rows: int):
    """A toy run with z and w codes (so layer-wise edits apply) scored by the toy scorer: (model, store)."""
    from interfacegan.models import ToyGenerator
    from interfacegan.sampling import sample_to_store
    from interfacegan.scoring.run import score_store

    model = ToyGenerator(z_dim=16, num_attributes=3, seed=0)
    store = sample_to_store(model, path, num=num, seed=3, spaces=("z", "w"), chunk_rows=chunk_rows, progress=False)
    score_store(store, ToyScorer(), model=model, progress=False)
    return model, store
