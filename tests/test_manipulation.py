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
    with pytest.raises(InterfaceGANError):
        linspace_steps(0, 1, 0)


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
