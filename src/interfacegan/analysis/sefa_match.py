"""SeFa vs. InterFaceGAN (SeFa paper Tab. 2): for each supervised boundary, the unsupervised SeFa direction that
best matches it (largest |cosine| among the top-k eigenvectors), signed so that it points the same way.

Two attributes may match the same SeFa direction (the SeFa paper's gender and eyeglasses rows are identical for
that reason); the matches are reported as found, with their cosine, so a weak match is visible as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError


@dataclass
class SefaMatch:
    attribute: str
    space: str
    index: int  # rank of the SeFa direction (0 = largest eigenvalue)
    sign: int  # +1 or -1: the SeFa direction was flipped by this sign
    cosine: float  # cosine between the boundary normal and the signed SeFa direction (>= 0)
    eigenvalue: float
    direction: np.ndarray  # signed unit SeFa direction (d,)

    @property
    def label(self) -> str:
        return f"{'+' if self.sign > 0 else '-'}sefa_{self.index}"


def match_sefa(boundaries: Sequence[Boundary], directions: Sequence[Boundary]) -> list[SefaMatch]:
    """Best-matching SeFa direction per boundary of the same space and dimension (others are skipped)."""
    if not directions:
        raise InterfaceGANError("no SeFa directions to match: use k >= 1")
    space = directions[0].space
    stack = np.stack([d.normal.astype(np.float64) for d in directions])  # (k, d), unit rows
    matches = []
    for boundary in boundaries:
        if boundary.space != space or boundary.dim != stack.shape[1]:
            continue
        cos = stack @ boundary.normal.astype(np.float64)
        i = int(np.argmax(np.abs(cos)))
        sign = 1 if cos[i] >= 0 else -1
        matches.append(SefaMatch(boundary.attribute, space, i, sign, float(abs(cos[i])),
                                 float(directions[i].metrics.get("eigenvalue", float("nan"))),
                                 (sign * stack[i]).astype(np.float32)))  # fmt: skip
    return matches
