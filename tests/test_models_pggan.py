"""PGGAN in the genforce `.pth` format, and the safety of the genforce checkpoint loader.

Tiny random checkpoints are built in the real key layouts (genforce / SeFa and the older InterFaceGAN one),
saved with torch.save, loaded back, and compared with a forward pass written here from the state-dict tensors.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from interfacegan.errors import InterfaceGANError
from interfacegan.models.genforce import is_genforce_checkpoint, load_genforce_checkpoint
from interfacegan.models.genforce_random import build_random_pggan

Z_DIM = 16
SMALL = dict(resolution=16, z_dim=Z_DIM, fmaps_base=128, fmaps_max=16)  # channels 16, 16, 8 at 4, 8, 16 px


# ---- an independent PGGAN forward, straight from the genforce state dict ------------------------------------
def _pn(x):
    return x / torch.sqrt((x * x).mean(dim=1, keepdim=True) + 1e-8)


def _conv(x, sd, name, gain=math.sqrt(2.0)):
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w * gain / math.sqrt(w[0].numel()), sd[f"{name}.bias"], padding=w.shape[-1] // 2)


def reference_pggan(sd: dict, z: torch.Tensor, lod: int = 0) -> torch.Tensor:
    """Image (N, 3, R, R): pixel norm before every conv, 4x4 'dense' start, nearest 2x up, ToRGB at the end."""
    blocks = len([k for k in sd if re.fullmatch(r"output\d+\.weight", k)])
    w0 = sd["layer0.weight"]  # (C0, z_dim, 4, 4) applied to a 1x1 input with padding 3
    x = torch.einsum("ni,ciyx->ncyx", _pn(z), w0.flip(2, 3)) * math.sqrt(2.0) / math.sqrt(w0[0].numel())
    x = F.leaky_relu(x + sd["layer0.bias"][None, :, None, None], 0.2)
    x = F.leaky_relu(_conv(_pn(x), sd, "layer1"), 0.2)
    last = blocks - 1 - lod
    for b in range(1, last + 1):
        x = _pn(x).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        x = F.leaky_relu(_conv(x, sd, f"layer{2 * b}"), 0.2)
        x = F.leaky_relu(_conv(_pn(x), sd, f"layer{2 * b + 1}"), 0.2)
    image = _conv(_pn(x), sd, f"output{last}", gain=1.0)
    for _ in range(lod):
        image = image.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    return image


def to_interfacegan_layout(sd: dict, fused_blocks=()) -> dict:
    """The same weights under InterFaceGAN's key names: `.conv.weight`, `.wscale.bias`, fused as (k, k, in, out)."""
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(r"(layer|output)(\d+)\.(weight|bias)", key)
        if not m:
            out[key] = value
        elif m[3] == "bias":
            out[f"{m[1]}{m[2]}.wscale.bias"] = value
        elif m[1] == "layer" and int(m[2]) % 2 == 0 and int(m[2]) // 2 in fused_blocks:
            out[f"layer{m[2]}.weight"] = value.permute(2, 3, 0, 1)  # genforce (in, out, k, k) -> (k, k, in, out)
        else:
            out[f"{m[1]}{m[2]}.conv.weight"] = value
    return out


@pytest.fixture(scope="module")
def tiny():
    return build_random_pggan(**SMALL, seed=3)


@pytest.fixture
def saved(tiny, tmp_path):
    path = tmp_path / "pggan_tiny.pth"
    torch.save(tiny[1], path)
    return path


def z_codes(n=4, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, Z_DIM)).astype(np.float32))


# ---- architecture -------------------------------------------------------------------------------------------
def test_loaded_pggan_matches_an_independent_forward(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    z = z_codes()
    ours = model.generate(z)
    assert ours.shape == (4, 3, 16, 16)
    torch.testing.assert_close(ours, reference_pggan(sd, z), rtol=1e-4, atol=1e-4)
    assert ours.std() > 0.1  # a real image, not a constant


def test_spaces_shapes_and_determinism(saved):
    model = load_genforce_checkpoint(saved, device="cpu")
    assert model.spaces == ("z",) and model.z_dim == Z_DIM and model.resolution == 16
    z = model.sample(5, seed=7)
    images = model.synthesize(z, batch_size=2)
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, model.synthesize(z, batch_size=5))
    np.testing.assert_array_equal(model.map(z, "z"), z)
    with pytest.raises(InterfaceGANError, match="no latent space 'w'"):
        model.map(z, "w")
    info = model.info.as_dict()
    assert info["family"] == "pggan" and info["layout"] == "genforce" and info["resolution"] == 16


