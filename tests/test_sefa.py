"""SeFa: top eigenvectors of A^T A of a known matrix, in order; the official defaults on every family; refusals."""

import types

import numpy as np
import pytest
import torch

from interfacegan.directions.boundary import Boundary
from interfacegan.directions.sefa import check_layers, factorize, sefa_boundaries
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.models.checkpoints import build_random
from tests.helpers import cli_error


def known_matrix(out=300, d=12, seed=0):
    """A = U diag(s) V^T with known, unsorted, well separated singular values s."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((out, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.array([3.0, 9.0, 1.0, 7.0, 5.0, 0.5, 8.0, 2.0, 6.0, 4.0, 0.25, 1.5])[:d]
    return (u * s) @ v.T, s, v


def official_sefa(weights_d_by_out: list) -> tuple[np.ndarray, np.ndarray]:
    """The official `factorize_weight` recomputed: concatenate (d, out) weights, unit columns, eig(W W^T);
    sorted here by eigenvalue (the official code keeps np.linalg.eig's order)."""
    w = np.concatenate([np.asarray(x, dtype=np.float64) for x in weights_d_by_out], axis=1)
    w = w / np.linalg.norm(w, axis=0, keepdims=True)
    values, vectors = np.linalg.eig(w @ w.T)
    order = np.argsort(-values.real)
    return vectors.real[:, order].T, values.real[order]


def assert_same_directions(boundaries, official, k):
    vectors, values = official
    ours = np.stack([b.normal for b in boundaries]).astype(np.float64)
    np.testing.assert_allclose([b.metrics["eigenvalue"] for b in boundaries], values[:k], rtol=1e-4)
    np.testing.assert_allclose(np.abs(np.sum(ours * vectors[:k], axis=1)), 1.0, atol=1e-5)


def test_top_eigenvectors_of_known_matrix_in_order():
    a, s, v = known_matrix()
    directions, values = factorize(a.astype(np.float32), k=5, normalize_columns=False)
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
    d64, v64 = factorize(a, k=3, normalize_columns=False)
    np.testing.assert_allclose(v64, np.sort(s)[::-1][:3] ** 2, rtol=1e-10)
    dt, vt = factorize(torch.from_numpy(a).float(), k=3, normalize_columns=False)
    assert isinstance(dt, torch.Tensor) and dt.dtype == torch.float32
    np.testing.assert_allclose(dt.numpy(), d64, atol=1e-5)
    np.testing.assert_allclose(vt.numpy(), v64, rtol=1e-5)
    full, values = factorize(a)
    assert full.shape == (12, 12) and np.all(np.diff(values) <= 0)


def test_default_normalises_columns_as_the_official_code():
    # The official code normalises the columns of its (d, out) weight = the rows of our (out, d) A.
    a, _, _ = known_matrix(seed=2)
    directions, values = factorize(a, k=4)
    vectors, expected = official_sefa([a.T])
    np.testing.assert_allclose(values, expected[:4], rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(directions * vectors[:4], axis=1)), 1.0, atol=1e-5)
    plain, _ = factorize(a, k=4, normalize_columns=False)  # the paper's form is another answer
    assert np.abs(np.sum(plain * directions, axis=1)).min() < 0.99


def test_errors_and_orientation():
    with pytest.raises(InterfaceGANError, match="k must be"):
        factorize(np.ones((5, 3)), k=4)
    with pytest.raises(InterfaceGANError, match="2-D"):
        factorize(np.ones(5))
    with pytest.raises(InterfaceGANError, match="all-zero output unit"):
        factorize(np.r_[np.ones((2, 3)), np.zeros((1, 3))])
    a, _, _ = known_matrix()
    # the official (d, out) layout: refused, never zero eigenvalues
    with pytest.raises(InterfaceGANError, match=r"shape \(12, 300\) does not act on latent codes of size 12 .*transpose"):
        factorize(a.T, latent_dim=12)
    with pytest.raises(InterfaceGANError, match="looks transposed"):
        factorize(a.T)
    with pytest.raises(InterfaceGANError, match="size 7"):
        factorize(a, latent_dim=7)
    assert factorize(a.T, latent_dim=300, k=2)[0].shape == (2, 300)  # explicitly (out=12, d=300)


