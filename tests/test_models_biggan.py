"""BigGAN-deep in the pytorch-pretrained-biggan format, checked against that package's own forward pass.

`make test` installs `pytorch-pretrained-biggan` without its dependencies (boto3, requests, tqdm serve only its
downloads): its model module is imported here with inert stand-ins for them, so nothing can reach the network.
A tiny random BigGAN is built from a config by the package, saved as the package's converter saves it (a folder
with config.json and pytorch_model.bin, in torch's legacy format as the published files are), and our loader's
images are compared with the package's `eval()` forward.
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models import load_model
from interfacegan.models.base import Truncation

TINY = dict(output_dim=32, z_dim=8, class_embed_dim=8, channel_width=4, num_classes=10,
            layers=[(False, 16, 16), (True, 16, 8), (True, 8, 4), (True, 4, 2), (False, 2, 1)],
            attention_layer_position=2, eps=1e-4, n_stats=51)  # fmt: skip


@pytest.fixture(scope="module")
def package():
    """pytorch_pretrained_biggan's model and config modules (download helpers stubbed)."""
    stubs = {}
    for name in ("boto3", "botocore", "botocore.exceptions", "requests", "tqdm"):
        try:
            __import__(name)
        except ImportError:
            stubs[name] = types.ModuleType(name)
    if "botocore.exceptions" in stubs:
        stubs["botocore.exceptions"].ClientError = type("ClientError", (Exception,), {})
    if "tqdm" in stubs:
        stubs["tqdm"].tqdm = None
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        model = pytest.importorskip("pytorch_pretrained_biggan.model", reason="make test installs it (Makefile)")
        config = pytest.importorskip("pytorch_pretrained_biggan.config")
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
    return model, config


def random_biggan(package, seed=0, **overrides):
    model_mod, config_mod = package
    cfg = config_mod.BigGANConfig(**{**TINY, **overrides})
    torch.manual_seed(seed)
    net = model_mod.BigGAN(cfg)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if name.endswith(("bias", "gamma")) else 1.0))
        for name, b in net.named_buffers():
            if name.endswith("running_means"):
                b.copy_(torch.randn_like(b) * 0.3)
            elif name.endswith("running_vars"):
                b.copy_(torch.rand_like(b) + 0.5)
        for module in net.modules():  # converged power iteration, as in the published files: sigma ~ ||W||_2
            if hasattr(module, "weight_orig"):
                matrix = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                u = torch.nn.functional.normalize(torch.randn(matrix.shape[0]), dim=0)
                for _ in range(30):
                    v = torch.nn.functional.normalize(matrix.t() @ u, dim=0)
                    u = torch.nn.functional.normalize(matrix @ v, dim=0)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
    return net.eval(), cfg


def save_biggan(net, cfg, folder, legacy=True):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy)
    (folder / "config.json").write_text(cfg.to_json_string())
    return folder


@pytest.fixture(scope="module")
def tiny(package, tmp_path_factory):
    net, cfg = random_biggan(package)
    return net, save_biggan(net, cfg, tmp_path_factory.mktemp("biggan") / "biggan-deep-tiny")


def reference(net, z, class_idx, truncation):
    label = torch.zeros(len(z), net.config.num_classes)
    label[:, class_idx] = 1
    with torch.no_grad():
        return net(torch.as_tensor(z), label, truncation)


@pytest.mark.parametrize("truncation", [0.4, 1.0, 0.415])  # stats: row 20, row 50, 0.75 row 20 + 0.25 row 21
def test_images_match_the_package_forward(tiny, truncation):
    net, folder = tiny
    model = load_model(f"biggan:{folder}?class_idx=3&truncation={truncation}", device="cpu")
    assert (model.resolution, model.z_dim, model.spaces) == (32, 8, ("z",))
    z = model.sample(4, seed=1)
    expected = reference(net, z, 3, truncation)
    ours = model.generate(z)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    assert expected.std() > 0.05
    other = load_model(f"biggan:{folder}?class_idx=5&truncation={truncation}", device="cpu")
    assert (other.generate(z) - ours).abs().max() > 1e-3  # the class matters


def test_truncated_codes_are_bounded_recorded_and_resumable(tiny):
    _, folder = tiny
    model = load_model(f"{folder}?class_idx=4", device="cpu")  # bare folder: detected; the default truncation ...
    assert model.class_idx == 4 and "class_idx=4" in model.spec and "truncation=0.4" in model.spec  # ... recorded
    z = model.sample(1030, seed=7)
    assert np.abs(z).max() <= 2 * 0.4 + 1e-6 and np.abs(z).max() > 0.7
    np.testing.assert_array_equal(model.sample(20, seed=7, start=1010), z[1010:1030])
    again = load_model(model.spec, device="cpu")
    np.testing.assert_array_equal(again.synthesize(z[:3]), model.synthesize(z[:3]))
    info = model.info.as_dict()
    assert info["class_idx"] == model.class_idx and info["truncation"] == 0.4 and info["family"] == "biggan"
    with pytest.raises(InterfaceGANError, match=r"\?class_idx=4&truncation=0.5"):
        model.synthesize(z[:2], truncation=Truncation(0.5))