def test_first_affine_is_the_first_layer_as_out_by_z(tiny, saved):
    _, sd = tiny
    model = load_genforce_checkpoint(saved, device="cpu")
    a = model.first_affine()
    c0 = sd["layer0.weight"].shape[0]
    assert a.shape == (c0 * 16, Z_DIM)
    # A acts on the pixel-normalized z and gives the first layer's pre-activation, row (c, y, x).
    z = z_codes(3)
    pre = F.conv2d(_pn(z)[:, :, None, None], sd["layer0.weight"] * math.sqrt(2.0) / math.sqrt(Z_DIM * 16), padding=3)
    torch.testing.assert_close((_pn(z) @ a.T).reshape(3, c0, 4, 4), pre, rtol=1e-5, atol=1e-5)
    # The official SeFa reshape of the raw weight is A^T up to the constant equalized-LR scale.
    sefa = sd["layer0.weight"].flip(2, 3).permute(1, 0, 2, 3).flatten(1)
    torch.testing.assert_close(a.T / (math.sqrt(2.0) / math.sqrt(Z_DIM * 16)), sefa)
    torch.testing.assert_close(model.first_affine("all"), a)
    with pytest.raises(InterfaceGANError, match="out of range"):
        model.first_affine("1")


def test_interfacegan_layout_loads_to_the_same_model(tiny, tmp_path):
    _, sd = tiny
    path = tmp_path / "pggan_celebahq.pth"
    torch.save(to_interfacegan_layout(sd), path)
    model = load_genforce_checkpoint(path, device="cpu")
    assert model.info.extra["layout"] == "interfacegan"
    z = z_codes()
    torch.testing.assert_close(model.generate(z), reference_pggan(sd, z), rtol=1e-4, atol=1e-4)


