"""Editing math: offsets, distances, conditional directions, layer-wise W+ edits (numpy and torch)."""

import numpy as np
import pytest
import torch

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.editing.manipulation import (
    conditional_direction,
    edit_layers,
    edit_offset,
    edit_to_distance,
    linspace_steps,
    signed_distance,
)

rng = np.random.default_rng(0)


def unit(v):
    return v / np.linalg.norm(v)


def test_linspace_steps():
    np.testing.assert_allclose(linspace_steps(-3, 3, 7), [-3, -2, -1, 0, 1, 2, 3])
    assert linspace_steps(-3, 3, 7).dtype == np.float32
    np.testing.assert_allclose(linspace_steps(-2, 2, 2), [-2, 2])  # the two ends
    for steps in (0, 1):  # one step drew the range's start alone: the rest of the range was silently dropped
        with pytest.raises(InterfaceGANError, match=rf"steps must be in \[2, 1000\], got {steps}"):
            linspace_steps(0, 1, steps)
    for lo, hi in ((3, -3), (1, 1)):  # a reversed or empty range is refused, not drawn backwards or flat
        with pytest.raises(InterfaceGANError, match="lo < hi"):
            linspace_steps(lo, hi, 7)


def test_edit_offset_batch_single_and_torch():
    codes = rng.standard_normal((4, 10)).astype(np.float32)
    n = unit(rng.standard_normal(10)).astype(np.float32)
    alphas = [-2.0, 0.0, 1.5]
    out = edit_offset(codes, n, alphas)
    assert out.shape == (4, 3, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 2], codes + 1.5 * n, atol=1e-6)
    np.testing.assert_array_equal(out[:, 1], codes)
    assert edit_offset(codes[0], n, alphas).shape == (3, 10)
    t = edit_offset(torch.from_numpy(codes), torch.from_numpy(n), alphas)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), out, atol=1e-6)
    # per-sample alphas
    per = edit_offset(codes, n, np.arange(8).reshape(4, 2))
    np.testing.assert_allclose(per[3, 1], codes[3] + 7 * n, atol=1e-5)
    with pytest.raises(InterfaceGANError, match="do not fit"):
        edit_offset(codes, np.ones(11), alphas)


def test_edit_offset_reshapes_flat_direction_for_wp_codes():
    wp = rng.standard_normal((2, 3, 4)).astype(np.float32)
    n = unit(rng.standard_normal(12)).astype(np.float32)
    out = edit_offset(wp, n, [1.0])
    np.testing.assert_allclose(out[:, 0], wp + n.reshape(3, 4), atol=1e-6)


@pytest.mark.parametrize("as_torch", [False, True])
def test_edit_to_distance_lands_exactly(as_torch):
    codes = rng.standard_normal((50, 16)) * 2
    w = rng.standard_normal(16) * 3.0  # not unit: normalised with the intercept
    b = 1.7
    targets = [-3.0, -0.5, 0.0, 2.0]
    if as_torch:
        out = edit_to_distance(torch.from_numpy(codes), torch.from_numpy(w), b, targets)
        assert isinstance(out, torch.Tensor)
        out = out.numpy()
    else:
        out = edit_to_distance(codes, w, b, targets)
    assert out.shape == (50, 4, 16)
    dist = (out.reshape(-1, 16) @ w + b) / np.linalg.norm(w)
    np.testing.assert_allclose(dist.reshape(50, 4), np.broadcast_to(targets, (50, 4)), atol=1e-9)
    # the move is along n: what is orthogonal to n does not change
    residual = out - (out.reshape(-1, 16) @ unit(w)).reshape(50, 4, 1) * unit(w)
    base = codes - (codes @ unit(w))[:, None] * unit(w)
    np.testing.assert_allclose(residual, np.broadcast_to(base[:, None], residual.shape), atol=1e-9)


