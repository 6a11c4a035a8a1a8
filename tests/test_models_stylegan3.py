"""StyleGAN3 (-T and -R) from NVIDIA `.pkl` snapshots: Fourier input, filtered-lrelu layers, full forward, geometry.

Pickles are written in NVIDIA's persistence layout without NVIDIA's code (`tests/nvidia_pickles.py`, which says
how that layout was checked against NVIDIA's own pickles). The reference math below is written from the paper's
description and the state-dict tensors: 2-D (outer-product) FIR filters, explicit zero insertion, full
convolution then decimation, and torch's affine_grid for the input grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interfacegan.errors import InterfaceGANError
from interfacegan.models import load_model
from interfacegan.models.base import Truncation
from interfacegan.models.checkpoints import build_random
from interfacegan.models.stylegan3 import design_synthesis
from tests.helpers import ref_mapping
from tests.nvidia_pickles import state_of, write_stylegan3_pkl

DIM = 16
RES = 16


# ---- reference math ------------------------------------------------------------------------------------------
def ref_input(sd, w, size, rate, bandwidth):
    t = w @ (sd["synthesis.input.affine.weight"] / math.sqrt(w.shape[1])).T + sd["synthesis.input.affine.bias"]
    t = t / t[:, :2].norm(dim=1, keepdim=True)
    n = len(w)
    rot = torch.eye(3).repeat(n, 1, 1)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
    tra = torch.eye(3).repeat(n, 1, 1)
    tra[:, 0, 2], tra[:, 1, 2] = -t[:, 2], -t[:, 3]
    m = rot @ tra @ sd["synthesis.input.transform"]
    freqs0 = sd["synthesis.input.freqs"]
    phases = sd["synthesis.input.phases"][None] + (freqs0[None] @ m[:, :2, 2:])[..., 0]
    freqs = freqs0[None] @ m[:, :2, :2]
    amp = (1 - (freqs.norm(dim=2) - bandwidth) / (rate / 2 - bandwidth)).clamp(0, 1)
    theta = torch.tensor([[0.5 * size / rate, 0, 0], [0, 0.5 * size / rate, 0]])
    grid = F.affine_grid(theta[None], [1, 1, size, size], align_corners=False)[0]  # (H, W, 2) = (x, y)
    x = torch.einsum("hwk,nck->nchw", grid, freqs) + phases[:, :, None, None]
    x = torch.sin(2 * math.pi * x) * amp[:, :, None, None]
    weight = sd["synthesis.input.weight"]
    return torch.einsum("dc,nchw->ndhw", weight / math.sqrt(weight.shape[0]), x)


def fir2d(x, f, pads):
    """Pad then convolve every channel with the 2-D filter f (outer product if f is 1-D)."""
    f2 = torch.outer(f, f) if f.ndim == 1 else f
    c = x.shape[1]
    return F.conv2d(F.pad(x, pads), f2.flip([0, 1]).repeat(c, 1, 1, 1), groups=c)


def ref_layer(sd, prefix, layer, x, w):
    """Modulated conv (weight/style pre-normalised, demodulated, x magnitude-EMA gain) + filtered leaky ReLU."""
    weight, torgb = sd[f"{prefix}.weight"], layer.is_torgb
    a = sd[f"{prefix}.affine.weight"]
    s = w @ (a / math.sqrt(a.shape[1])).T + sd[f"{prefix}.affine.bias"]
    k = weight.shape[-1]
    outs = []
    for i in range(len(x)):
        if torgb:
            wi = weight * (s[i] / math.sqrt(weight.shape[1] * k * k))[None, :, None, None]
        else:
            wn = weight / weight.pow(2).mean(dim=[1, 2, 3], keepdim=True).sqrt()
            si = s[i] / s[i].pow(2).mean().sqrt()
            wi = wn * si[None, :, None, None]
            wi = wi / torch.sqrt(wi.pow(2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        wi = wi / sd[f"{prefix}.magnitude_ema"].sqrt()
        outs.append(F.conv2d(x[i : i + 1], wi, padding=k - 1))
    y = torch.cat(outs) + sd[f"{prefix}.bias"][None, :, None, None]
    up, down, (px0, px1, py0, py1) = layer.up_factor, layer.down_factor, layer.padding
    if up > 1:
        z = torch.zeros(*y.shape[:2], y.shape[2] * up, y.shape[3] * up)
        z[:, :, ::up, ::up] = y
        y = z
    fu, fd = sd.get(f"{prefix}.up_filter"), sd.get(f"{prefix}.down_filter")
    y = fir2d(y, fu * up, [px0, px1, py0, py1]) if fu is not None else F.pad(y, [px0, px1, py0, py1])
    if torgb:
        y = y.clamp(-layer.conv_clamp, layer.conv_clamp)
    else:
        y = (F.leaky_relu(y, 0.2) * math.sqrt(2)).clamp(-layer.conv_clamp, layer.conv_clamp)
    if fd is not None:
        y = fir2d(y, fd, [0, 0, 0, 0])
    return y[:, :, ::down, ::down]


def ref_synthesis(model, sd, wp):
    spec = model.cfg.input
    x = ref_input(sd, wp[:, 0], spec.size[0], spec.sampling_rate, spec.bandwidth)
    for i, layer in enumerate(model.cfg.layers):
        x = ref_layer(sd, f"synthesis.{layer.name}", layer, x, wp[:, i + 1])
    return x * model.cfg.output_scale


# ---- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_t():
    return build_random("stylegan3", resolution=RES, w_dim=DIM, channel_base=256, channel_max=16, num_layers=6,
                        device="cpu")  # fmt: skip


@pytest.fixture(scope="module")
def tiny_r():
    return build_random("stylegan3", resolution=RES, w_dim=DIM, channel_base=256, channel_max=16, num_layers=6,
                        variant="r", seed=5, device="cpu")  # fmt: skip


# ---- tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["t", "r"])
def test_stylegan3_pickle_matches_an_independent_forward(variant, tiny_t, tiny_r, tmp_path):
    tiny = tiny_t if variant == "t" else tiny_r
    path = write_stylegan3_pkl(tiny, tmp_path / "sg3.pkl", radial=variant == "r")
    model = load_model(f"stylegan3:{path}", device="cpu")
    assert model.name == f"stylegan3-{variant}-{RES}" and model.num_ws == 8 and model.info.extra["variant"] == variant
    sd = state_of(model)
    for key, value in state_of(tiny).items():
        assert torch.equal(sd[key], value), key
    radial = [s.name for s in model.cfg.layers if s.down_filter is not None and s.down_filter.ndim == 2]
    assert bool(radial) == (variant == "r")
    z = torch.from_numpy(model.sample(3, seed=1))
    torch.testing.assert_close(torch.from_numpy(model.map(z.numpy(), "w")), ref_mapping(sd, z), rtol=1e-5, atol=1e-5)
    wp = torch.from_numpy(model.map(z.numpy(), "wp")) + 0.3 * torch.randn(3, model.num_ws, DIM)
    torch.testing.assert_close(model.generate(wp, "wp"), ref_synthesis(model, sd, wp), rtol=1e-4, atol=1e-4)


def test_filtered_lrelu_layer_and_input_match_reference(tiny_t, tmp_path):
    model = load_model(str(write_stylegan3_pkl(tiny_t, tmp_path / "t.pkl")), device="cpu")
    sd, seen = state_of(model), {}
    name = next(s.name for s in model.cfg.layers if s.up_factor == 4) if any(
        s.up_factor == 4 for s in model.cfg.layers) else model.cfg.layers[1].name  # fmt: skip
    layer = getattr(model.net.synthesis, name)
    handle = layer.register_forward_hook(lambda m, args, out: seen.update(args=args, out=out) and None)
    wp = torch.randn(2, model.num_ws, DIM)
    model.generate(wp, "wp")
    handle.remove()
    spec = next(s for s in model.cfg.layers if s.name == name)
    expected = ref_layer(sd, f"synthesis.{name}", spec, *seen["args"])
    torch.testing.assert_close(seen["out"], expected, rtol=1e-5, atol=1e-5)
    inp = model.cfg.input
    torch.testing.assert_close(model.net.synthesis.input(wp[:, 0]),
                               ref_input(sd, wp[:, 0], inp.size[0], inp.sampling_rate, inp.bandwidth),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_design_matches_the_official_1024_configs():
    """Known answers from NVIDIA's SynthesisNetwork (stylegan3@c233a91) for the released 1024 px T and R configs."""
    _, t_layers = design_synthesis(1024)
    assert [s.name for s in t_layers] == ["L0_36_512", "L1_36_512", "L2_52_512", "L3_52_512", "L4_84_512",
        "L5_148_512", "L6_148_512", "L7_276_323", "L8_276_203", "L9_532_128", "L10_1044_81", "L11_1044_51",
        "L12_1044_32", "L13_1024_32", "L14_1024_3"]  # fmt: skip
    assert [(s.up_factor, s.down_factor) for s in t_layers[:3]] == [(2, 2), (2, 2), (4, 2)]
    assert [s.padding for s in (t_layers[0], t_layers[2], t_layers[13], t_layers[14])] == [
        (9, 8, 9, 8), (-6, -9, -6, -9), (-11, -12, -11, -12), (0, 0, 0, 0)]  # fmt: skip
    np.testing.assert_allclose(t_layers[3].up_filter[:4].numpy(), [0.00053, 0.008391, 0.036291, 0.090817], atol=2e-6)
    assert t_layers[14].up_filter is None and t_layers[14].down_filter is None
    r_config = dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)
    spec_in, r_layers = design_synthesis(1024, **r_config)
    assert (spec_in.channels, spec_in.size, spec_in.sampling_rate, spec_in.bandwidth) == (1024, (36, 36), 16.0, 2.0)
    assert [s.name for s in r_layers][7:10] == ["L7_276_645", "L8_276_406", "L9_532_256"]
    assert [tuple(s.down_filter.shape) for s in r_layers[11:14]] == [(12, 12), (12,), (12,)]
    assert r_layers[0].padding == (11, 10, 11, 10) and r_layers[2].padding == (-2, -5, -2, -5)