def test_fused_upconv_equals_upsample_then_flipped_conv(tmp_path):
    """Fused (stride-2 transposed conv) blocks compute nearest-up + conv with the kernel flipped."""
    _, fused_sd = build_random_pggan(**SMALL, fused_scale=True, seed=5)
    unfused_sd = dict(fused_sd)
    for b in (1, 2):  # genforce stores a fused PGGAN up-conv as (in, out, k, k)
        unfused_sd[f"layer{2 * b}.weight"] = fused_sd[f"layer{2 * b}.weight"].permute(1, 0, 2, 3).flip(2, 3)
    torch.save({"generator": fused_sd}, tmp_path / "fused.pth")
    torch.save(to_interfacegan_layout(fused_sd, fused_blocks=(1, 2)), tmp_path / "fused_ifg.pth")
    z = z_codes()
    expected = reference_pggan(unfused_sd, z)
    # 16 -> 8 channels at 16px: the (in, out) weight shape reveals the fused block; 16 -> 16 at 8px needs the option
    fused = load_genforce_checkpoint(tmp_path / "fused.pth", device="cpu", fused_scale=True)
    torch.testing.assert_close(fused.generate(z), expected, rtol=1e-4, atol=1e-4)
    legacy = load_genforce_checkpoint(tmp_path / "fused_ifg.pth", device="cpu")  # fusing is in the key names
    torch.testing.assert_close(legacy.generate(z), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(InterfaceGANError, match="contradicting fused_scale"):
        load_genforce_checkpoint(tmp_path / "fused_ifg.pth", device="cpu", fused_scale=False)


def test_lod_selects_a_lower_resolution_output(tiny, tmp_path):
    _, sd = tiny
    torch.save({**sd, "lod": torch.tensor(1.0)}, tmp_path / "lod1.pth")
    model = load_genforce_checkpoint(tmp_path / "lod1.pth", device="cpu")
    z = z_codes()
    out = model.generate(z)
    assert out.shape == (4, 3, 16, 16)
    torch.testing.assert_close(out, reference_pggan(sd, z, lod=1), rtol=1e-4, atol=1e-4)
    torch.save({**sd, "lod": torch.tensor(5.0)}, tmp_path / "lod5.pth")
    with pytest.raises(InterfaceGANError, match="lod=5"):
        load_genforce_checkpoint(tmp_path / "lod5.pth", device="cpu")


# ---- containers and detection -------------------------------------------------------------------------------
def test_containers_pick_the_smoothed_generator_like_sefa(tiny, tmp_path):
    _, sd = tiny
    _, other = build_random_pggan(**SMALL, seed=11)
    torch.save({"generator": other, "generator_smooth": sd, "discriminator": {"x": torch.zeros(1)}}, tmp_path / "a.pth")
    torch.save({"models": {"generator_smooth": sd}, "running_metadata": {"iter": 3}}, tmp_path / "b.pth")
    z = z_codes()
    expected = reference_pggan(sd, z)
    for name in ("a.pth", "b.pth"):
        model = load_genforce_checkpoint(tmp_path / name, device="cpu")
        torch.testing.assert_close(model.generate(z), expected, rtol=1e-4, atol=1e-4)
    raw = load_genforce_checkpoint(tmp_path / "a.pth", device="cpu", generator_key="generator")
    torch.testing.assert_close(raw.generate(z), reference_pggan(other, z), rtol=1e-4, atol=1e-4)
    assert raw.info.extra["weights"] == "generator"


def test_is_genforce_checkpoint(tiny):
    _, sd = tiny
    assert is_genforce_checkpoint(sd)
    assert is_genforce_checkpoint({"generator_smooth": sd, "generator": sd})
    assert is_genforce_checkpoint(to_interfacegan_layout(sd))
    assert not is_genforce_checkpoint({"main.0.weight": torch.zeros(100, 512, 4, 4)})  # the DCGAN
    assert not is_genforce_checkpoint({"g_ema": {"style.1.weight": torch.zeros(4, 4)}})
    assert not is_genforce_checkpoint([1, 2, 3])


# ---- bad files: one line naming the file and what is wrong --------------------------------------------------
class RunsCode:
    """An object whose unpickling would run a shell command (a checkpoint that smuggles code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _error(path, **options) -> str:
    with pytest.raises(InterfaceGANError) as info:
        load_genforce_checkpoint(path, device="cpu", **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_code_carrying_checkpoint_is_refused_without_running(tiny, tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    torch.save({"generator": tiny[1], "hook": RunsCode(marker)}, path)
    message = _error(path)
    assert str(path) in message and "system" in message and "run code" in message
    assert not marker.exists()


def test_corrupt_truncated_and_missing_files(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.pth").write_bytes(np.random.default_rng(0).bytes(4000))
    (tmp_path / "empty.pth").write_bytes(b"")
    for name in ("cut.pth", "noise.pth", "empty.pth"):
        message = _error(tmp_path / name)
        assert str(tmp_path / name) in message and "corrupt" in message
    assert "not found" in _error(tmp_path / "absent.pth")


def test_wrong_keys_shapes_and_values_are_named(tiny, tmp_path):
    _, sd = tiny
    cases = {
        "unknown.pth": ({"foo": torch.zeros(3)}, "unknown checkpoint layout"),
        "missing.pth": ({k: v for k, v in sd.items() if k != "layer3.bias"}, "missing layer3.bias"),
        "extra.pth": ({**sd, "layer9.gamma": torch.zeros(2)}, "unexpected layer9.gamma"),
        "shape.pth": ({**sd, "layer3.bias": torch.zeros(5)}, "'layer3.bias' has shape (5,)"),
        "nan.pth": ({**sd, "layer1.weight": sd["layer1.weight"] * float("nan")}, "NaN"),
        "notensor.pth": ({**sd, "note": "hello"}, "not tensors: note"),
    }
    for name, (content, expected) in cases.items():
        torch.save(content, tmp_path / name)
        message = _error(tmp_path / name)
        assert str(tmp_path / name) in message and expected in message, message


def test_options_are_checked(saved):
    assert "not a stylegan" in _error(saved, family="stylegan")
    assert "16x16 pggan, not 32" in _error(saved, resolution=32)
    assert "unknown option(s) colour" in _error(saved, colour="red")
    model = load_genforce_checkpoint(saved, device="cpu", family="pggan", resolution=16, final_tanh=True)
    assert model.generate(z_codes()).abs().max() <= 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(saved):
    z = z_codes()
    cpu = load_genforce_checkpoint(saved, device="cpu").generate(z)
    gpu = load_genforce_checkpoint(saved, device="cuda").generate(z).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)
