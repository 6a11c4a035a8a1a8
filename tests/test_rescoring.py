"""Re-scoring edits and naming directions, with the toy model's known attributes."""

import json

import numpy as np
import pytest

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.editing.plan import plan_edit
from interfacegan.editing.stream import edit_images
from interfacegan.rescoring.matrix import CHANGE_DEFINITION
from interfacegan.rescoring.naming import (
    DOMINANCE_RATIO,
    MIN_CHANGE,
    NAMING_ALPHA,
    NAMING_NUM,
    NAMING_RULE,
    NAMING_SEED,
    name_directions,
)
from interfacegan.rescoring.rescore import rescore
from interfacegan.scoring.toy import ToyScorer


@pytest.fixture(scope="module")
def orthogonal_toy():
    # orthogonal known normals, so each attribute moves alone along its own normal
    return ToyGenerator(z_dim=8, normals=np.eye(8)[:3], num_attributes=3, seed=0)


def test_rescore_follows_the_known_normal(orthogonal_toy):
    z = orthogonal_toy.sample(40, seed=1)
    alphas = [-2.0, 0.0, 2.0]
    out = rescore(orthogonal_toy, z, "z", orthogonal_toy.true_normal(0), alphas, [ToyScorer(3)], batch_size=16)
    assert set(out) == {"attr0", "attr1", "attr2"} and out["attr0"].shape == (40, 3)
    # the toy scorer reads n_k . z back (up to 8-bit quantisation and tanh saturation)
    expected = (z @ orthogonal_toy.true_normal(0))[:, None] + np.array(alphas)[None]
    ok = np.abs(expected) < 6
    np.testing.assert_allclose(out["attr0"][ok], expected[ok], atol=0.2)
    np.testing.assert_allclose(out["attr1"][:, 0], out["attr1"][:, 2], atol=0.1)  # untouched attribute
    # batch size does not change results (streaming)
    again = rescore(orthogonal_toy, z, "z", orthogonal_toy.true_normal(0), alphas, ["toy"], batch_size=3)
    np.testing.assert_array_equal(again["attr0"], out["attr0"])


def test_rescore_in_wp_with_layers(orthogonal_toy):
    z = orthogonal_toy.sample(10, seed=2)
    wp = orthogonal_toy.map(z, "wp")
    n_w = orthogonal_toy.true_normal(1, "w")
    full = rescore(orthogonal_toy, wp, "wp", n_w, [0.0, 1.5], ["toy"], layers="all")
    # the first image row (where the toy attributes live) is drawn by layer 0 only
    only_top = rescore(orthogonal_toy, wp, "wp", n_w, [0.0, 1.5], ["toy"], layers="1-3")
    assert (full["attr1"][:, 1] > full["attr1"][:, 0]).all()
    np.testing.assert_array_equal(only_top["attr1"][:, 1], only_top["attr1"][:, 0])


def test_rescore_checks_boundary_and_scorers(orthogonal_toy):
    z = orthogonal_toy.sample(4)
    wrong = Boundary(normal=np.ones(9), attribute="x", model="toy")
    with pytest.raises(InterfaceGANError, match="dimension 9"):
        rescore(orthogonal_toy, z, "z", wrong, [1.0], ["toy"])
    with pytest.raises(InterfaceGANError, match="at least one"):
        rescore(orthogonal_toy, z, "z", orthogonal_toy.true_normal(0), [], ["toy"])


def test_edit_images_are_the_plans_edit(orthogonal_toy):
    plan = plan_edit(orthogonal_toy, Boundary(normal=orthogonal_toy.true_normal(0), space="z", model="toy"))
    z = orthogonal_toy.sample(3)
    grid = edit_images(plan, z, [-1.0, 0.0, 1.0], batch_size=2)
    assert grid.shape == (3, 3, 8, 8, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[:, 1], orthogonal_toy.synthesize(z))
    np.testing.assert_array_equal(grid[:, 2], orthogonal_toy.synthesize(z + orthogonal_toy.true_normal(0)))


# ---- naming: one definition of normalised change, one rule --------------------------------------------------------
def _named(orthogonal_toy, vectors, **kwargs):
    boundaries = [Boundary(normal=v, attribute=f"d{i}", model="toy") for i, v in enumerate(vectors)]
    return name_directions(orthogonal_toy, boundaries, [ToyScorer(3)], **kwargs)


