"""Re-scoring edits and naming directions, with the toy model's known attributes."""

import numpy as np
import pytest

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.editing.stream import edit_images, edit_plan
from interfacegan.rescoring.rescore import direction_effects, name_directions, rescore
from interfacegan.scoring.toy import ToyScorer


@pytest.fixture(scope="module")
def model():
    # orthogonal known normals, so each attribute moves alone along its own normal
    return ToyGenerator(z_dim=8, normals=np.eye(8)[:3], num_attributes=3, seed=0)


def test_rescore_follows_the_known_normal(model):
    z = model.sample(40, seed=1)
    alphas = [-2.0, 0.0, 2.0]
    out = rescore(model, z, "z", model.true_normal(0), alphas, [ToyScorer(3)], batch_size=16)
    assert set(out) == {"attr0", "attr1", "attr2"} and out["attr0"].shape == (40, 3)
    # the toy scorer reads n_k . z back (up to 8-bit quantisation and tanh saturation)
    expected = (z @ model.true_normal(0))[:, None] + np.array(alphas)[None]
    ok = np.abs(expected) < 6
    np.testing.assert_allclose(out["attr0"][ok], expected[ok], atol=0.2)
    np.testing.assert_allclose(out["attr1"][:, 0], out["attr1"][:, 2], atol=0.1)  # untouched attribute
    # batch size does not change results (streaming)
    again = rescore(model, z, "z", model.true_normal(0), alphas, ["toy"], batch_size=3)
    np.testing.assert_array_equal(again["attr0"], out["attr0"])


def test_rescore_in_wp_with_layers(model):
    z = model.sample(10, seed=2)
    wp = model.map(z, "wp")
    n_w = model.true_normal(1, "w")
    full = rescore(model, wp, "wp", n_w, [0.0, 1.5], ["toy"], layers="all")
    # the first image row (where the toy attributes live) is drawn by layer 0 only
    only_top = rescore(model, wp, "wp", n_w, [0.0, 1.5], ["toy"], layers="1-3")
    assert (full["attr1"][:, 1] > full["attr1"][:, 0]).all()
    np.testing.assert_array_equal(only_top["attr1"][:, 1], only_top["attr1"][:, 0])


def test_direction_effects_and_naming(model):
    z = model.sample(32, seed=3)
    effects = direction_effects(model, z, "z", -model.true_normal(2), ["toy"], alpha=1.0)
    assert effects["attr2"].fraction_increased == 0.0 and effects["attr2"].change_std < -1.0
    assert abs(effects["attr0"].change_std) < 0.1
    boundaries = [
        Boundary(normal=model.true_normal(k) * (1 if k != 1 else -1), attribute=f"d{k}", model="toy")
        for k in range(3)
    ]
    names = name_directions(model, boundaries, [ToyScorer(3)], num=24, alpha=1.0)
    assert [(n.direction, n.attribute, n.sign) for n in names] == [("d0", "attr0", 1), ("d1", "attr1", -1), ("d2", "attr2", 1)]
    assert names[1].label == "-attr1"
    assert set(names[0].as_dict()["effects"]) == {"attr0", "attr1", "attr2"}


def test_rescore_checks_boundary_and_scorers(model):
    z = model.sample(4)
    wrong = Boundary(normal=np.ones(9), attribute="x", model="toy")
    with pytest.raises(InterfaceGANError, match="dimension 9"):
        rescore(model, z, "z", wrong, [1.0], ["toy"])
    with pytest.raises(InterfaceGANError, match="at least one"):
        rescore(model, z, "z", model.true_normal(0), [], ["toy"])


def test_edit_plan_and_images(model):
    w_boundary = Boundary(normal=model.true_normal(0, "w"), space="w", model="toy", kind="sefa",
                          settings={"layers": "0-1"})  # fmt: skip
    assert edit_plan(model, w_boundary) == ("wp", "0-1")
    assert edit_plan(model, w_boundary, layers="2") == ("wp", "2")
    z_boundary = Boundary(normal=model.true_normal(0), space="z", model="toy")
    assert edit_plan(model, z_boundary) == ("z", None)
    with pytest.raises(InterfaceGANError, match="lives in space 'z'"):
        edit_plan(model, z_boundary, space="w")
    with pytest.raises(InterfaceGANError, match="drop --layers"):
        edit_plan(model, z_boundary, layers="0")
    other = Boundary(normal=model.true_normal(0), space="z", model="dcgan-digiface")
    with pytest.raises(InterfaceGANError, match="belongs to model"):
        edit_plan(model, other)
    grid = edit_images(model, model.sample(3), "z", z_boundary.normal, [-1.0, 0.0, 1.0])
    assert grid.shape == (3, 3, 8, 8, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[:, 1], model.synthesize(model.sample(3)))
