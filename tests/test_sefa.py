"""SeFa: top eigenvectors of A^T A of a known matrix, in order; boundaries from models."""

import numpy as np
import pytest
import torch

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.directions.sefa import factorize, sefa_boundaries


def known_matrix(out=300, d=12, seed=0):
    """A = U diag(s) V^T with known, unsorted, well separated singular values s."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((out, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.array([3.0, 9.0, 1.0, 7.0, 5.0, 0.5, 8.0, 2.0, 6.0, 4.0, 0.25, 1.5])[:d]
    return (u * s) @ v.T, s, v


def test_top_eigenvectors_of_known_matrix_in_order():
    a, s, v = known_matrix()
    directions, values = factorize(a.astype(np.float32), k=5)
    order = np.argsort(-s)[:5]
    np.testing.assert_allclose(values, s[order] ** 2, rtol=1e-4)
    assert directions.shape == (5, 12) and directions.dtype == np.float32
    cosines = np.abs(np.sum(directions * v[:, order].T, axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-6)
    # deterministic sign: the largest-magnitude entry of each direction is positive
    assert all(d[np.argmax(np.abs(d))] > 0 for d in directions)


def test_float64_and_torch_inputs():
    a, s, v = known_matrix(seed=1)
    d64, v64 = factorize(a, k=3)
    np.testing.assert_allclose(v64, np.sort(s)[::-1][:3] ** 2, rtol=1e-10)
    dt, vt = factorize(torch.from_numpy(a).float(), k=3)
    assert isinstance(dt, torch.Tensor) and dt.dtype == torch.float32
    np.testing.assert_allclose(dt.numpy(), d64, atol=1e-5)
    np.testing.assert_allclose(vt.numpy(), v64, rtol=1e-5)
    full, values = factorize(a)
    assert full.shape == (12, 12) and np.all(np.diff(values) <= 0)


def test_normalize_columns_is_official_variant():
    # The official code normalises the columns of its (d, out) weight = the rows of our (out, d) A.
    a, _, _ = known_matrix(seed=2)
    official_weight = a.T / np.linalg.norm(a.T, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(official_weight @ official_weight.T)
    expected = vectors[:, ::-1][:, :4].T
    directions, ours = factorize(a, k=4, normalize_columns=True)
    np.testing.assert_allclose(ours, values[::-1][:4], rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(directions * expected, axis=1)), 1.0, atol=1e-5)


def test_errors():
    with pytest.raises(InterfaceGANError, match="k must be"):
        factorize(np.ones((5, 3)), k=4)
    with pytest.raises(InterfaceGANError, match="2-D"):
        factorize(np.ones(5))
    with pytest.raises(InterfaceGANError, match="all-zero output unit"):
        factorize(np.r_[np.ones((2, 3)), np.zeros((1, 3))], normalize_columns=True)


def test_sefa_boundaries_on_toy_model(tmp_path):
    model = ToyGenerator(z_dim=8, seed=3)
    boundaries = sefa_boundaries(model, k=3)
    weight = model.first_affine().numpy()
    directions, values = factorize(weight, k=3)
    assert [b.attribute for b in boundaries] == ["sefa_0", "sefa_1", "sefa_2"]
    for b, d, value in zip(boundaries, directions, values):
        assert b.kind == "sefa" and b.space == "z" and b.model == "toy"
        assert b.metrics["eigenvalue"] == pytest.approx(value)
        np.testing.assert_allclose(b.normal, d, atol=1e-7)
        loaded = Boundary.load(b.save(tmp_path / f"{b.attribute}.npz"))  # same file format as boundaries
        assert loaded.kind == "sefa" and loaded.metrics["eigenvalue"] == pytest.approx(value)


def test_dcgan_affine_shape_and_directions():
    import importlib.util

    if importlib.util.find_spec("gan_face_generate") is None:  # located, never imported
        pytest.skip("embedded GAN weights not installed")
    from interfacegan.models import load_model

    model = load_model("dcgan-digiface", device="cpu")
    weight = model.first_affine()
    assert tuple(weight.shape) == (512 * 4 * 4, 100)
    boundaries = sefa_boundaries(model, k=4)
    assert all(b.space == "z" and b.dim == 100 for b in boundaries)
    eig = [b.metrics["eigenvalue"] for b in boundaries]
    assert eig == sorted(eig, reverse=True)
    # each direction moves the first layer's output more than any direction orthogonal to the top ones
    a = weight.double().numpy()
    top = np.linalg.norm(a @ boundaries[0].normal.astype(np.float64))
    rng = np.random.default_rng(0)
    other = rng.standard_normal((20, 100))
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    assert (np.linalg.norm(other @ a.T, axis=1) < top).all()


def test_style_model_layers_are_kept_for_layerwise_edits():
    from interfacegan.models.checkpoints import build_random
    from interfacegan.editing.codes import SampledCodes
    from interfacegan.editing.plan import plan_edit

    model = build_random("stylegan2", resolution=32, w_dim=16, channel_base=512, channel_max=32, device="cpu")
    boundaries = sefa_boundaries(model, k=2, layers="0-3")
    b = boundaries[0]
    assert b.space == "w" and b.dim == 16 and b.settings["layers"] == "0-3"
    expected, _ = factorize(model.first_affine("0-3"), k=2)
    np.testing.assert_allclose(b.normal, expected[0], atol=1e-6)
    plan = plan_edit(model, b)
    codes = SampledCodes(model, plan.space, 2).read(0, 2)
    assert (plan.space, plan.layer_text, codes.shape) == ("wp", "0-3", (2, model.num_ws, 16))
    edited = plan.edit(codes, [2.0])[:, 0]
    np.testing.assert_array_equal(edited[:, 4:], codes[:, 4:])
    np.testing.assert_allclose(edited[:, :4], codes[:, :4] + 2.0 * b.normal, atol=1e-6)
