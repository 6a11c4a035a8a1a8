"""StyleGAN2 from NVIDIA `.pkl` and rosinality `.pt` checkpoints: forward passes, format round trips, truncation.

Tiny random generators (32 px, <= 32 channels) are written in the real file formats inside the tests and loaded
through the public loaders; NVIDIA pickles come from `tests/nvidia_pickles.py` (NVIDIA's persistence layout,
written without NVIDIA's code). Outputs are compared with forward passes written here directly from the
state-dict tensors.
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
from interfacegan.models.rosinality import nvidia_to_rosinality, save_rosinality
from tests.helpers import ref_mapping
from tests.nvidia_pickles import state_of, write_stylegan2_pkl

DIM = 16
RES = 32
SQRT2 = math.sqrt(2.0)


# ---- independent StyleGAN2 math, straight from the (NVIDIA-named) state dict ---------------------------------
FIR = torch.tensor([1.0, 3.0, 3.0, 1.0])
FIR2D = torch.outer(FIR, FIR) / 64  # the resample filter, DC gain 1


def ref_styles(sd, prefix, w):
    a = sd[f"{prefix}.affine.weight"]
    return w @ (a / math.sqrt(a.shape[1])).T + sd[f"{prefix}.affine.bias"]


def zero_insert(x, size):
    """(N, C, H, W) -> (N, C, size, size) with x at even positions and zeros between."""
    out = torch.zeros(*x.shape[:2], size, size)
    out[:, :, ::2, ::2] = x
    return out


def fir(x, pads):
    """Per-channel convolution with the 4x4 resample filter times 4 (the upsampling gain), after padding."""
    c = x.shape[1]
    return F.conv2d(F.pad(x, pads), (FIR2D * 4).repeat(c, 1, 1, 1), groups=c)


def ref_conv_layer(sd, prefix, x, w, up, clamp):
    """One modulated conv layer, sample by sample: modulate, demodulate, (up)conv, noise, bias, lrelu, clamp."""
    weight, styles, outs = sd[f"{prefix}.weight"], ref_styles(sd, prefix, w), []
    for i in range(len(x)):
        wi = weight * styles[i][None, :, None, None]
        wi = wi / torch.sqrt(wi.pow(2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        if up:  # transposed conv = full convolution of the zero-inserted input; then the 4-tap low-pass
            u = zero_insert(x[i : i + 1], 2 * x.shape[2] - 1)
            y = fir(F.conv2d(F.pad(u, [2, 2, 2, 2]), wi.flip([2, 3])), [1, 1, 1, 1])
        else:
            y = F.conv2d(x[i : i + 1], wi, padding=1)
        outs.append(y)
    y = torch.cat(outs) + sd[f"{prefix}.noise_const"] * sd[f"{prefix}.noise_strength"]
    y = F.leaky_relu(y + sd[f"{prefix}.bias"][None, :, None, None], 0.2) * SQRT2
    return y if clamp is None else y.clamp(-clamp, clamp)


def ref_torgb(sd, prefix, x, w, clamp):
    weight = sd[f"{prefix}.weight"][:, :, 0, 0]
    s = ref_styles(sd, prefix, w) / math.sqrt(weight.shape[1])
    y = torch.einsum("oi,ni,nihw->nohw", weight, s, x) + sd[f"{prefix}.bias"][None, :, None, None]
    return y if clamp is None else y.clamp(-clamp, clamp)


def ref_synthesis(sd, wp, res, clamp):
    """The 'skip' StyleGAN2 synthesis: per block (up)convs, ToRGB, and the upsampled running image."""
    x = sd["synthesis.b4.const"][None].repeat(len(wp), 1, 1, 1)
    x = ref_conv_layer(sd, "synthesis.b4.conv1", x, wp[:, 0], False, clamp)
    img = ref_torgb(sd, "synthesis.b4.torgb", x, wp[:, 1], clamp)
    i, r = 1, 8
    while r <= res:
        x = ref_conv_layer(sd, f"synthesis.b{r}.conv0", x, wp[:, i], True, clamp)
        x = ref_conv_layer(sd, f"synthesis.b{r}.conv1", x, wp[:, i + 1], False, clamp)
        img = fir(zero_insert(img, r), [2, 1, 2, 1]) + ref_torgb(sd, f"synthesis.b{r}.torgb", x, wp[:, i + 2], clamp)
        i, r = i + 2, r * 2
    return img


def ref_rosinality(sd, wp):
    """rosinality's Generator.forward (randomize_noise=False) written from its own state-dict conventions."""
    def modulation(prefix, w):
        a = sd[f"{prefix}.conv.modulation.weight"]
        return w @ (a / math.sqrt(a.shape[1])).T + sd[f"{prefix}.conv.modulation.bias"]

    def styled(prefix, x, w, noise, upsample):
        weight = sd[f"{prefix}.conv.weight"][0]  # (O, I, k, k), scaled at run time by 1/sqrt(fan_in)
        weight = weight / math.sqrt(weight[0].numel())
        s = modulation(prefix, w)
        outs = []
        for i in range(len(x)):
            wi = weight * s[i][None, :, None, None]
            wi = wi / torch.sqrt(wi.pow(2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
            if upsample:
                y = F.conv_transpose2d(x[i : i + 1], wi.transpose(0, 1), stride=2)
                blur = sd[f"{prefix}.conv.blur.kernel"]  # already x4
                y = F.conv2d(F.pad(y, [1, 1, 1, 1]), blur.flip([0, 1]).repeat(y.shape[1], 1, 1, 1), groups=y.shape[1])
            else:
                y = F.conv2d(x[i : i + 1], wi, padding=1)
            outs.append(y)
        y = torch.cat(outs) + sd[f"{prefix}.noise.weight"] * noise
        return F.leaky_relu(y + sd[f"{prefix}.activate.bias"][None, :, None, None], 0.2) * SQRT2

    def to_rgb(prefix, x, w, skip):
        weight = sd[f"{prefix}.conv.weight"][0][:, :, 0, 0] / math.sqrt(x.shape[1])
        s = modulation(prefix, w)
        out = torch.einsum("oi,ni,nihw->nohw", weight, s, x) + sd[f"{prefix}.bias"]
        if skip is not None:
            k = sd[f"{prefix}.upsample.kernel"]
            up = zero_insert(skip, 2 * skip.shape[2])
            out = out + F.conv2d(F.pad(up, [2, 1, 2, 1]), k.flip([0, 1]).repeat(3, 1, 1, 1), groups=3)
        return out

    x = sd["input.input"].repeat(len(wp), 1, 1, 1)
    x = styled("conv1", x, wp[:, 0], sd["noises.noise_0"], False)
    skip = to_rgb("to_rgb1", x, wp[:, 1], None)
    i, k = 1, 0
    while f"convs.{2 * k}.conv.weight" in sd:
        x = styled(f"convs.{2 * k}", x, wp[:, i], sd[f"noises.noise_{2 * k + 1}"], True)
        x = styled(f"convs.{2 * k + 1}", x, wp[:, i + 1], sd[f"noises.noise_{2 * k + 2}"], False)
        skip = to_rgb(f"to_rgbs.{k}", x, wp[:, i + 2], skip)
        i, k = i + 2, k + 1
    return skip


# ---- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    """A random 32 px StyleGAN2 (skip, conv_clamp 256, 16-d latents, channels <= 32)."""
    return build_random("stylegan2", resolution=RES, w_dim=DIM, channel_base=512, channel_max=32, device="cpu")


@pytest.fixture(scope="module")
def tiny_pkl(tiny, tmp_path_factory):
    return write_stylegan2_pkl(tiny, tmp_path_factory.mktemp("sg2") / "network-snapshot-000000.pkl")


def z_codes(n=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32))


# ---- tests ---------------------------------------------------------------------------------------------------
def test_nvidia_pickle_matches_an_independent_forward(tiny_pkl):
    model = load_model(f"stylegan2:{tiny_pkl}", device="cpu")
    assert model.name == "stylegan2-32" and model.num_ws == 8 and model.spaces == ("z", "w", "wp")
    assert model.info.extra["format"] == "nvidia-pkl"
    sd = state_of(model)
    z = z_codes()
    w = torch.from_numpy(model.map(z.numpy(), "w"))
    torch.testing.assert_close(w, ref_mapping(sd, z), rtol=1e-5, atol=1e-5)

    wp = torch.randn(3, model.num_ws, DIM)  # distinct per-layer codes catch any W+ index mix-up
    got = model.generate(wp, "wp")
    torch.testing.assert_close(got, ref_synthesis(sd, wp, RES, clamp=256.0), rtol=1e-4, atol=1e-4)


def test_modulated_conv_layers_match_reference_math(tiny_pkl):
    """Up-sampling and plain modulated conv layers and ToRGB, checked on their own inputs via hooks."""
    model = load_model(str(tiny_pkl), device="cpu")
    sd, seen = state_of(model), {}
    block = model.net.synthesis.b16
    def keep(name):
        def hook(module, args, out):
            seen[name] = (args, out)  # returns None: the output is left unchanged

        return hook

    hooks = [getattr(block, n).register_forward_hook(keep(n)) for n in ("conv0", "conv1", "torgb")]
    model.generate(torch.randn(2, model.num_ws, DIM), "wp")
    for h in hooks:
        h.remove()
    (x, w, *_), out = seen["conv0"]
    torch.testing.assert_close(out, ref_conv_layer(sd, "synthesis.b16.conv0", x, w, True, 256.0), rtol=1e-5, atol=1e-5)
    (x, w, *_), out = seen["conv1"]
    torch.testing.assert_close(out, ref_conv_layer(sd, "synthesis.b16.conv1", x, w, False, 256.0), rtol=1e-5, atol=1e-5)
    (x, w), out = seen["torgb"]
    torch.testing.assert_close(out, ref_torgb(sd, "synthesis.b16.torgb", x, w, 256.0), rtol=1e-5, atol=1e-5)


def test_mapping_and_truncation_follow_the_formula(tiny_pkl):
    model = load_model(f"stylegan2:{tiny_pkl}", device="cpu")
    z = z_codes(5).numpy()
    w = model.map(z, "w")
    w_avg = model.w_avg.cpu().numpy()
    np.testing.assert_allclose(model.map(z, "w", Truncation(0.7)), w_avg + 0.7 * (w - w_avg), rtol=1e-5, atol=1e-6)
    wp = model.map(z, "wp", Truncation(0.5, cutoff=3))
    np.testing.assert_allclose(wp[:, :3], np.repeat((w_avg + 0.5 * (w - w_avg))[:, None], 3, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wp[:, 3:], np.repeat(w[:, None], model.num_ws - 3, 1), rtol=1e-6)
    # truncated z sampling goes through the same truncated W+ codes
    np.testing.assert_array_equal(model.synthesize(z, "z", truncation=Truncation(0.5, 3)), model.synthesize(wp, "wp"))


def test_spaces_agree_and_batches_do_not_matter(tiny):
    z = tiny.sample(6, seed=4)
    via_z = tiny.synthesize(z, "z", batch_size=4)
    assert via_z.shape == (6, RES, RES, 3) and via_z.dtype == np.uint8 and via_z.std() > 5
    np.testing.assert_array_equal(via_z, tiny.synthesize(tiny.map(z, "w"), "w", batch_size=6))
    one_by_one = tiny.synthesize(tiny.map(z, "wp"), "wp", batch_size=1)  # conv algorithms may differ by batch
    diff = np.abs(one_by_one.astype(int) - via_z.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999
    assert tiny.space_shape("wp") == (8, DIM)


def test_rosinality_round_trip_gives_identical_images(tmp_path):
    """NVIDIA pkl -> rosinality .pt -> NVIDIA pkl: same weights, same images; rosinality's own forward agrees."""
    tiny_noclamp = build_random("stylegan2", resolution=RES, w_dim=DIM, conv_clamp=None, seed=3, device="cpu")
    pkl = write_stylegan2_pkl(tiny_noclamp, tmp_path / "a.pkl")
    from_pkl = load_model(str(pkl), device="cpu")
    pt = save_rosinality(from_pkl, tmp_path / "a.pt")
    ckpt = torch.load(pt, weights_only=True)
    assert set(ckpt) == {"g_ema", "latent_avg"} and "style.1.weight" in ckpt["g_ema"]
    assert ckpt["g_ema"]["convs.0.conv.weight"].ndim == 5 and ckpt["g_ema"]["noises.noise_0"].shape == (1, 1, 4, 4)
    from_pt = load_model(str(pt), device="cpu")
    assert from_pt.spec == f"stylegan2:{pt.resolve()}" and from_pt.info.extra["format"] == "rosinality-pt"
    wp = torch.randn(2, from_pt.num_ws, DIM)
    img_pkl, img_pt = from_pkl.generate(wp, "wp"), from_pt.generate(wp, "wp")
    torch.testing.assert_close(img_pt, img_pkl, rtol=0, atol=1e-5)
    torch.testing.assert_close(img_pt, ref_rosinality(ckpt["g_ema"], wp), rtol=1e-4, atol=1e-4)
    z = from_pt.sample(4, seed=1)
    np.testing.assert_array_equal(from_pt.map(z, "wp", Truncation(0.6)), from_pkl.map(z, "wp", Truncation(0.6)))

    back = write_stylegan2_pkl(from_pt, tmp_path / "b.pkl")
    again = load_model(f"stylegan2:{back}", device="cpu")
    for key, value in state_of(from_pkl).items():
        assert torch.equal(state_of(again)[key], value), key
    np.testing.assert_array_equal(again.synthesize(z, "z"), from_pkl.synthesize(z, "z"))


def test_rosinality_without_latent_avg_estimates_it(tmp_path):
    model = build_random("stylegan2", resolution=16, w_dim=DIM, conv_clamp=None, device="cpu")
    g_ema, _ = nvidia_to_rosinality(state_of(model), model.cfg)
    path = tmp_path / "train.pt"
    import argparse

    torch.save({"g": g_ema, "g_ema": g_ema, "d": {}, "args": argparse.Namespace(size=16), "ada_aug_p": 0.0}, path)
    loaded = load_model(f"rosinality:{path}", device="cpu")
    assert loaded.info.extra["w_avg"].startswith("mean of 4096")
    z = torch.from_numpy(loaded.sample(4096, seed=0))
    mean_w = torch.from_numpy(loaded.map(z.numpy(), "w")).mean(0)
    torch.testing.assert_close(loaded.w_avg.cpu(), mean_w, rtol=1e-4, atol=1e-4)


def test_rosinality_refuses_models_it_cannot_express(tiny):
    with pytest.raises(InterfaceGANError, match="conv_clamp"):
        nvidia_to_rosinality(state_of(tiny), tiny.cfg)  # conv_clamp=256


@pytest.mark.parametrize("architecture", ["resnet", "orig"])
def test_other_architectures_load_and_run(architecture, tmp_path):
    model = build_random("stylegan2", resolution=16, w_dim=DIM, architecture=architecture, device="cpu")
    loaded = load_model(str(write_stylegan2_pkl(model, tmp_path / "g.pkl", protocol=3)), device="cpu")
    assert loaded.info.extra["architecture"] == architecture and loaded.num_ws == 6
    z = model.sample(3, seed=2)
    np.testing.assert_array_equal(loaded.synthesize(z), model.synthesize(z))
    first = loaded.style_layers()
    assert [e.kind for e in first].count("torgb") == 1  # only the last block has a ToRGB


def test_first_affine_selects_layers_and_torgb_modes(tiny):
    gain = 1 / math.sqrt(DIM)
    sd = state_of(tiny)
    conv_rows = sum(e.affine.weight.shape[0] for e in tiny.style_layers() if e.kind == "conv")
    assert tiny.first_affine().shape == (conv_rows, DIM)
    torch.testing.assert_close(tiny.first_affine("0"), sd["synthesis.b4.conv1.affine.weight"] * gain)
    # index 1 drives b8.conv0 and b4's ToRGB; index 7 only the final ToRGB
    a = tiny.first_affine("1", include_torgb="all")
    both = torch.cat([sd["synthesis.b8.conv0.affine.weight"], sd["synthesis.b4.torgb.affine.weight"]])
    torch.testing.assert_close(a, both * gain)
    last = tiny.first_affine("all", include_torgb="last")
    rgb = sd["synthesis.b32.torgb.affine.weight"]
    torch.testing.assert_close(last[-len(rgb) :], rgb * gain)
    assert last.shape[0] == conv_rows + len(rgb)
    first = tiny.first_affine(include_torgb="first")
    assert first.shape[0] == conv_rows + sd["synthesis.b4.torgb.affine.weight"].shape[0]
    with pytest.raises(InterfaceGANError, match="select no style affine"):
        tiny.first_affine("7")
    with pytest.raises(InterfaceGANError, match="include_torgb"):
        tiny.first_affine(include_torgb="some")
    with pytest.raises(InterfaceGANError, match="out of range"):
        tiny.first_affine("9")


def test_conditional_generators_need_a_class(tmp_path):
    from interfacegan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, StyleGAN2Net, nvidia_channels
    from interfacegan.models.checkpoints import randomize_

    cfg = StyleGAN2Config(z_dim=DIM, w_dim=DIM, img_resolution=16, c_dim=3, mapping_layers=2,
                          channels=nvidia_channels(16, 512, 32))  # fmt: skip
    net = StyleGAN2Net(cfg)
    randomize_(net, torch.Generator().manual_seed(0))
    model = StyleGAN2Generator(cfg, net.state_dict(), device="cpu", class_idx=0)
    path = write_stylegan2_pkl(model, tmp_path / "cond.pkl")
    with pytest.raises(InterfaceGANError, match="class_idx=0..2"):
        load_model(str(path), device="cpu")
    a = load_model(f"{path}?class_idx=1", device="cpu")
    b = load_model(str(path), device="cpu", class_idx=2)
    assert a.spec.endswith("?class_idx=1") and load_model(a.spec).info.extra["class_idx"] == 1
    z = a.sample(2)
    assert not np.array_equal(a.map(z, "w"), b.map(z, "w"))
    sd = state_of(a)
    c = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    y = c @ (sd["mapping.embed.weight"] / math.sqrt(3)).T + sd["mapping.embed.bias"]
    y = y / torch.sqrt(y.pow(2).mean(1, keepdim=True) + 1e-8)
    zz = torch.from_numpy(z)
    x = torch.cat([zz / torch.sqrt(zz.pow(2).mean(1, keepdim=True) + 1e-8), y], 1)
    for i in range(2):
        wt, bias = sd[f"mapping.fc{i}.weight"], sd[f"mapping.fc{i}.bias"]
        x = F.leaky_relu(x @ (wt * 0.01 / math.sqrt(wt.shape[1])).T + bias * 0.01, 0.2) * SQRT2
    torch.testing.assert_close(torch.from_numpy(a.map(z, "w")), x, rtol=1e-5, atol=1e-5)


def test_specs_formats_and_noise_modes(tiny_pkl):
    model = load_model(f"nvidia:{tiny_pkl}", device="cpu")
    assert model.spec == f"stylegan2:{tiny_pkl.resolve()}"
    with pytest.raises(InterfaceGANError, match="stylegan2 generator, not stylegan3"):
        load_model(f"stylegan3:{tiny_pkl}")
    with pytest.raises(InterfaceGANError, match="cannot hold a pggan"):
        load_model(f"pggan:{tiny_pkl}")
    with pytest.raises(InterfaceGANError, match="not found"):
        load_model("stylegan2:/no/such/file.pkl")
    with pytest.raises(InterfaceGANError, match="unknown option"):
        load_model(str(tiny_pkl), truncation_psi=0.5)
    quiet = load_model(f"{tiny_pkl}?noise_mode=none", device="cpu")
    z = model.sample(2)
    assert quiet.spec.endswith("?noise_mode=none")
    assert not np.array_equal(quiet.synthesize(z), model.synthesize(z))
    np.testing.assert_array_equal(load_model(quiet.spec).synthesize(z), quiet.synthesize(z))


def test_cli_sample_runs_on_a_stylegan2_pickle(tiny_pkl, tmp_path):
    import subprocess

    from interfacegan.store import SampleStore
    from tests.helpers import cli_path

    out = tmp_path / "run"
    proc = subprocess.run([cli_path(), "sample", "--model", f"stylegan2:{tiny_pkl}", "--num", "20", "--out", str(out),
                           "--space", "w", "--space", "wp", "--truncation-psi", "0.7", "--device", "cpu", "--quiet",
                           "--images"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    store = SampleStore.open(out, "r")
    model = load_model(f"stylegan2:{tiny_pkl}", device="cpu")
    z = store.codes("z")
    np.testing.assert_allclose(store.codes("w"), model.map(z, "w", Truncation(0.7)), rtol=1e-5, atol=1e-6)
    assert store.codes("wp").shape == (20, 8, DIM)
    np.testing.assert_array_equal(store.images(slice(0, 4)), model.synthesize(z[:4], "z", truncation=Truncation(0.7)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_pkl):
    cpu, gpu = load_model(str(tiny_pkl), device="cpu"), load_model(str(tiny_pkl), device="cuda")
    z = cpu.sample(4)
    np.testing.assert_allclose(gpu.map(z, "wp"), cpu.map(z, "wp"), rtol=1e-4, atol=1e-4)
    assert np.abs(gpu.synthesize(z).astype(int) - cpu.synthesize(z).astype(int)).max() <= 2