def test_truncation_spaces_and_first_affine(tiny_t):
    z = tiny_t.sample(4, seed=2)
    w, w_avg = tiny_t.map(z, "w"), tiny_t.w_avg.cpu().numpy()
    wp = tiny_t.map(z, "wp", Truncation(0.5, cutoff=2))
    np.testing.assert_allclose(wp[:, 1], w_avg + 0.5 * (w - w_avg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wp[:, 2:], np.repeat(w[:, None], tiny_t.num_ws - 2, 1), rtol=1e-6)
    np.testing.assert_array_equal(tiny_t.synthesize(z), tiny_t.synthesize(tiny_t.map(z, "w"), "w"))
    gain = 1 / math.sqrt(DIM)
    a_input = tiny_t.first_affine("0", include_input=True)
    torch.testing.assert_close(a_input, tiny_t.net.synthesis.input.affine.weight.cpu() * gain)
    with pytest.raises(InterfaceGANError, match="select no style affine"):
        tiny_t.first_affine("0")
    last = tiny_t.cfg.layers[-1].name
    full = tiny_t.first_affine(include_torgb=True, include_input=True)
    convs = tiny_t.first_affine()
    assert full.shape[0] == convs.shape[0] + 4 + getattr(tiny_t.net.synthesis, last).affine.weight.shape[0]


def test_stylegan3_spec_and_family_checks(tiny_t, tmp_path):
    path = write_stylegan3_pkl(tiny_t, tmp_path / "g.pkl")
    model = load_model(str(path), device="cpu")
    assert model.spec == f"stylegan3:{path.resolve()}" and model.info.extra["format"] == "nvidia-pkl"
    with pytest.raises(InterfaceGANError, match="stylegan3 generator, not stylegan2"):
        load_model(f"stylegan2:{path}")
    with pytest.raises(InterfaceGANError, match="rosinality"):
        load_model(str(path), format="rosinality")
    z = model.sample(3)
    np.testing.assert_array_equal(model.synthesize(z), tiny_t.synthesize(z))


def test_stylegan3_batches_are_independent(tiny_t):
    """Per-sample style normalisation: an image does not depend on the other images of its batch."""
    wp = torch.randn(4, tiny_t.num_ws, DIM)
    together = tiny_t.generate(wp, "wp")
    scaled = wp.clone()
    scaled[1:] *= 5.0  # batch-mates with much larger styles
    torch.testing.assert_close(tiny_t.generate(scaled, "wp")[0], together[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["stylegan2", "stylegan3"])
def test_generate_is_differentiable(family):
    """Inversion needs gradients w.r.t. W+ codes through every layer (no in-place shortcuts when grad is on)."""
    model = build_random(family, resolution=16, w_dim=DIM, channel_base=256, channel_max=16, device="cpu",
                         **({"num_layers": 4} if family == "stylegan3" else {}))  # fmt: skip
    wp = torch.from_numpy(model.map(model.sample(2), "wp")).requires_grad_(True)
    image = model.generate(wp, "wp")
    image.square().mean().backward()
    assert torch.isfinite(wp.grad).all() and (wp.grad.abs().sum(dim=(0, 2)) > 0).all()  # every layer matters
    with torch.no_grad():
        torch.testing.assert_close(model.generate(wp.detach(), "wp"), image.detach())
