"""Which conditional directions the re-scoring analysis measures: items 'auto', 'none' or 'PRIMAL|COND[,COND...]'.

'auto' conditions each boundary on the other boundary of its space with the largest |cosine|, when that |cosine|
is at least the threshold and below SAME_DIRECTION: two scores that rank samples alike (the `gender` logit and
`male_probability`) give the same boundary, and conditioning one on the other would leave nothing to edit. An
explicit item names a primal attribute and the attributes it keeps unchanged.
The directions themselves come from `editing.plan_edit` (the one conditional projection).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from interfacegan.analysis.correlation import cosine_matrix
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError

KEYWORDS = ("auto", "none", "")
# |cosine| from which two boundaries count as one direction ('auto' never conditions one on the other)
SAME_DIRECTION = 0.999


def parse_condition(item: str) -> tuple[str, list[str]]:
    """'eyeglasses|brightness,age' -> ('eyeglasses', ['brightness', 'age'])."""
    primal, sep, rest = item.partition("|")
    conds = [c.strip() for c in rest.split(",") if c.strip()]
    if not sep or not primal.strip() or not conds:
        raise InterfaceGANError(f"bad condition {item!r}: use PRIMAL|COND[,COND...], e.g. eyeglasses|brightness")
    return primal.strip(), conds


def check_condition_syntax(items: Sequence[str]) -> None:
    """One-line error for an item that is neither a keyword nor 'PRIMAL|COND[,COND...]'."""
    for item in items:
        if item not in KEYWORDS:
            parse_condition(item)


def check_condition_names(items: Sequence[str], boundaries: Sequence[Boundary]) -> None:
    """Explicit conditions must name attributes that have boundaries (a typo would silently do nothing)."""
    names = {b.attribute for b in boundaries}
    for item in items:
        if item in KEYWORDS or not names:
            continue
        primal, conds = parse_condition(item)
        unknown = [a for a in (primal, *conds) if a not in names]
        if unknown:
            raise InterfaceGANError(
                f"condition {item!r} names {', '.join(unknown)} without a boundary: use {', '.join(sorted(names))}"
            )


def condition_pairs(
    boundaries: Sequence[Boundary], items: Sequence[str], threshold: float
) -> list[tuple[int, list[int]]]:
    """(primal index, condition indices) into `boundaries` (one space) for every conditional direction asked for."""
    names = [b.attribute for b in boundaries]
    pairs: list[tuple[int, list[int]]] = []
    if "auto" in items and len(boundaries) >= 2:
        cos = cosine_matrix(np.stack([b.normal for b in boundaries]))
        np.fill_diagonal(cos, 0.0)
        cos[np.abs(cos) >= SAME_DIRECTION] = 0.0
        for i in range(len(boundaries)):
            j = int(np.argmax(np.abs(cos[i])))
            if abs(cos[i, j]) >= threshold:
                pairs.append((i, [j]))
    for item in items:
        if item in KEYWORDS:
            continue
        primal, conds = parse_condition(item)
        if primal in names and all(c in names for c in conds):
            pair = (names.index(primal), [names.index(c) for c in conds])
            if pair not in pairs:
                pairs.append(pair)
    return pairs
