"""Matching unsupervised directions to supervised boundaries (SeFa paper Tab. 2, Tab. 3): for each boundary, the
SeFa or GANSpace direction that best matches it (largest |cosine| among the method's top k), signed so that it
points the same way; and, from re-scoring, the direction of the top k that moves the boundary's attribute most.

Two attributes may match the same direction (the SeFa paper's gender and eyeglasses rows are identical for that
reason); the matches are reported as found, with their cosine, so a weak match is visible as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError

# What each unsupervised method calls the strength of a direction (a metric its Boundaries carry).
STRENGTH = {"sefa": "eigenvalue", "ganspace": "explained_variance_ratio"}


@dataclass
class DirectionMatch:
    """The best match of one boundary among a method's top-k directions."""

    attribute: str
    space: str
    index: int  # rank of the direction in its method (0 = strongest)
    sign: int  # +1 or -1: the direction was flipped by this sign
    cosine: float  # cosine between the boundary normal and the signed direction (>= 0)
    value: float  # the direction's strength: SeFa eigenvalue, GANSpace explained variance ratio (NaN if unknown)
    direction: np.ndarray  # signed unit direction (d,)
    name: str  # the direction's own name, e.g. 'sefa_3', 'ganspace_0'

    @property
    def label(self) -> str:
        """'+sefa_3' / '-ganspace_0': the direction's own name with the sign it is used with."""
        return f"{'+' if self.sign > 0 else '-'}{self.name}"


def match_directions(boundaries: Sequence[Boundary], directions: Sequence[Boundary]) -> list[DirectionMatch]:
    """Best-matching direction (largest |cosine|, signed) per boundary of the directions' space and dimension
    (other boundaries are skipped). `directions` are one method's top k, strongest first (SeFa or GANSpace)."""
    if not directions:
        raise InterfaceGANError("no directions to match: use k >= 1")
    space, kind = directions[0].space, directions[0].kind
    stack = np.stack([d.normal.astype(np.float64) for d in directions])  # (k, d), unit rows
    matches = []
    for boundary in boundaries:
        if boundary.space != space or boundary.dim != stack.shape[1]:
            continue
        cos = stack @ boundary.normal.astype(np.float64)
        i = int(np.argmax(np.abs(cos)))
        sign = 1 if cos[i] >= 0 else -1
        value = float(directions[i].metrics.get(STRENGTH.get(kind, ""), float("nan")))
        matches.append(DirectionMatch(boundary.attribute, space, i, sign, float(abs(cos[i])), value,
                                      (sign * stack[i]).astype(np.float32), directions[i].attribute))  # fmt: skip
    return matches


def strongest_mover(attribute: str, names: Sequence) -> tuple[int, float] | None:
    """(index, normalised change) of the direction whose edit moves `attribute` most (largest |change|) among
    `names` (`rescoring.naming.DirectionName`s of one method's top k, in rank order); None when none measured it."""
    changes = [n.effects[attribute].change_std if attribute in n.effects else float("nan") for n in names]
    finite = [(abs(c), i) for i, c in enumerate(changes) if np.isfinite(c)]
    if not finite:
        return None
    i = max(finite)[1]
    return i, float(changes[i])
