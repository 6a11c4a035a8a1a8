"""GANSpace against known principal axes (the toy model), its file formats, the first-layer hooks and the command.

Tolerances come from N: for PCA of N Gaussian samples with covariance eigenvalues lambda, the squared angle of
eigenvector i has mean E_i = sum_{j != i} lambda_i lambda_j / (lambda_i - lambda_j)^2 / N (first-order
perturbation), and the sample eigenvalue's relative error has standard deviation sqrt(2 / N). The regression back
to z adds about (d - k) / N to the squared angle. The tests allow 1 - |cos| <= 4 (E_i + (d - k) / N), i.e. 8 times
the expected 1 - cos ~ angle^2 / 2 (observed ratios over seeds 0-2: at most 3.4), and relative eigenvalue errors
up to 5 sqrt(2 / N) (observed: at most 3.2 standard deviations).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from typer.testing import CliRunner

from interfacegan.cli import app
from interfacegan.directions import Boundary, read_directions
from interfacegan.directions.ganspace import GANSpace, ganspace_boundaries
from interfacegan.directions.sefa import factorize
from interfacegan.editing.plan import plan_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.models.biggan import BigGANConfig, BigGANGenerator, BigGANNet
from interfacegan.models.checkpoints import build_random
from interfacegan.models.genforce_random import build_random_pggan
from interfacegan.models.pggan import pixel_norm
from tests.helpers import cli_error


def expected_squared_angles(eigenvalues: np.ndarray, num: int) -> np.ndarray:
    """E[angle_i^2] of PCA eigenvectors from `num` Gaussian samples (module docstring)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    gaps = (lam[:, None] - lam[None, :]) ** 2
    np.fill_diagonal(gaps, np.inf)
    return (lam[:, None] * lam[None, :] / gaps).sum(axis=1) / num


def check_axes(directions, variances, axes, eigenvalues, num, extra=0.0):
    """Directions match the known axes in order (|cos| within the module's tolerance), variances the eigenvalues."""
    k = len(directions)
    cos = np.abs(np.sum(np.asarray(directions, np.float64) * axes[:k], axis=1))
    allowed = 4 * (expected_squared_angles(eigenvalues, num)[:k] + extra)
    assert np.all(1 - cos <= allowed), (1 - cos, allowed)
    relative = np.abs(np.asarray(variances) - eigenvalues[:k]) / eigenvalues[:k]
    assert np.all(relative <= 5 * np.sqrt(2 / num)), relative


def test_w_directions_are_the_known_principal_axes_of_w(toy_generator):
    """Toy W: w = B z with B = Q diag(s), so cov(w) = B B^T has eigenvectors B's columns and eigenvalues s^2."""
    mapping = toy_generator.mapping.astype(np.float64)
    eigenvalues = (mapping**2).sum(axis=0)
    order = np.argsort(eigenvalues)[::-1]
    axes, eigenvalues = (mapping / np.sqrt((mapping**2).sum(axis=0))).T[order], eigenvalues[order]
    num = 40_000
    fitted = GANSpace(k=16, num=num, space="w").fit(toy_generator)
    check_axes(fitted.directions_, fitted.explained_variance_, axes, eigenvalues, num)
    assert fitted.explained_variance_ratio_.sum() == pytest.approx(1.0, abs=1e-4)  # all 16 axes: all the variance


