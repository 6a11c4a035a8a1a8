"""StyleGAN (v1) in the genforce `.pth` format: mapping, truncation, W / W+ synthesis, style affines for SeFa.

Tiny random checkpoints are built in the real key layouts, saved with torch.save, loaded back, and compared with
a forward pass written here from the state-dict tensors.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interfacegan.errors import InterfaceGANError
from interfacegan.models.base import Truncation
from interfacegan.models.genforce import is_genforce_checkpoint, load_genforce_checkpoint
from interfacegan.models.genforce_random import build_random_stylegan
from interfacegan.models.stylegan import OFFICIAL_TRUNCATION

Z_DIM = W_DIM = 16
SMALL = dict(resolution=16, z_dim=Z_DIM, w_dim=W_DIM, mapping_layers=3, fmaps_base=128, fmaps_max=16)
NUM_WS = 6  # 2 * log2(16) - 2


# ---- an independent StyleGAN forward, straight from the genforce state dict ---------------------------------
def reference_mapping(sd: dict, z: torch.Tensor, lr_mul: float = 0.01) -> torch.Tensor:
    x = z / torch.sqrt((z * z).mean(dim=1, keepdim=True) + 1e-8)
    i = 0
    while f"mapping.dense{i}.weight" in sd:
        w, b = sd[f"mapping.dense{i}.weight"], sd[f"mapping.dense{i}.bias"]
        x = F.leaky_relu(x @ w.T * (math.sqrt(2.0) / math.sqrt(w.shape[1]) * lr_mul) + b * lr_mul, 0.2)
        i += 1
    return x


def _blur(x):
    """[1, 2, 1] / 4 along each axis with zero padding, written as shifted sums."""
    p = F.pad(x, (1, 1, 1, 1))
    x = (p[:, :, :, :-2] + 2 * p[:, :, :, 1:-1] + p[:, :, :, 2:]) / 4
    return (x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]) / 4


def reference_synthesis(sd: dict, wp: torch.Tensor) -> torch.Tensor:
    n, layers = len(wp), 2 * len([k for k in sd if re.fullmatch(r"synthesis\.output\d+\.weight", k)])
    x = sd["synthesis.layer0.const"].repeat(n, 1, 1, 1)
    for i in range(layers):
        p = f"synthesis.layer{i}."
        if i > 0:
            w = sd[p + "weight"] * math.sqrt(2.0) / math.sqrt(sd[p + "weight"][0].numel())
            if i % 2 == 0:
                x = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
            x = F.conv2d(x, w, padding=1)
            if i % 2 == 0:
                x = _blur(x)
        x = x + sd[p + "apply_noise.noise"] * sd[p + "apply_noise.weight"][None, :, None, None]
        x = F.leaky_relu(x + sd[p + "bias"][None, :, None, None], 0.2)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = x / torch.sqrt((x * x).mean(dim=(2, 3), keepdim=True) + 1e-8)
        style = wp[:, i] @ sd[p + "style.weight"].T / math.sqrt(wp.shape[-1]) + sd[p + "style.bias"]
        c = x.shape[1]
        x = x * (1 + style[:, :c, None, None]) + style[:, c:, None, None]
    last = layers // 2 - 1
    w = sd[f"synthesis.output{last}.weight"]
    return F.conv2d(x, w / math.sqrt(w.shape[1]), sd[f"synthesis.output{last}.bias"])


def to_interfacegan_layout(sd: dict, fused_layers=()) -> dict:
    """The same weights under InterFaceGAN's StyleGAN key names (epilogue / style_mod / conv / wscale)."""
    renames = [
        (r"mapping\.dense(\d+)\.weight", r"mapping.dense\1.linear.weight"),
        (r"mapping\.dense(\d+)\.bias", r"mapping.dense\1.wscale.bias"),
        (r"synthesis\.layer0\.const", r"synthesis.layer0.first_layer"),
        (r"(synthesis\.layer\d+)\.apply_noise\.(\w+)", r"\1.epilogue.apply_noise.\2"),
        (r"(synthesis\.layer\d+)\.bias", r"\1.epilogue.bias"),
        (r"(synthesis\.layer\d+)\.style\.weight", r"\1.epilogue.style_mod.dense.linear.weight"),
        (r"(synthesis\.layer\d+)\.style\.bias", r"\1.epilogue.style_mod.dense.wscale.bias"),
        (r"(synthesis\.(?:layer|output)\d+)\.weight", r"\1.conv.weight"),
    ]
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(r"synthesis\.layer(\d+)\.weight", key)
        if m and int(m[1]) in fused_layers:
            out[key] = value.permute(2, 3, 1, 0)  # genforce (out, in, k, k) -> InterFaceGAN (k, k, in, out)
            continue
        for pattern, replacement in renames:
            if re.fullmatch(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        out[key] = value
    return out


@pytest.fixture(scope="module")
def tiny():
    return build_random_stylegan(**SMALL, seed=2)


@pytest.fixture
def saved(tiny, tmp_path):
    path = tmp_path / "stylegan_tiny.pth"
    torch.save({"generator_smooth": tiny[1]}, path)
    return path


def z_codes(n=4, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32))


