"""Which conditional directions `analyze rescore` measures ('auto' and explicit items)."""

from __future__ import annotations

import numpy as np

from interfacegan.analysis.conditions import condition_pairs
from interfacegan.directions.boundary import Boundary
from interfacegan.editing.manipulation import conditional_direction


def _boundary(name: str, normal) -> Boundary:
    return Boundary(np.asarray(normal, dtype=np.float32), attribute=name, model="toy")


def test_auto_conditions_on_the_most_correlated_other_boundary_above_the_threshold():
    a, b, c = _boundary("a", [1, 0, 0]), _boundary("b", [0.6, 0.8, 0]), _boundary("c", [0, 0, 1])
    assert condition_pairs([a, b, c], ["auto"], 0.3) == [(0, [1]), (1, [0])]
    assert condition_pairs([a, b, c], ["auto"], 0.7) == []
    assert condition_pairs([a, b, c], ["c|a,b"], 0.3) == [(2, [0, 1])]


def test_auto_never_conditions_a_boundary_on_its_own_direction():
    # `gender` (a logit) and `male_probability` rank samples alike, so their SVMs learn the same normal: conditioning
    # one on the other leaves nothing to edit, so 'auto' pairs each with the next most correlated boundary instead.
    gender, prob = _boundary("gender", [1, 0.1, 0]), _boundary("male_probability", [1, 0.1, 0])
    age = _boundary("age", [0.5, 0.5, 0.7])
    pairs = condition_pairs([gender, prob, age], ["auto"], 0.3)
    assert pairs == [(0, [2]), (1, [2]), (2, [0])]
    bs = [gender, prob, age]
    for i, js in pairs:
        conditional_direction(bs[i].normal, [bs[j].normal for j in js])  # each leaves a direction to edit
