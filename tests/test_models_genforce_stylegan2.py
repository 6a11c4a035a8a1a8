"""genforce / SeFa StyleGAN2 `.pth` files: auto-detection, images, truncation, and the affines SeFa factorizes.

Tiny random checkpoints are written here directly in genforce's key layout and shapes (SeFa's
`models/stylegan2_generator.py`), saved as SeFa's model zoo saves them ({'generator', 'generator_smooth',
'discriminator'}), loaded back, and compared with a forward pass written here from the genforce state dict:
per-sample modulated weights, the transposed convolution on spatially flipped weights followed by the [1,3,3,1]
low-pass, skip ToRGBs summed over upsampled images. `fixtures/genforce_stylegan2_16.pth` and its reference images
were made once by SeFa's own genforce code (`models/stylegan2_generator.py` of genforce/sefa, run outside this
repository with a random 16 px config F generator): the loader must reproduce them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interfacegan.directions.sefa import factorize
from interfacegan.errors import InterfaceGANError
from interfacegan.models import load_model
from interfacegan.models.base import Truncation

Z_DIM = W_DIM = 16
CHANNELS = {4: 16, 8: 16, 16: 8}
KERNEL = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64 * 4


def genforce_state(architecture="skip", seed=0, mapping_layers=2) -> dict[str, torch.Tensor]:
    """A random genforce StyleGAN2 generator state dict (16 px) with every tensor genforce's module registers."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    sd = {}
    for i in range(mapping_layers):
        sd[f"mapping.dense{i}.weight"] = rnd(W_DIM, Z_DIM if i == 0 else W_DIM, scale=100.0)  # stored / lr_mul
        sd[f"mapping.dense{i}.bias"] = rnd(W_DIM, scale=10.0)
    sd["truncation.w_avg"] = rnd(W_DIM)
    sd["synthesis.early_layer.const"] = rnd(1, CHANNELS[4], 4, 4)
    resolutions = sorted(CHANNELS)

    def conv(name, cin, cout, res, k=3, noise=True):
        sd[f"synthesis.{name}.weight"] = rnd(cout, cin, k, k)
        sd[f"synthesis.{name}.bias"] = rnd(cout, scale=0.2)
        sd[f"synthesis.{name}.style.weight"] = rnd(cin, W_DIM)
        sd[f"synthesis.{name}.style.bias"] = rnd(cin, scale=0.2)
        if noise:
            sd[f"synthesis.{name}.noise"] = rnd(1, 1, res, res)
            sd[f"synthesis.{name}.noise_strength"] = rnd((), scale=0.2)

    for b, res in enumerate(resolutions):
        if b:
            conv(f"layer{2 * b - 1}", CHANNELS[res // 2], CHANNELS[res], res)
            sd[f"synthesis.layer{2 * b - 1}.filter.kernel"] = KERNEL.flip(0, 1)[None, None].clone()
        conv(f"layer{2 * b}", CHANNELS[res], CHANNELS[res], res)
        if architecture == "skip" or b == len(resolutions) - 1:
            conv(f"output{b}", CHANNELS[res], 3, res, k=1, noise=False)
    if architecture == "skip":
        sd["synthesis.upsample.kernel"] = KERNEL.flip(0, 1)[None, None].clone()
    return sd


# ---- an independent forward of the genforce architecture ------------------------------------------------------
def ref_mapping(sd, z, lr=0.01):
    x = z / torch.sqrt((z * z).mean(dim=1, keepdim=True) + 1e-8)
    i = 0
    while f"mapping.dense{i}.weight" in sd:
        w, b = sd[f"mapping.dense{i}.weight"], sd[f"mapping.dense{i}.bias"]
        x = F.leaky_relu(F.linear(x, w * lr / math.sqrt(w.shape[1]), b * lr), 0.2) * math.sqrt(2.0)
        i += 1
    return x


def blur(x, pad):
    c = x.shape[1]
    return F.conv2d(F.pad(x, pad), KERNEL[None, None].repeat(c, 1, 1, 1), groups=c)


def ref_layer(sd, name, x, w, up=False, torgb=False):
    p = f"synthesis.{name}."
    weight = sd[p + "weight"] / math.sqrt(sd[p + "weight"][0].numel())
    style = F.linear(w, sd[p + "style.weight"] / math.sqrt(w.shape[1]), sd[p + "style.bias"]) + 1.0
    per_sample = weight[None] * style[:, None, :, None, None]  # (N, out, in, k, k)
    if not torgb:
        per_sample = per_sample / torch.sqrt(per_sample.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8)
    out = []
    for n in range(len(x)):
        if up:  # genforce: flip the kernel, transposed conv with stride 2, then the 4x4 low-pass (pad 1)
            y = F.conv_transpose2d(x[n : n + 1], per_sample[n].flip(2, 3).transpose(0, 1), stride=2)
            out.append(blur(y, (1, 1, 1, 1)))
        else:
            out.append(F.conv2d(x[n : n + 1], per_sample[n], padding=weight.shape[-1] // 2))
    y = torch.cat(out)
    if torgb:
        return y + sd[p + "bias"][None, :, None, None]
    y = y + sd[p + "noise"] * sd[p + "noise_strength"]
    return F.leaky_relu(y + sd[p + "bias"][None, :, None, None], 0.2) * math.sqrt(2.0)


def ref_synthesis(sd, wp, skip=True):
    x = sd["synthesis.early_layer.const"].repeat(len(wp), 1, 1, 1)
    image = None
    for b in range(len(CHANNELS)):
        if b:
            x = ref_layer(sd, f"layer{2 * b - 1}", x, wp[:, 2 * b - 1], up=True)
        x = ref_layer(sd, f"layer{2 * b}", x, wp[:, 2 * b])
        if skip or b == len(CHANNELS) - 1:
            rgb = ref_layer(sd, f"output{b}", x, wp[:, 2 * b + 1], torgb=True)
            if image is None:
                image = rgb
            else:
                zeros = torch.zeros(*image.shape[:2], image.shape[2] * 2, image.shape[3] * 2)
                zeros[:, :, ::2, ::2] = image
                image = rgb + blur(zeros, (2, 1, 2, 1))
    return image


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    sd = genforce_state()
    path = tmp_path_factory.mktemp("sg2") / "stylegan2_tiny16.pth"
    other = genforce_state(seed=9)
    torch.save({"generator": other, "generator_smooth": sd, "discriminator": {"b16.weight": torch.zeros(2)}}, path)
    return path, sd


def z_codes(n=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32))


def test_genforce_stylegan2_matches_an_independent_forward(saved):
    path, sd = saved
    model = load_model(str(path), device="cpu")  # auto-detected, read from generator_smooth as SeFa does
    assert (model.family, model.num_ws, model.resolution, model.w_dim) == ("stylegan2", 6, 16, W_DIM)
    assert model.extra["format"] == "genforce" and model.extra["weights"] == "generator_smooth"
    z = z_codes()
    w = ref_mapping(sd, z)
    torch.testing.assert_close(torch.from_numpy(model.map(z, "w")), w, rtol=1e-5, atol=1e-5)
    wp = w[:, None].repeat(1, 6, 1) + 0.3 * torch.randn(3, 6, W_DIM, generator=torch.Generator().manual_seed(1))
    expected = ref_synthesis(sd, wp)
    torch.testing.assert_close(model.generate(wp, "wp"), expected, rtol=1e-5, atol=2e-5)
    assert expected.std() > 0.1
    for spec in (f"stylegan2:{path}", f"genforce:{path}"):
        np.testing.assert_array_equal(load_model(spec, device="cpu").synthesize(z), model.synthesize(z))
    avg = sd["truncation.w_avg"].numpy()
    np.testing.assert_allclose(model.map(z, "w", Truncation(0.5)), avg + 0.5 * (w.numpy() - avg), rtol=1e-5, atol=1e-5)


def test_origin_architecture_has_one_torgb(tmp_path):
    sd = genforce_state("origin", seed=3)
    torch.save({"generator": sd}, tmp_path / "origin.pth")
    model = load_model(f"stylegan2:{tmp_path / 'origin.pth'}", device="cpu")
    assert model.cfg.architecture == "orig"
    wp = ref_mapping(sd, z_codes(2))[:, None].repeat(1, 6, 1)
    torch.testing.assert_close(model.generate(wp, "wp"), ref_synthesis(sd, wp, skip=False), rtol=1e-5, atol=2e-5)


def test_first_affine_is_what_sefa_factorizes(saved):
    """SeFa's factorize_weight uses synthesis.layer{i}.style.weight, and output{i // 2} for the last layer."""
    path, sd = saved
    model = load_model(str(path), device="cpu")
    num_layers = model.num_ws
    names = [f"layer{i}" if i < num_layers - 1 else f"output{i // 2}" for i in range(num_layers)]
    official = np.concatenate([sd[f"synthesis.{n}.style.weight"].numpy().T for n in names], axis=1)
    ours = model.first_affine(None, include_torgb="last").numpy()
    np.testing.assert_allclose(ours, official.T / math.sqrt(W_DIM), rtol=1e-6, atol=1e-7)
    # SeFa's directions: columns normalised, eigenvectors of W W^T (sorted here by eigenvalue).
    weight = official / np.linalg.norm(official, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(weight @ weight.T)
    directions, _ = factorize(ours, k=3, normalize_columns=True)
    cos = np.abs(np.sum(directions * vectors[:, ::-1][:, :3].T, axis=1))
    assert cos.min() > 0.99999
    layer_2 = model.first_affine("2", include_torgb="last").numpy()
    np.testing.assert_allclose(layer_2, sd["synthesis.layer2.style.weight"].numpy() / math.sqrt(W_DIM), rtol=1e-6)


def test_unsupported_variants_are_named(tmp_path):
    sd = genforce_state()
    cases = {
        "label.pth": ({**sd, "mapping.label_weight": torch.zeros(10, Z_DIM)}, "class-conditional"),
        "kernel.pth": ({**sd, "synthesis.upsample.kernel": torch.ones(1, 1, 4, 4)}, "[1,3,3,1]"),
        "repeat.pth": ({**sd, "truncation.w_avg": torch.zeros(6 * W_DIM)}, "repeat_w=False"),
        "nan.pth": ({**sd, "synthesis.layer2.bias": torch.full((16,), float("nan"))}, "NaN or infinite"),
    }
    for name, (state, expected) in cases.items():
        torch.save({"generator_smooth": state}, tmp_path / name)
        with pytest.raises(InterfaceGANError, match=expected.replace("[", r"\[")) as info:
            load_model(str(tmp_path / name), device="cpu")
        assert str(tmp_path / name) in str(info.value) and "\n" not in str(info.value)
    torch.save({"generator_smooth": sd}, tmp_path / "ok.pth")
    with pytest.raises(InterfaceGANError, match="fused_scale"):
        load_model(f"genforce:{tmp_path / 'ok.pth'}?fused_scale=True", device="cpu")
    with pytest.raises(InterfaceGANError, match="cannot hold a stylegan3"):
        load_model(f"stylegan3:{tmp_path / 'ok.pth'}", device="cpu")


def test_images_made_by_sefas_own_code_are_reproduced():
    fixture = Path(__file__).parent / "fixtures" / "genforce_stylegan2_16.pth"
    reference = np.load(fixture.with_name("genforce_stylegan2_16_reference.npz"), allow_pickle=False)
    model = load_model(str(fixture), device="cpu")
    z = reference["z"]
    np.testing.assert_allclose(model.map(z, "w"), reference["w"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.generate(z).numpy(), reference["images"], rtol=1e-5, atol=5e-5)
    wp = model.map(z, "wp", Truncation(0.7, cutoff=4))  # SeFa: trunc_psi=0.7, trunc_layers=4
    np.testing.assert_allclose(model.generate(wp, "wp").numpy(), reference["truncated"], rtol=1e-5, atol=5e-5)