def test_z_directions_are_the_right_singular_vectors_of_a_linear_first_layer(toy_generator):
    """Toy Z: activations R z (R = the read-out); PCA + regression to z gives R's top right singular vectors, whose
    variances are the eigenvalues of R^T R: unnormalised SeFa of the same layer."""
    readout = toy_generator.first_affine().numpy().astype(np.float64)
    eigenvalues, vectors = np.linalg.eigh(readout.T @ readout)
    eigenvalues, axes = eigenvalues[::-1], vectors[:, ::-1].T
    num, k = 20_000, 6
    fitted = GANSpace(k=k, num=num, space="z", regression_num=num).fit(toy_generator)
    check_axes(fitted.directions_, fitted.explained_variance_, axes, eigenvalues, num, extra=(16 - k) / num)
    sefa, sefa_values = factorize(readout, k, normalize_columns=False)  # the same axes, the same eigenvalues
    np.testing.assert_allclose(np.abs(np.sum(sefa * axes[:k], axis=1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(sefa_values, eigenvalues[:k], rtol=1e-5)
    # signs: moving along +direction raises its PCA coordinate
    z = toy_generator.sample(500, seed=9)
    coords = (z @ readout.T) @ fitted.components_.T
    moved = ((z + fitted.directions_[0]) @ readout.T) @ fitted.components_.T
    assert np.all(moved[:, 0] > coords[:, 0])


def test_one_block_is_scikit_learns_full_pca(toy_generator):
    codes = toy_generator.map(toy_generator.sample(3000, seed=4), "w")
    reference = PCA(n_components=5).fit(codes)
    fitted = GANSpace(k=5, num=3000, space="w", seed=4, block_size=3000).fit(toy_generator)
    np.testing.assert_allclose(np.abs(np.sum(fitted.directions_ * reference.components_, axis=1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(fitted.explained_variance_, reference.explained_variance_, rtol=1e-4)
    assert fitted.n_samples_seen_ == 3000
    # streamed in blocks of 100 it stays on the full PCA's axes; GANSpace's own estimator (IncrementalPCA truncated
    # at k, n_oversamples=0) drifts on this flat spectrum (|cos| 0.90-0.98): why 2k more components are kept
    streamed = GANSpace(k=5, num=3000, space="w", seed=4, block_size=100).fit(toy_generator)
    plain = GANSpace(k=5, num=3000, space="w", seed=4, block_size=100, n_oversamples=0).fit(toy_generator)
    cos_streamed, cos_plain = (np.abs(np.sum(o.directions_ * fitted.directions_, axis=1)) for o in (streamed, plain))
    assert cos_streamed.min() > 0.999 and cos_plain.min() < cos_streamed.min()


def test_boundaries_edit_ready_with_layers(toy_generator, tmp_path):
    boundaries = ganspace_boundaries(toy_generator, k=3, num=2000, layers="0-1", seed=5)
    assert [b.attribute for b in boundaries] == ["ganspace_0", "ganspace_1", "ganspace_2"]
    first = boundaries[0]
    assert first.kind == "ganspace" and first.space == "w" and first.model == "toy" and first.code_shape == (16,)
    expected = {"method": "ganspace", "num": 2000, "seed": 5, "layers": "0-1", "k": 3}
    assert {key: first.settings[key] for key in expected} == expected
    variances = [b.metrics["explained_variance"] for b in boundaries]
    assert first.metrics["rank"] == 0 and variances == sorted(variances, reverse=True)
    for b in boundaries:
        b.save(tmp_path / f"{b.attribute}.npz")
    again = read_directions([tmp_path])
    assert [b.attribute for b in again] == [b.attribute for b in boundaries]
    np.testing.assert_array_equal(again[2].normal, boundaries[2].normal)
    plan = plan_edit(toy_generator, again[0])  # edits default to the chosen W+ layers, as SeFa's
    assert plan.space == "wp" and plan.layers == (0, 1)
    z_boundaries = ganspace_boundaries(toy_generator, k=2, num=500, space="z", regression_num=500)
    assert z_boundaries[0].space == "z" and z_boundaries[0].settings["regression_num"] == 500
    assert plan_edit(toy_generator, z_boundaries[0]).space == "z"


def test_official_layout_round_trip(tmp_path):
    """`save_official` writes GANSpace's keys and shapes (lat_comp (k, 1, d), ...); the reader gets the same
    directions back, in W for a style model."""
    model = build_random("stylegan2", resolution=8, w_dim=16, device="cpu")
    fitted = GANSpace(k=4, num=1000, space="w").fit(model)
    path = fitted.save_official(tmp_path / "ganspace.npz")
    with np.load(path) as data:
        shapes = {key: data[key].shape for key in data.files}
        assert all(data[key].dtype == np.float32 for key in data.files)
        np.testing.assert_allclose(data["lat_stdev"], np.sqrt(fitted.explained_variance_), rtol=1e-6)
    assert shapes == {"act_comp": (4, 1, 16), "act_mean": (1, 16), "act_stdev": (4,), "lat_comp": (4, 1, 16),
                      "lat_mean": (1, 16), "lat_stdev": (4,), "var_ratio": (4,), "random_stdevs": (4,)}  # fmt: skip
    read = read_directions([path], model=model)
    assert [b.space for b in read] == ["w"] * 4 and [b.kind for b in read] == ["imported"] * 4
    np.testing.assert_allclose([b.normal for b in read], fitted.directions_, atol=1e-6)
    z_fit = GANSpace(k=2, num=300, space="z", regression_num=300).fit(model)
    with np.load(z_fit.save_official(tmp_path / "z.npz")) as data:
        np.testing.assert_array_equal(data["lat_stdev"], [1.0, 1.0])  # GANSpace's value in Z
        assert data["lat_comp"].shape == (2, 1, 16)


def test_first_layer_hooks_are_each_models_first_layer(embedded_gan):
    """Each hook's output, recomputed from the weights SeFa reads (`first_affine`): the known answers."""
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 100)).astype(np.float32))
    dcgan = embedded_gan.first_layer_activations(z)
    bn = embedded_gan.net.main[1]
    pre = (z @ embedded_gan.first_affine().T).reshape(5, -1, 4, 4)
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps))[:, None, None]
    expected = torch.relu((pre - bn.running_mean[:, None, None]) * scale + bn.bias[:, None, None])
    assert dcgan.shape == (5, 512, 4, 4)
    torch.testing.assert_close(dcgan, expected, atol=1e-4, rtol=1e-4)

    pggan, _ = build_random_pggan(resolution=8, z_dim=12, fmaps_base=64, fmaps_max=8, device="cpu")
    z = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    pre = (pixel_norm(z) @ pggan.first_affine().T).reshape(5, -1, 4, 4)  # rows (channel, y, x)
    expected = torch.nn.functional.leaky_relu(pre + pggan.net.layer0.bias[:, None, None], 0.2)
    torch.testing.assert_close(pggan.first_layer_activations(z), expected, atol=1e-5, rtol=1e-5)

    cfg = BigGANConfig(z_dim=8, num_classes=4, channel_width=4, layers=((False, 16, 16), (True, 16, 8)),
                       attention_layer_position=1)  # fmt: skip
    torch.manual_seed(2)
    biggan = BigGANGenerator(cfg, BigGANNet(cfg, 8), class_idx=1, device="cpu")
    z1, z2 = (torch.from_numpy(biggan.sample(3, seed=s)) for s in (0, 1))
    difference = biggan.first_layer_activations(z1) - biggan.first_layer_activations(z2)
    torch.testing.assert_close(difference, (z1 - z2) @ biggan.first_affine(layers=0).T, atol=1e-5, rtol=1e-5)

    style = build_random("stylegan2", resolution=8, w_dim=16, device="cpu")
    z = torch.from_numpy(style.sample(3))
    np.testing.assert_allclose(style.first_layer_activations(z).numpy(), style.map(z.numpy(), "w"), atol=1e-6)


def test_ganspace_on_the_embedded_gan_in_z(embedded_gan):
    fitted = GANSpace(k=3, num=600, space="z", regression_num=600).fit(embedded_gan)
    assert fitted.feature_shape_ == (512, 4, 4) and fitted.directions_.shape == (3, 100)
    assert fitted.block_size_ == 256 and fitted.n_components_kept_ == 9  # 8 MiB of 8,192 float32 features
    assert np.all(np.diff(fitted.explained_variance_) <= 0)
    np.testing.assert_allclose(np.linalg.norm(fitted.directions_, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"space": "wp"}, "space must be 'w' or 'z'"),
        ({"k": 17}, "k must be between 1 and 16"),
        ({"num": 2, "k": 3}, "num must be at least k = 3"),
        ({"n_oversamples": -1}, "n_oversamples must be >= 0"),
        ({"k": 4, "block_size": 5, "num": 100}, "block_size must be at least 12"),
        ({"block_size": 0}, "block_size must be positive, got 0"),  # not taken for "the default"
        ({"regression_num": 0, "space": "z"}, "regression_num must be positive, got 0"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"k": 2.5}, "k must be a whole number"),
    ],
)
def test_bad_settings_are_one_line_errors(toy_generator, options, message):
    with pytest.raises(InterfaceGANError, match=message):
        GANSpace(**options).fit(toy_generator)