def test_naming_measures_the_analysis_tables_normalised_change(orthogonal_toy):
    """change = mean(s(x + alpha n) - s(x)) / std(s(x)) over the NAMING_NUM samples of the fixed NAMING_SEED."""
    n = (2 * orthogonal_toy.true_normal(0) - orthogonal_toy.true_normal(2)) / np.sqrt(5)
    name = _named(orthogonal_toy, [n])[0]
    z = orthogonal_toy.sample(NAMING_NUM, seed=NAMING_SEED)
    scores = rescore(orthogonal_toy, z, "z", n, [0.0, NAMING_ALPHA], [ToyScorer(3)])
    for attribute, values in scores.items():
        before, after = values[:, 0].astype(np.float64), values[:, 1].astype(np.float64)
        expected = np.mean(after - before) / np.std(before)
        assert name.effects[attribute].change_std == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert name.effects[attribute].num_valid == NAMING_NUM
    assert name.effects["attr2"].fraction_increased == 0.0 and name.effects["attr0"].fraction_increased == 1.0
    assert "mean over the M samples of (score after the edit x + alpha n - score of x)" in CHANGE_DEFINITION


def test_a_direction_is_named_only_when_one_attribute_clearly_dominates(orthogonal_toy):
    n0, n1, n2 = (orthogonal_toy.true_normal(k) for k in range(3))
    e5 = np.eye(8)[5].astype(np.float32)  # moves no attribute (the known normals are e0, e1, e2)
    vectors = [n0, -n1, 2 * n2 + n0, 1.2 * n0 + n1, n0 + n1, e5, 0.1 * n0 + e5]
    names = _named(orthogonal_toy, vectors)
    got = [(n.attribute, n.sign, n.label) for n in names]
    assert got[:3] == [("attr0", 1, "+attr0"), ("attr1", -1, "-attr1"), ("attr2", 1, "+attr2")]
    # |top| / |second| = 1.2 and 1: no name, the direction keeps its own and lists its top effects
    for n in names[3:5]:
        assert (n.attribute, n.label, n.title) == (None, "", n.direction)
        assert [e.attribute for e in n.top_effects(2)] == ["attr0", "attr1"]
        assert n.summary().startswith("attr0 +") and ", attr1 +" in n.summary()
    # dominant but below the floor of MIN_CHANGE std: no name
    assert abs(names[6].effects["attr0"].change_std) < MIN_CHANGE and names[6].attribute is None
    assert names[5].attribute is None and names[1].title == "d1 (-attr1)"
    ratio = abs(names[2].effects["attr2"].change_std / names[2].effects["attr0"].change_std)
    assert ratio > DOMINANCE_RATIO  # 2 in the code, about 2.2 in std units of 64 samples
    assert f"at least {DOMINANCE_RATIO:g} x the second largest and at least {MIN_CHANGE:g}" in NAMING_RULE
    assert set(names[0].as_dict()["effects"]) == {"attr0", "attr1", "attr2"}


def test_names_are_stable_across_calls_batch_sizes_and_lists(orthogonal_toy):
    n0, n1, n2 = (orthogonal_toy.true_normal(k) for k in range(3))
    vectors = [n1, (n0 + n2) / np.sqrt(2)]
    boundaries = [Boundary(normal=v, attribute=f"d{i}", model="toy") for i, v in enumerate(vectors)]
    first = [n.as_dict() for n in name_directions(orthogonal_toy, boundaries, ["toy"])]
    again = [n.as_dict() for n in name_directions(orthogonal_toy, boundaries[::-1], [ToyScorer(3)], batch_size=5)][::-1]
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_naming_w_directions_on_chosen_layers_edits_those_layers(orthogonal_toy):
    b = Boundary(normal=orthogonal_toy.true_normal(1, "w"), space="w", attribute="s", model="toy", kind="sefa",
                 settings={"layers": "1-3"})  # fmt: skip
    # the scored first image row is drawn by layer 0 only: an edit of layers 1-3 moves no attribute
    name = name_directions(orthogonal_toy, [b], [ToyScorer(3)])[0]
    assert name.attribute is None and all(e.change_std == 0 for e in name.effects.values())
    b.settings["layers"] = "0"
    assert name_directions(orthogonal_toy, [b], [ToyScorer(3)])[0].label == "+attr1"