def test_default_class_needs_an_imagenet_sized_model(package, tmp_path):
    net, cfg = random_biggan(package, num_classes=300)
    folder = save_biggan(net, cfg, tmp_path / "classes300", legacy=False)
    model = load_model(f"biggan:{folder / 'pytorch_model.bin'}", device="cpu")
    assert model.class_idx == 207
    z = model.sample(2)
    torch.testing.assert_close(model.generate(z), reference(net, z, 207, 0.4), rtol=1e-5, atol=1e-5)


def test_first_affine_is_the_z_part_of_every_weight_z_enters(tiny):
    net, folder = tiny
    model = load_model(f"biggan:{folder}?class_idx=1", device="cpu")
    reference(net, np.zeros((1, 8), np.float32), 1, 1.0)  # runs the package's spectral-norm hooks (eval: no update)
    gen = net.generator
    blocks = [layer for layer in gen.layers if hasattr(layer, "bn_0")]
    assert model.num_affine_layers == 1 + len(blocks) == 6
    expected = [gen.gen_z.weight[:, :8]]
    for block in blocks:
        for i in range(4):
            bn = getattr(block, f"bn_{i}")
            expected += [bn.scale.weight[:, :8], bn.offset.weight[:, :8]]
    torch.testing.assert_close(model.first_affine(), torch.cat(expected).detach(), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model.first_affine("0"), gen.gen_z.weight[:, :8].detach(), rtol=1e-6, atol=1e-7)
    block_2 = model.first_affine("3")
    assert block_2.shape == (8 * blocks[2].bn_0.scale.weight.shape[0] // 4 * 0 + 2 * sum(
        getattr(blocks[2], f"bn_{i}").scale.weight.shape[0] for i in range(4)), 8)  # fmt: skip
    with pytest.raises(InterfaceGANError, match="out of range"):
        model.first_affine("6")


def test_bad_configs_and_options_are_one_line(tiny, tmp_path):
    _, folder = tiny
    good = json.loads((folder / "config.json").read_text())
    bad = {
        "layers_type": {**good, "layers": "deep"},
        "z_dim_str": {**good, "z_dim": "8"},
        "huge_width": {**good, "channel_width": 10**9},
        "unchained": {**good, "layers": [[False, 16, 16], [True, 4, 2]]},
        "nested": "[" * 100_000,
        "resolution": {**good, "output_dim": 64},
        "shapes": {**good, "channel_width": 8},
    }
    weights = (folder / "pytorch_model.bin").read_bytes()
    for name, config in bad.items():
        case = tmp_path / name
        case.mkdir()
        (case / "pytorch_model.bin").write_bytes(weights)
        (case / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
        with pytest.raises(InterfaceGANError) as info:
            load_model(f"biggan:{case}", device="cpu")
        assert str(case) in str(info.value) and "\n" not in str(info.value), name
    for spec, message in ((f"biggan:{folder}?class_idx=10", "out of range"), (str(folder), "pass class_idx"),
                          (f"biggan:{folder}?class_idx=1&truncation=0", r"\(0, 1\]"),
                          (f"biggan:{folder}?psi=1", "unknown option"), (f"biggan:{tmp_path}", "not a BigGAN"),
                          (f"stylegan2:{folder / 'pytorch_model.bin'}", "cannot hold a stylegan2")):  # fmt: skip
        with pytest.raises(InterfaceGANError, match=message):
            load_model(spec, device="cpu")


def test_sampling_a_run_resumes_bit_identically(tiny, tmp_path):
    from interfacegan.sampling import sample_to_store

    _, folder = tiny
    model = load_model(f"biggan:{folder}?class_idx=2", device="cpu")
    whole = sample_to_store(model, tmp_path / "whole", num=40, seed=3, save_images=True, chunk_rows=16, progress=False)
    part = sample_to_store(model, tmp_path / "part", num=40, seed=3, save_images=True, chunk_rows=16, shard=(0, 2),
                           progress=False)  # fmt: skip
    part = sample_to_store(model, tmp_path / "part", num=40, seed=3, save_images=True, chunk_rows=16, progress=False)
    np.testing.assert_array_equal(part.codes("z"), whole.codes("z"))
    assert part.meta["model"] == model.spec and "class_idx=2" in part.meta["model"]
    with pytest.raises(InterfaceGANError, match="BigGAN's truncation is part of its spec"):  # before any store exists
        sample_to_store(model, tmp_path / "psi", num=40, truncation=Truncation(0.7), progress=False)
    assert not (tmp_path / "psi").exists()