def test_layers_only_for_w_of_style_models(toy_generator, embedded_gan):
    with pytest.raises(InterfaceGANError, match="has no W\\+ layers .*leave layers unset"):
        ganspace_boundaries(embedded_gan, layers="0")
    with pytest.raises(InterfaceGANError, match="use space 'w', or drop layers"):
        ganspace_boundaries(toy_generator, space="z", layers="0")
    with pytest.raises(InterfaceGANError, match="out of range"):
        ganspace_boundaries(toy_generator, layers="0-9")
    with pytest.raises(InterfaceGANError, match="not fitted"):
        GANSpace().boundaries(toy_generator)


def test_command_writes_directions_grids_and_the_official_file(tmp_path, monkeypatch, capsys):
    out, official = tmp_path / "dirs", tmp_path / "ganspace.npz"
    result = CliRunner().invoke(app, ["ganspace", "--model", "toy", "--num", "1500", "-k", "3", "--layers", "2-3",
                                      "--out", str(out), "--official", str(official), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"ganspace_{i}.{ext}" for i in range(3) for ext in ("npz", "png")]
    b = Boundary.load(out / "ganspace_1.npz")
    assert b.kind == "ganspace" and b.settings["layers"] == "2-3" and b.settings["num"] == 1500
    with np.load(official) as data:
        np.testing.assert_allclose(data["lat_comp"][1, 0], b.normal, atol=1e-6)
    json.dumps(b.metadata())  # everything in it is plain JSON
    error = cli_error(monkeypatch, capsys, "ganspace", "--model", "toy", "--out", tmp_path / "x",
                      "--official", tmp_path / "x" / "g.npz")  # fmt: skip
    assert "lies in --out" in error and not (tmp_path / "x").exists()
    error = cli_error(monkeypatch, capsys, "ganspace", "--model", "dcgan-digiface", "--layers", "0", "--out",
                      tmp_path / "y")  # fmt: skip
    assert "leave --layers unset" in error and not (tmp_path / "y").exists()