def test_sefa_boundaries_on_toy_model(tmp_path):
    model = ToyGenerator(z_dim=8, seed=3)
    boundaries = sefa_boundaries(model, k=3)
    assert [b.attribute for b in boundaries] == ["sefa_0", "sefa_1", "sefa_2"]
    assert_same_directions(boundaries, official_sefa([model.readout.T]), 3)
    for b in boundaries:
        assert b.kind == "sefa" and b.space == "z" and b.model == "toy" and b.settings["normalize_columns"]
        loaded = Boundary.load(b.save(tmp_path / f"{b.attribute}.npz"))  # same file format as boundaries
        assert loaded.kind == "sefa" and loaded.metrics["eigenvalue"] == pytest.approx(b.metrics["eigenvalue"])
    plain = sefa_boundaries(model, k=3, normalize_columns=False)
    expected, _ = factorize(model.first_affine(), k=3, normalize_columns=False)
    np.testing.assert_allclose(np.stack([b.normal for b in plain]), expected, atol=1e-7)


def test_official_defaults_on_tiny_dcgan_and_pggan():
    from interfacegan.models.dcgan import DCGANGenerator, DCGANNet
    from interfacegan.models.genforce_random import build_random_pggan

    torch.manual_seed(0)
    state = DCGANNet(z_dim=8, width=2).state_dict()
    dcgan = DCGANGenerator(state, device="cpu")
    weight = state["main.0.weight"].numpy()  # ConvTranspose2d (z, out, 4, 4): each (out, y, x) is a column
    assert_same_directions(sefa_boundaries(dcgan, k=3), official_sefa([weight.reshape(8, -1)]), 3)

    pggan, state = build_random_pggan(resolution=8, z_dim=8, fmaps_base=64, fmaps_max=8, device="cpu")
    official = state["layer0.weight"].flip(2, 3).permute(1, 0, 2, 3).flatten(1).numpy()  # official reshape
    assert_same_directions(sefa_boundaries(pggan, k=3), official_sefa([official]), 3)


def test_official_defaults_on_tiny_style_models():
    from interfacegan.models.genforce_random import build_random_stylegan

    stylegan, state = build_random_stylegan(resolution=8, z_dim=8, w_dim=8, mapping_layers=2, fmaps_base=64,
                                            fmaps_max=8, device="cpu")  # fmt: skip
    styles = [state[f"synthesis.layer{i}.style.weight"].T.numpy() for i in range(stylegan.num_ws)]
    assert_same_directions(sefa_boundaries(stylegan, k=3), official_sefa(styles), 3)
    assert_same_directions(sefa_boundaries(stylegan, k=2, layers="1-2"), official_sefa(styles[1:3]), 2)

    sg2 = build_random("stylegan2", resolution=16, w_dim=8, channel_base=64, channel_max=8, device="cpu")
    sd = sg2.net.state_dict()
    # genforce layer i = NVIDIA conv affine i; the official last layer (num_layers - 1) is the final ToRGB
    convs = [sd[k].T.numpy() for k in sd if k.endswith("affine.weight") and ".conv" in k]
    last_rgb = sd["synthesis.b16.torgb.affine.weight"].T.numpy()
    boundaries = sefa_boundaries(sg2, k=3)
    assert boundaries[0].settings["include_torgb"] == "last"
    assert_same_directions(boundaries, official_sefa([*convs, last_rgb]), 3)
    assert_same_directions(sefa_boundaries(sg2, k=3, layers="0-2"), official_sefa(convs[:3]), 3)
    no_rgb = sefa_boundaries(sg2, k=3, include_torgb="none")  # the explicit option still works
    assert_same_directions(no_rgb, official_sefa(convs), 3)