# ---- architecture -------------------------------------------------------------------------------------------
def test_loaded_stylegan_matches_an_independent_forward(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    assert (model.spaces, model.z_dim, model.w_dim, model.num_ws, model.resolution) == (
        ("z", "w", "wp"), Z_DIM, W_DIM, NUM_WS, 16,
    )  # fmt: skip
    z = z_codes()
    w = reference_mapping(sd, z)
    torch.testing.assert_close(torch.from_numpy(model.map(z, "w")), w, rtol=1e-4, atol=1e-5)
    wp = w[:, None].repeat(1, NUM_WS, 1)
    expected = reference_synthesis(sd, wp)
    for codes, space in ((z, "z"), (w, "w"), (wp, "wp")):
        torch.testing.assert_close(model.generate(codes, space), expected, rtol=1e-4, atol=1e-4)
    assert expected.std() > 0.1


def test_truncation_follows_the_formula(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    z = z_codes(6).numpy()
    w = model.map(z, "w")
    w_avg = sd["truncation.w_avg"].numpy()
    np.testing.assert_allclose(model.map(z, "w", Truncation(0.7)), w_avg + 0.7 * (w - w_avg), rtol=1e-5, atol=1e-6)
    wp = model.map(z, "wp", Truncation(0.5, cutoff=2))
    assert wp.shape == (6, NUM_WS, W_DIM)
    np.testing.assert_allclose(wp[:, :2], np.repeat((w_avg + 0.5 * (w - w_avg))[:, None], 2, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wp[:, 2:], np.repeat(w[:, None], NUM_WS - 2, 1), rtol=1e-6)
    np.testing.assert_array_equal(model.map(z, "wp"), np.repeat(w[:, None], NUM_WS, 1))
    # The official setting (psi 0.7, first 8 layers) truncates every row of this 6-layer model.
    full = model.map(z, "wp", OFFICIAL_TRUNCATION)
    np.testing.assert_allclose(full, np.repeat(model.map(z, "w", Truncation(0.7))[:, None], NUM_WS, 1), rtol=1e-5)
    # synthesize(z, truncation) renders the truncated W+ codes.
    truncated = model.synthesize(z, truncation=Truncation(0.5, 2))
    np.testing.assert_array_equal(truncated, model.synthesize(wp, "wp"))
    assert not np.array_equal(truncated, model.synthesize(z))


def test_wplus_layer_edits_touch_their_own_layer(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    wp = torch.from_numpy(model.map(z_codes(2).numpy(), "wp"))
    base = model.generate(wp, "wp")
    for layer in (0, 3, NUM_WS - 1):
        edited = wp.clone()
        edited[:, layer] += 3.0 * torch.from_numpy(np.random.default_rng(layer).standard_normal(W_DIM)).float()
        out = model.generate(edited, "wp")
        assert out.shape == base.shape == (2, 3, 16, 16)
        assert (out - base).abs().max() > 1e-3
        torch.testing.assert_close(out, reference_synthesis(sd, edited), rtol=1e-4, atol=1e-4)
    with pytest.raises(InterfaceGANError, match="expected"):
        model.generate(wp[:, :4], "wp")


def test_first_affine_concatenates_chosen_style_affines(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    channels = [sd[f"synthesis.layer{i}.style.weight"].shape[0] for i in range(NUM_WS)]
    scaled = [sd[f"synthesis.layer{i}.style.weight"] / math.sqrt(W_DIM) for i in range(NUM_WS)]
    everything = model.first_affine()
    assert everything.shape == (sum(channels), W_DIM)
    torch.testing.assert_close(everything, torch.cat(scaled))
    subset = model.first_affine("2,4-5")
    assert subset.shape == (channels[2] + channels[4] + channels[5], W_DIM)
    torch.testing.assert_close(subset, torch.cat([scaled[2], scaled[4], scaled[5]]))
    torch.testing.assert_close(model.first_affine([1]), scaled[1])
    # A is the map from w to layer 1's style code: style = A w + b.
    w = torch.from_numpy(model.map(z_codes(2).numpy(), "w"))
    style = model.net.synthesis.layer1.style(w)
    torch.testing.assert_close(style, w @ model.first_affine([1]).T + sd["synthesis.layer1.style.bias"])
    with pytest.raises(InterfaceGANError, match="out of range"):
        model.first_affine("0-6")


def test_stored_noise_is_used_deterministically(tiny, tmp_path):
    _, sd = tiny
    other = dict(sd)
    other["synthesis.layer3.apply_noise.noise"] = torch.randn_like(sd["synthesis.layer3.apply_noise.noise"])
    torch.save(sd, tmp_path / "a.pth")
    torch.save(other, tmp_path / "b.pth")
    a, b = (load_genforce_checkpoint(tmp_path / n, device="cpu") for n in ("a.pth", "b.pth"))
    z = z_codes()
    torch.testing.assert_close(a.generate(z), a.generate(z), rtol=0, atol=0)
    assert (a.generate(z) - b.generate(z)).abs().max() > 1e-4
    expected = reference_synthesis(other, reference_mapping(other, z)[:, None].repeat(1, NUM_WS, 1))
    torch.testing.assert_close(b.generate(z), expected, rtol=1e-4, atol=1e-4)


def test_interfacegan_layout_and_fused_upconvs(tiny, tmp_path):
    """InterFaceGAN keys load to the same model; fused up-convs equal nearest-up + flipped conv + blur."""
    _, sd = tiny
    z = z_codes()
    expected = reference_synthesis(sd, reference_mapping(sd, z)[:, None].repeat(1, NUM_WS, 1))
    torch.save(to_interfacegan_layout(sd), tmp_path / "stylegan_ffhq.pth")
    legacy = load_genforce_checkpoint(tmp_path / "stylegan_ffhq.pth", device="cpu")
    assert legacy.info.extra["layout"] == "interfacegan"
    torch.testing.assert_close(legacy.generate(z), expected, rtol=1e-4, atol=1e-4)

    _, fused_sd = build_random_stylegan(**SMALL, fused_scale=True, seed=4)
    unfused_sd = dict(fused_sd)
    for layer in (2, 4):
        unfused_sd[f"synthesis.layer{layer}.weight"] = fused_sd[f"synthesis.layer{layer}.weight"].flip(2, 3)
    expected = reference_synthesis(unfused_sd, reference_mapping(fused_sd, z)[:, None].repeat(1, NUM_WS, 1))
    torch.save(fused_sd, tmp_path / "fused.pth")  # genforce files do not record fusing: pass it
    fused = load_genforce_checkpoint(tmp_path / "fused.pth", device="cpu", fused_scale=True)
    torch.testing.assert_close(fused.generate(z), expected, rtol=1e-4, atol=1e-4)
    torch.save(to_interfacegan_layout(fused_sd, fused_layers=(2, 4)), tmp_path / "fused_ifg.pth")
    fused_legacy = load_genforce_checkpoint(tmp_path / "fused_ifg.pth", device="cpu")  # fusing is in the keys
    torch.testing.assert_close(fused_legacy.generate(z), expected, rtol=1e-4, atol=1e-4)


def test_official_auto_fusing_from_128px():
    model, _ = build_random_stylegan(resolution=128, z_dim=8, w_dim=8, mapping_layers=2, fmaps_base=256, fmaps_max=8)
    kinds = [layer.kind for layer in model.net.synthesis.style_layers()]
    assert kinds[::2] == ["const", "up", "up", "up", "up", "fused"] and set(kinds[1::2]) == {"conv"}
    assert model.num_ws == 12 and model.generate(model.sample(1), "z").shape == (1, 3, 128, 128)


def test_stylegan_checkpoint_errors(tiny, tmp_path):
    _, sd = tiny
    cases = {
        "stray.pth": ({**sd, "synthesis.layer1.noise_strength": torch.zeros(())}, "unexpected synthesis.layer1.noise"),
        "label.pth": ({**sd, "mapping.label_weight": torch.zeros(3, Z_DIM)}, "class-conditional"),
        "no_avg.pth": ({k: v for k, v in sd.items() if k != "truncation.w_avg"}, "missing truncation.w_avg"),
        "style.pth": ({**sd, "synthesis.layer2.style.weight": torch.zeros(32, 9)}, "synthesis.layer2.style.weight"),
    }
    for name, (content, expected) in cases.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(InterfaceGANError) as info:
            load_genforce_checkpoint(tmp_path / name, device="cpu")
        assert str(tmp_path / name) in str(info.value) and expected in str(info.value), str(info.value)
    torch.save(sd, tmp_path / "ok.pth")
    with pytest.raises(InterfaceGANError, match="holds a stylegan generator, not a pggan"):
        load_genforce_checkpoint(tmp_path / "ok.pth", device="cpu", family="pggan")
    assert is_genforce_checkpoint(sd) and is_genforce_checkpoint(to_interfacegan_layout(sd))
    assert not is_genforce_checkpoint({k: v for k, v in sd.items() if not k.startswith("synthesis.output")})


def test_missing_fixed_buffers_take_their_official_values(tiny, tmp_path):
    _, sd = tiny
    stripped = {k: v for k, v in sd.items() if not (k.endswith("blur.kernel") or k.endswith("lod"))}
    torch.save(stripped, tmp_path / "stripped.pth")
    model = load_genforce_checkpoint(tmp_path / "stripped.pth", device="cpu")
    z = z_codes()
    torch.testing.assert_close(
        model.generate(z), reference_synthesis(sd, reference_mapping(sd, z)[:, None].repeat(1, NUM_WS, 1)),
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(saved):
    z = z_codes()
    cpu = load_genforce_checkpoint(saved, device="cpu")
    gpu = load_genforce_checkpoint(saved, device="cuda")
    torch.testing.assert_close(gpu.generate(z).cpu(), cpu.generate(z), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gpu.map(z, "wp", OFFICIAL_TRUNCATION), cpu.map(z, "wp", OFFICIAL_TRUNCATION), atol=1e-4)


def test_fused_scale_assumption_is_stated_on_load(tiny, saved, tmp_path, caplog):
    """genforce files do not record fused_scale: the value used and how to change it are logged as a warning."""
    from interfacegan.models.genforce_random import build_random_pggan

    with caplog.at_level("WARNING", logger="interfacegan.models.genforce"):
        load_genforce_checkpoint(saved, device="cpu")
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(messages) == 1 and str(saved) in messages[0]
    assert "'auto'" in messages[0] and "8, 16" in messages[0] and "?fused_scale=True" in messages[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="interfacegan.models.genforce"):
        load_genforce_checkpoint(saved, device="cpu", fused_scale="auto")  # given: nothing assumed
        torch.save(to_interfacegan_layout(tiny[1]), tmp_path / "legacy.pth")  # InterFaceGAN layouts record it
        load_genforce_checkpoint(tmp_path / "legacy.pth", device="cpu")
    assert not caplog.records
    _, pggan = build_random_pggan(resolution=16, fmaps_base=64, fmaps_max=16)  # 16 -> 8 -> 4 channels: shapes tell
    torch.save(pggan, tmp_path / "pggan_told.pth")
    _, flat = build_random_pggan(resolution=16, fmaps_base=1024, fmaps_max=16)  # 16 channels throughout
    torch.save(flat, tmp_path / "pggan_flat.pth")
    with caplog.at_level("WARNING", logger="interfacegan.models.genforce"):
        load_genforce_checkpoint(tmp_path / "pggan_told.pth", device="cpu")
        assert not caplog.records
        load_genforce_checkpoint(tmp_path / "pggan_flat.pth", device="cpu")
    assert len(caplog.records) == 1 and "unfused where the weight shapes do not tell" in caplog.records[0].getMessage()