def test_edit_to_distance_with_boundary_and_float32():
    codes = rng.standard_normal((20, 8)).astype(np.float32)
    boundary = Boundary(normal=rng.standard_normal(8), intercept=0.4)
    out = edit_to_distance(codes, boundary, None, [1.0, -2.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(boundary.distance(out.reshape(-1, 8)).reshape(20, 2), [[1.0, -2.0]] * 20, atol=1e-5)
    np.testing.assert_allclose(signed_distance(codes, boundary.normal, boundary.intercept), boundary.distance(codes),
                               atol=1e-5)  # fmt: skip


def test_conditional_direction_orthogonal_and_most_correlated():
    d = 32
    n = unit(rng.standard_normal(d))
    conds = rng.standard_normal((3, d))
    conds[1] += 2 * conds[0]  # correlated conditions are fine as long as they are independent
    c = conditional_direction(n, conds)
    assert abs(np.linalg.norm(c) - 1) < 1e-12
    np.testing.assert_allclose(conds @ c, 0, atol=1e-10)
    # the official code's projection: x solves (C C^T) x = C n, result n - C^T x
    x = np.linalg.solve(conds @ conds.T, conds @ n)
    official = unit(n - conds.T @ x)
    np.testing.assert_allclose(c, official, atol=1e-10)
    # maximal correlation: no other unit vector orthogonal to the conditions has a larger cosine with n
    q, _ = np.linalg.qr(conds.T)
    for _ in range(20):
        other = rng.standard_normal(d)
        other = unit(other - q @ (q.T @ other))
        assert other @ n <= c @ n + 1e-12
    assert c @ n == pytest.approx(np.linalg.norm(n - q @ (q.T @ n)))


def test_conditional_direction_edits_keep_condition_distances():
    d = 16
    n, m = unit(rng.standard_normal(d)), unit(rng.standard_normal(d))
    cond = Boundary(normal=m, intercept=0.3)
    along = conditional_direction(n, [cond])
    codes = rng.standard_normal((10, d))
    out = edit_to_distance(codes, n, 0.0, [2.5], along=along)[:, 0]
    np.testing.assert_allclose(out @ n, 2.5, atol=1e-9)
    np.testing.assert_allclose(cond.distance(out), cond.distance(codes), atol=1e-9)
    t = conditional_direction(torch.from_numpy(n.astype(np.float32)), [torch.from_numpy(m.astype(np.float32))])
    assert isinstance(t, torch.Tensor) and abs(float(t @ torch.from_numpy(m.astype(np.float32)))) < 1e-6


def test_conditional_direction_errors():
    n = unit(rng.standard_normal(8))
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    with pytest.raises(InterfaceGANError, match="span of the conditions"):
        conditional_direction(0.3 * a + 0.7 * b, [a, b])
    with pytest.raises(InterfaceGANError, match="condition 1 lies in the span"):
        conditional_direction(n, [a, 2 * a])
    with pytest.raises(InterfaceGANError, match="condition 0 is a zero"):
        conditional_direction(n, [np.zeros(8)])
    with pytest.raises(InterfaceGANError, match="has 7 values"):
        conditional_direction(n, [np.ones(7)])


@pytest.mark.parametrize("as_torch", [False, True])
def test_edit_layers_touches_only_selected_layers(as_torch):
    wp = rng.standard_normal((3, 6, 5)).astype(np.float32)
    n = unit(rng.standard_normal(5)).astype(np.float32)
    alphas = [-1.0, 2.0]
    if as_torch:
        out = edit_layers(torch.from_numpy(wp), torch.from_numpy(n), alphas, "0-1,4").numpy()
    else:
        out = edit_layers(wp, n, alphas, "0-1,4")
    assert out.shape == (3, 2, 6, 5)
    for layer in (2, 3, 5):
        assert np.array_equal(out[:, :, layer].view(np.uint32), np.broadcast_to(wp[:, None, layer], (3, 2, 5)).view(np.uint32))
    for layer in (0, 1, 4):
        np.testing.assert_allclose(out[:, 1, layer], wp[:, layer] + 2.0 * n, atol=1e-6)
    # a per-layer (L, w) direction uses its own row on each selected layer
    per_layer = rng.standard_normal((6, 5)).astype(np.float32)
    out2 = edit_layers(wp[0], per_layer, [1.0], [3])
    np.testing.assert_allclose(out2[0, 3], wp[0, 3] + per_layer[3], atol=1e-6)
    np.testing.assert_array_equal(out2[0, 2], wp[0, 2])
    with pytest.raises(InterfaceGANError, match="out of range"):
        edit_layers(wp, n, alphas, "7")
    with pytest.raises(InterfaceGANError, match="does not fit"):
        edit_layers(wp, np.ones(4), alphas, "all")


# ---- the W+ shape rule --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_torch", [False, True])
def test_a_w_direction_moves_every_layer_of_one_wp_code_alike(as_torch):
    """One W+ code (L, w) with a w direction and code_shape=(L, w) is one code: (S, L, w), each layer + a n."""
    wp = rng.standard_normal((4, 5)).astype(np.float32)
    n = unit(rng.standard_normal(5)).astype(np.float32)
    codes, direction = (torch.from_numpy(wp), torch.from_numpy(n)) if as_torch else (wp, n)
    out = edit_offset(codes, direction, [-1.0, 2.0], code_shape=(4, 5))
    out = out.numpy() if as_torch else out
    assert out.shape == (2, 4, 5)
    np.testing.assert_allclose(out[1], wp + 2.0 * n[None], atol=1e-6)
    # without code_shape the direction's shape rules: (4, 5) is a batch of four w codes
    assert edit_offset(wp, n, [-1.0, 2.0]).shape == (4, 2, 5)
    batch = edit_offset(np.stack([wp, wp]), n, [2.0], code_shape=(4, 5))
    assert batch.shape == (2, 1, 4, 5)
    with pytest.raises(InterfaceGANError, match="neither one code"):
        edit_offset(wp, n, [1.0], code_shape=(3, 5))


def test_editing_one_wp_code_to_a_distance_moves_every_layer_by_the_same_step():
    wp = rng.standard_normal((4, 6)) * 2
    n = rng.standard_normal(6) * 3.0  # not unit
    out = edit_to_distance(wp, n, 0.5, [-1.0, 0.0, 2.0], code_shape=(4, 6))
    assert out.shape == (3, 4, 6)
    moves = out - wp[None]  # (S, L, w): the same move on every layer, along n
    np.testing.assert_allclose(moves, np.broadcast_to(moves[:, :1], moves.shape), atol=1e-9)
    # the mean over the layers of n.w_l + b lands on each target
    dist = signed_distance(out, n, 0.5, code_shape=(4, 6))
    np.testing.assert_allclose(dist, [-1.0, 0.0, 2.0], atol=1e-9)
    per_layer = (wp @ n + 0.5) / np.linalg.norm(n)
    assert signed_distance(wp, n, 0.5, code_shape=(4, 6)) == pytest.approx(per_layer.mean())


# ---- EditPlan and the one fit check ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_toy():
    """A toy generator with 8-d codes (conftest's toy_generator has 16)."""
    from interfacegan.models import ToyGenerator

    return ToyGenerator(z_dim=8, num_attributes=3, seed=0)


def test_check_fits_names_the_model_space_and_dimension(small_toy):
    from interfacegan.editing.plan import check_fits

    check_fits(small_toy, Boundary(normal=np.ones(8), space="z", model="toy"))
    with pytest.raises(InterfaceGANError, match="belongs to model 'dcgan-digiface', not 'toy'"):
        check_fits(small_toy, Boundary(normal=np.ones(8), attribute="yaw", model="dcgan-digiface"))
    with pytest.raises(InterfaceGANError, match="has dimension 5 but 'z' codes of model 'toy' have shape \\(8,\\)"):
        check_fits(small_toy, Boundary(normal=np.ones(5), model="toy"))
    with pytest.raises(InterfaceGANError, match="space 'q', which model 'toy' does not have"):
        check_fits(small_toy, Boundary(normal=np.ones(8), space="q"))
    imported = Boundary(normal=np.ones(5), kind="imported")
    with pytest.raises(InterfaceGANError, match="pass its space"):
        check_fits(small_toy, imported)


def test_plan_edit_chooses_space_and_layers(small_toy):
    from interfacegan.editing.plan import plan_edit

    w = Boundary(small_toy.true_normal(0, "w"), space="w", model="toy", kind="sefa", settings={"layers": "0-1"})
    plan = plan_edit(small_toy, w)
    assert (plan.space, plan.layers, plan.layer_text, plan.code_shape) == ("wp", (0, 1), "0-1", (4, 8))
    assert plan_edit(small_toy, w, layers="2").layers == (2,)
    plain_w = Boundary(small_toy.true_normal(0, "w"), space="w", model="toy")
    assert (plan_edit(small_toy, plain_w).space, plan_edit(small_toy, plain_w).layers) == ("w", None)
    assert plan_edit(small_toy, plain_w, space="wp").layers == (0, 1, 2, 3)
    z = Boundary(small_toy.true_normal(0), space="z", model="toy")
    plan = plan_edit(small_toy, z)
    assert (plan.space, plan.layers, plan.cosine, plan.conditional) == ("z", None, 1.0, None)
    with pytest.raises(InterfaceGANError, match="lives in space 'z', not 'w'"):
        plan_edit(small_toy, z, space="w")
    with pytest.raises(InterfaceGANError, match="leave layers unset"):
        plan_edit(small_toy, z, layers="0")
    with pytest.raises(InterfaceGANError, match="out of range"):
        plan_edit(small_toy, w, layers="7")


def test_layers_on_a_model_with_only_z_are_refused():
    from interfacegan.editing.plan import plan_edit
    from interfacegan.models import ToyGenerator

    class ZOnly(ToyGenerator):
        spaces = ("z",)

    model = ZOnly(z_dim=8)
    b = Boundary(model.true_normal(0), space="z", model="toy")
    for layers in ("0-1", "all"):
        with pytest.raises(InterfaceGANError, match="no W\\+ layers \\(its spaces: z\\): leave layers unset"):
            plan_edit(model, b, layers=layers)


def test_conditional_plan_is_orthogonal_keeps_distances_and_saves_as_a_boundary(small_toy):
    from interfacegan.editing.plan import plan_edit

    primal = Boundary(small_toy.normals[0], attribute="a", model="toy")
    conds = [Boundary(small_toy.normals[k], attribute=n, intercept=0.3, model="toy") for k, n in ((1, "b"), (2, "c"))]
    plan = plan_edit(small_toy, primal, conds)
    for c in conds:
        assert abs(float(plan.vector @ c.normal)) < 1e-6
    assert plan.cosine == pytest.approx(float(plan.vector.astype(np.float64) @ primal.normal), abs=1e-6)
    assert 0 < plan.cosine < 1
    codes = small_toy.sample(5, seed=1)
    for mode, values in (("offset", [2.0]), ("distance", [1.5])):
        edited = plan.edit(codes, values, mode)[:, 0]
        for c in conds:
            np.testing.assert_allclose(c.distance(edited), c.distance(codes), atol=1e-5)
    np.testing.assert_allclose(primal.distance(plan.edit(codes, [1.5], "distance")[:, 0]), 1.5, atol=1e-5)
    saved = plan.conditional
    assert saved.kind == "conditional" and saved.attribute == "a|b,c"
    assert saved.metrics["cosine_with_primal"] == plan.cosine
    short = Boundary(small_toy.true_normal(1, "w"), space="w", attribute="short", model="toy")
    with pytest.raises(InterfaceGANError, match="use conditions of the same space"):
        plan_edit(small_toy, primal, [short])
    with pytest.raises(InterfaceGANError, match="condition 'x' belongs to model"):
        plan_edit(small_toy, primal, [Boundary(small_toy.normals[1], attribute="x", model="other")])


def test_plan_distance_of_a_w_boundary_is_the_mean_over_the_moved_layers(small_toy):
    from interfacegan.editing.plan import plan_edit

    b = Boundary(small_toy.true_normal(1, "w"), intercept=0.2, space="w", model="toy")
    plan = plan_edit(small_toy, b, layers="1-2")
    wp = small_toy.map(small_toy.sample(3, seed=2), "wp")
    wp[:, 0] += 5.0  # a layer that does not move does not count
    expected = (wp[:, 1:3] @ b.normal + 0.2).mean(axis=1)
    np.testing.assert_allclose(plan.distance(wp), expected, atol=1e-5)
    moved = plan.edit(wp, [1.0])[:, 0]
    np.testing.assert_allclose(plan.distance(moved) - plan.distance(wp), 1.0, atol=1e-5)
    with pytest.raises(InterfaceGANError, match="offset' with layers"):
        plan.edit(wp, [1.0], "distance")


def test_edit_request_refuses_an_empty_or_reversed_range(small_toy):
    from interfacegan.editing.run import EditRequest

    b = Boundary(small_toy.normals[0], model="toy")
    for lo, hi in ((3.0, -3.0), (1.0, 1.0)):
        with pytest.raises(InterfaceGANError, match="lo < hi"):
            EditRequest(b, lo=lo, hi=hi).plan(small_toy)
    with pytest.raises(InterfaceGANError, match="unknown edit mode"):
        EditRequest(b, mode="sideways").plan(small_toy)
    assert EditRequest(b, lo=-1, hi=1, steps=3).plan(small_toy).space == "z"


def test_edit_rows_are_the_first_rows_from_start_ending_with_the_run():
    """`edit_rows`: the API's default (EDIT_ROWS from row 0), fewer rows where the run ends, a bad start refused by
    its parameter's name before any model loads."""
    from types import SimpleNamespace

    from interfacegan.editing.run import EDIT_ROWS, edit_rows

    run = SimpleNamespace(num=10)
    np.testing.assert_array_equal(edit_rows(run), np.arange(EDIT_ROWS))
    np.testing.assert_array_equal(edit_rows(run, num=4, start=7), [7, 8, 9])
    with pytest.raises(InterfaceGANError, match=r"^start must be in \[0, 9\], got 10"):
        edit_rows(run, start=10)
    with pytest.raises(InterfaceGANError, match=r"^num must be in \[1, 1000\], got 0"):
        edit_rows(run, num=0)