def test_official_defaults_on_a_file_made_by_the_official_sefa_code():
    from pathlib import Path

    from interfacegan.models import load_model

    fixture = Path(__file__).parent / "fixtures" / "genforce_stylegan2_16.pth"  # genforce StyleGAN2, SeFa's layout
    model = load_model(f"genforce:{fixture}", device="cpu")
    sd = torch.load(fixture, map_location="cpu", weights_only=True)["generator_smooth"]
    last = model.num_ws - 1  # factorize_weight: layer{i}.style for i < num_layers - 1, output{i // 2} for the last
    names = [f"layer{i}" if i < last else f"output{i // 2}" for i in range(model.num_ws)]
    weights = [sd[f"synthesis.{n}.style.weight"].T.numpy() for n in names]
    assert_same_directions(sefa_boundaries(model, k=4), official_sefa(weights), 4)
    assert_same_directions(sefa_boundaries(model, k=2, layers="1-2"), official_sefa(weights[1:3]), 2)


def test_official_rule_on_tiny_stylegan3():
    sg3 = build_random("stylegan3", resolution=16, w_dim=8, channel_base=256, channel_max=8, num_layers=4,
                       device="cpu")  # fmt: skip
    sd = sg3.net.state_dict()
    layers = [sd[k].T.numpy() for k in sd if k.endswith("affine.weight") and not k.startswith("synthesis.input")]
    assert_same_directions(sefa_boundaries(sg3, k=3), official_sefa(layers), 3)  # its one ToRGB is the last


def test_layers_on_a_z_only_model_are_refused(monkeypatch, capsys, tmp_path):
    for model in (ToyGenerator(z_dim=8), build_random("pggan", resolution=8, z_dim=8, fmaps_base=64, fmaps_max=8)):
        with pytest.raises(InterfaceGANError, match="model .* has no layers to choose from .*: leave layers unset"):
            sefa_boundaries(model, k=2, layers="0")
    big = types.SimpleNamespace(name="biggan-deep", affine_space="z", num_affine_layers=3)  # z-only, with layers
    check_layers(big, "0-1")
    err = cli_error(monkeypatch, capsys, "sefa", "--model", "toy", "--layers", "all", "--out", tmp_path / "sefa")
    assert "leave --layers unset (got 'all')" in err and not (tmp_path / "sefa").exists()


def test_a_torgb_choice_on_a_model_without_torgb_is_refused(monkeypatch, capsys, tmp_path):
    """Regression: `sefa --include-torgb all` on the embedded DCGAN (or PGGAN, the toy model) was ignored: the
    directions were the default ones under another name. The option applies to StyleGAN2/3 only."""
    for model in (ToyGenerator(z_dim=8), build_random("pggan", resolution=8, z_dim=8, fmaps_base=64, fmaps_max=8)):
        with pytest.raises(InterfaceGANError, match="include_torgb does not apply to model .*: leave include_torgb "
                                                    "unset \\(got 'all'\\)"):  # fmt: skip
            sefa_boundaries(model, k=2, include_torgb="all")
        assert len(sefa_boundaries(model, k=2)) == 2  # the official defaults pass no option to these families
    err = cli_error(monkeypatch, capsys, "sefa", "--model", "toy", "--include-torgb", "none", "--out", tmp_path / "s")
    assert "--include-torgb does not apply to model 'toy'" in err and not (tmp_path / "s").exists()


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
    # each direction moves the (unit-row) first layer's output more than any direction orthogonal to the top ones
    a = weight.double().numpy()
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    top = np.linalg.norm(a @ boundaries[0].normal.astype(np.float64))
    rng = np.random.default_rng(0)
    other = rng.standard_normal((20, 100))
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    assert (np.linalg.norm(other @ a.T, axis=1) < top).all()


def test_style_model_layers_are_kept_for_layerwise_edits():
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
