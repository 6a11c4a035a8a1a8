"""Feed-forward editing (TPAMI Sec. 6.2): synthetic pairs, identity + fine-tuned networks, DNI, files, commands.

Known answers: a hand-made scorer whose scores the test recomputes from the pair images, pixel transforms the
network must learn (brighten by a constant), and weight interpolation checked against networks built by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from interfacegan.directions.boundary import Boundary
from interfacegan.cli import app
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.scoring.base import Scorer
from interfacegan.translation import (
    NetworkConfig,
    Translator,
    build_network,
    finetune,
    interpolate_state_dicts,
    l1_error,
    make_pairs,
    new_network,
    select_largest_change,
    train_identity,
    train_translator,
)
from tests.helpers import cli_error

runner = CliRunner()
SMALL = NetworkConfig(resolution=8, width=8, max_width=16)


class MeanScorer(Scorer):
    """'light' = sum of the pixel values (an integer, exact in float32): the test recomputes it from the images."""

    name = "mean"

    @property
    def outputs(self):
        return {"light": (), "other": ()}

    def score(self, images, indices=None):
        light = images.astype(np.float64).sum(axis=(1, 2, 3))
        return {"light": light.astype(np.float32), "other": np.zeros(len(images), np.float32)}


def _images(model, num, seed):
    return model.synthesize(model.sample(num, seed=seed))


def _brighten(images, amount=40):
    return np.clip(images.astype(np.int16) + amount, 0, 255).astype(np.uint8)


# ---- DNI -------------------------------------------------------------------------------------------------------
def test_dni_end_points_are_the_two_networks_and_the_middle_is_the_averaged_weights():
    a, b = new_network(SMALL, seed=1).state_dict(), new_network(SMALL, seed=2).state_dict()
    translator = Translator(SMALL, a, b, device="cpu")
    x = torch.rand(5, 3, 8, 8) * 2 - 1

    def built(state):
        net = build_network(SMALL).eval()
        net.load_state_dict(state)
        with torch.no_grad():
            return net(x)

    assert torch.equal(translator.translate_tensor(x, 0.0), built(a))
    assert torch.equal(translator.translate_tensor(x, 1.0), built(b))
    averaged = {k: (a[k] + b[k]) / 2 for k in a}
    assert torch.allclose(translator.translate_tensor(x, 0.5), built(averaged), atol=1e-6)
    assert not torch.allclose(built(a), built(b), atol=1e-3)  # the two networks really differ
    mixed = interpolate_state_dicts(a, b, 0.25)
    assert all(torch.allclose(mixed[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-7) for k in a)


def test_dni_refuses_networks_of_different_architectures():
    wide = new_network(NetworkConfig(8, width=16, max_width=16)).state_dict()
    deep = new_network(NetworkConfig(32, width=8, max_width=16)).state_dict()  # one more level: other keys
    small = new_network(SMALL).state_dict()
    with pytest.raises(InterfaceGANError, match="different architectures") as shapes:
        interpolate_state_dicts(small, wide, 0.5)
    assert "\n" not in str(shapes.value)
    with pytest.raises(InterfaceGANError, match="different architectures"):
        interpolate_state_dicts(small, deep, 0.5)
    with pytest.raises(InterfaceGANError, match="different architectures"):
        Translator(SMALL, small, wide)
    with pytest.raises(InterfaceGANError, match="do not fit the network config"):
        Translator(SMALL, wide, wide)
    with pytest.raises(InterfaceGANError, match="outside"):
        Translator(SMALL, small, small).translate(np.zeros((1, 8, 8, 3), np.uint8), [2.5])
    with pytest.raises(InterfaceGANError, match="8x8"):
        Translator(SMALL, small, small).translate(np.zeros((1, 16, 16, 3), np.uint8))


# ---- pairs -----------------------------------------------------------------------------------------------------
def test_pairs_are_the_latent_edit_and_do_not_depend_on_the_batch_size(toy_generator):
    direction = toy_generator.true_normal(1)
    pairs = make_pairs(toy_generator, direction, alpha=2.0, num=30, seed=4, batch_size=7)
    z = toy_generator.sample(30, seed=4)
    assert np.array_equal(pairs.codes, z) and pairs.change is None and len(pairs) == 30
    assert np.array_equal(pairs.before, toy_generator.synthesize(z))
    assert np.array_equal(pairs.after, toy_generator.synthesize(z + 2.0 * direction))
    again = make_pairs(toy_generator, direction, alpha=2.0, num=30, seed=4, batch_size=64)
    assert np.array_equal(again.after, pairs.after)


def test_selection_keeps_exactly_the_pairs_whose_score_changed_most(toy_generator):
    direction = np.random.default_rng(0).standard_normal(toy_generator.z_dim).astype(np.float32)
    every = make_pairs(toy_generator, direction, alpha=1.5, num=50, seed=2)
    change = every.after.astype(np.float64).sum(axis=(1, 2, 3)) - every.before.astype(np.float64).sum(axis=(1, 2, 3))
    expected = np.sort(np.argsort(-change, kind="stable")[:15])
    kept = make_pairs(toy_generator, direction, alpha=1.5, num=50, seed=2, keep=0.3, scorer=MeanScorer(),
                      attribute="light")
    assert np.array_equal(kept.rows, expected) and np.array_equal(kept.change, change[expected])
    assert np.array_equal(kept.before, every.before[expected]) and np.array_equal(kept.after, every.after[expected])
    assert kept.change.min() > np.median(change)  # the selection is not trivially all pairs
    fell = make_pairs(toy_generator, direction, alpha=-1.5, num=50, seed=2)
    drop = fell.after.astype(np.float64).sum(axis=(1, 2, 3)) - fell.before.astype(np.float64).sum(axis=(1, 2, 3))
    down = make_pairs(toy_generator, direction, alpha=-1.5, num=50, seed=2, keep=0.3, scorer=MeanScorer(),
                      attribute="light")
    assert np.array_equal(down.rows, np.sort(np.argsort(drop, kind="stable")[:15]))  # a negative edit: largest drops
    with pytest.raises(InterfaceGANError, match="no attribute 'smile'"):
        make_pairs(toy_generator, direction, num=4, scorer=MeanScorer(), attribute="smile")
    with pytest.raises(InterfaceGANError, match="needs a scorer"):
        make_pairs(toy_generator, direction, num=4, keep=0.5)


def test_select_largest_change_follows_the_sign_and_never_keeps_nan():
    change = np.array([1.0, np.nan, 5.0, -2.0, 3.0])
    assert select_largest_change(change, 0.4).tolist() == [2, 4]
    assert select_largest_change(change, 0.4, sign=-1.0).tolist() == [0, 3]
    assert select_largest_change(change, 0.01).tolist() == [2]  # at least one
    with pytest.raises(InterfaceGANError, match="could be scored"):
        select_largest_change(change, 1.0)


def test_edit_direction_must_fit_the_model(toy_generator):
    with pytest.raises(InterfaceGANError, match="does not fit"):
        make_pairs(toy_generator, np.ones(5), num=2)
    other = Boundary(normal=np.ones(16), attribute="x", model="dcgan-digiface")
    with pytest.raises(InterfaceGANError, match="belongs to model"):
        make_pairs(toy_generator, other, num=2)


# ---- training --------------------------------------------------------------------------------------------------
def test_identity_training_reduces_the_l1_loss(toy_generator):
    images = _images(toy_generator, 64, seed=0)
    held_out = _images(toy_generator, 32, seed=1)
    net = new_network(SMALL, seed=0)

    def run(batch):
        with torch.no_grad():
            from interfacegan.inversion import to_model_tensor
            from interfacegan.models import to_uint8

            return to_uint8(net(to_model_tensor(batch)))

    before = l1_error(run, held_out, held_out)
    log = train_identity(net, images, steps=80, batch_size=16, lr=3e-3)
    assert len(log.losses) == 80
    assert log.mean(last=10) < log.mean(first=10) / 3
    assert l1_error(run, held_out, held_out) < before / 3


def test_finetuning_learns_a_known_pixel_transform_and_dni_makes_it_gradual(toy_generator):
    images, held_out = _images(toy_generator, 96, seed=0), _images(toy_generator, 32, seed=5)
    identity = new_network(SMALL, seed=0)
    train_identity(identity, images, steps=80, batch_size=16, lr=3e-3)
    edited, log = finetune(identity, images, _brighten(images), steps=120, batch_size=16, lr=3e-3)
    assert log.mean(last=10) < log.mean(first=10) / 2
    translator = Translator(SMALL, identity.state_dict(), edited.state_dict(), attribute="light", device="cpu")
    target = _brighten(held_out)
    baseline = l1_error(lambda x: translator.translate(x, [0.0])[:, 0], held_out, target)
    learned = l1_error(lambda x: translator.translate(x, [1.0])[:, 0], held_out, target)
    assert baseline > 30 and learned < baseline / 4, (baseline, learned)
    # the identity network was not changed by fine-tuning a copy
    assert l1_error(lambda x: translator.translate(x, [0.0])[:, 0], held_out, held_out) < 8
    light = translator.translate(held_out, [0.0, 0.5, 1.0]).astype(np.float64).mean(axis=(0, 2, 3, 4))
    assert light[0] < light[1] < light[2]


def test_train_translator_runs_the_pipeline_and_the_file_round_trips(toy_generator, tmp_path):
    direction = Boundary(normal=toy_generator.true_normal(0), attribute="attr0", model="toy")
    translator = train_translator(toy_generator, direction, alpha=2.0, num=64, keep=0.5, scorer="toy",
                                  identity_steps=20, steps=20, width=8, held_out=16)  # fmt: skip
    assert translator.attribute == "attr0" and translator.model == "toy"
    assert translator.training["pairs"] == 32 and set(translator.metrics) == {"held_out", "psnr", "psnr_unedited"}
    path = translator.save(tmp_path / "tr.pt")
    loaded = Translator.load(path, device="cpu")
    images = _images(toy_generator, 6, seed=9)
    assert np.array_equal(loaded.translate(images, [0, 0.5, 1]), translator.translate(images, [0, 0.5, 1]))
    assert loaded.config == translator.config and loaded.metrics == translator.metrics
    assert loaded.training == translator.training and loaded.attribute == "attr0"


@pytest.mark.parametrize("interrupt_at", [7, 23])  # Adam steps: inside the identity stage, inside fine-tuning
def test_interrupted_training_resumes_bit_identical(toy_generator, tmp_path, monkeypatch, interrupt_at):
    direction = Boundary(normal=toy_generator.true_normal(0), attribute="attr0", model="toy")
    options = dict(alpha=2.0, num=32, identity_steps=12, steps=14, width=8, held_out=0, checkpoint_every=5)
    reference = train_translator(toy_generator, direction, **options)
    checkpoint = tmp_path / "tr.pt.ckpt"
    calls, adam_step = [0], torch.optim.Adam.step

    def step_then_interrupt(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == interrupt_at:
            raise KeyboardInterrupt  # like Ctrl-C in the middle of a step
        return adam_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", step_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            train_translator(toy_generator, direction, checkpoint=checkpoint, **options)
    assert checkpoint.exists()
    with pytest.raises(InterfaceGANError, match="other settings"):
        train_translator(toy_generator, direction, checkpoint=checkpoint, **{**options, "alpha": 3.0})
    counted = [0]

    def counting_step(self, *args, **kwargs):
        counted[0] += 1
        return adam_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", counting_step)
        resumed = train_translator(toy_generator, direction, checkpoint=checkpoint, **options)
    assert counted[0] == 12 + 14 - (interrupt_at - 1)  # only the steps the interrupted run had not finished
    assert not checkpoint.exists()
    for name in ("identity", "edited"):
        for key, value in getattr(reference, name).items():
            assert torch.equal(getattr(resumed, name)[key], value), (name, key)
    assert resumed.training == reference.training


# ---- commands --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A translator of the toy generator trained by the command line, and two of its images, for the module."""
    generator = ToyGenerator()  # what conftest's toy_generator builds, once for the module
    folder = tmp_path_factory.mktemp("translate")
    Boundary(normal=generator.true_normal(0), attribute="attr0", model="toy").save(folder / "b.npz")
    result = runner.invoke(app, ["train-translator", "--boundary", str(folder / "b.npz"), "--num", "64",
                                 "--identity-steps", "10", "--steps", "10", "--width", "8", "--quiet",
                                 "--out", str(folder / "tr.pt")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out PSNR" in result.output
    for i, image in enumerate(_images(generator, 2, seed=3)):
        Image.fromarray(image).save(folder / f"face{i}.png")
    return folder


def test_translate_writes_every_strength_and_a_strip(trained, tmp_path):
    out = tmp_path / "out"
    files = [str(trained / "face0.png"), str(trained / "face1.png")]
    result = runner.invoke(app, ["translate", *files, "--translator", str(trained / "tr.pt"), "--strength", "0,0.5",
                                 "--strength", "1", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "edited 2 images with" in " ".join(result.output.split())  # not "2 image(s)"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{i:03d}_face{i}_{s}.png" for i in (0, 1) for s in ("t0", "t0.5", "t1", "strip"))
    translator = Translator.load(trained / "tr.pt", device="cpu")
    expected = translator.translate(np.asarray(Image.open(trained / "face1.png")), [0.5])[0, 0]
    assert np.array_equal(np.asarray(Image.open(out / "001_face1_t0.5.png")), expected)


def test_translate_errors_are_one_line(trained, tmp_path, monkeypatch, capsys):
    face, out = trained / "face0.png", tmp_path / "out"
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 definitely not a torch archive")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    for bad in ("corrupt.pt", "other.pt"):
        message = cli_error(monkeypatch, capsys, "translate", face, "--translator", tmp_path / bad, "--out", out)
        assert bad in message and "train-translator" in message
    message = cli_error(monkeypatch, capsys, "translate", face, "--translator", tmp_path / "none.pt", "--out", out)
    assert "does not exist" in message
    Image.new("RGB", (20, 12), (9, 9, 9)).save(tmp_path / "big.png")
    message = cli_error(monkeypatch, capsys, "translate", tmp_path / "big.png", "--translator", trained / "tr.pt",
                        "--out", out)  # fmt: skip
    assert "20x12" in message and "--resize" in message
    message = cli_error(monkeypatch, capsys, "translate", face, "--translator", trained / "tr.pt", "--strength", "x",
                        "--out", out)  # fmt: skip
    assert "bad --strength 'x'" in message
    assert not out.exists()
    result = runner.invoke(app, ["translate", str(tmp_path / "big.png"), "--translator", str(trained / "tr.pt"),
                                 "--resize", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    message = cli_error(monkeypatch, capsys, "train-translator", "--boundary", trained / "b.npz", "--out",
                        trained / "tr.pt")  # fmt: skip
    assert "exists" in message and "--force" in message
    message = cli_error(monkeypatch, capsys, "train-translator", "--boundary", trained / "b.npz", "--out",
                        tmp_path / "new.pt", "--checkpoint-every", "0")  # fmt: skip
    assert "--checkpoint-every must be positive" in message and not (tmp_path / "new.pt").exists()


def test_translate_align_frames_faces_like_the_translators_model(trained, monkeypatch, capsys, tmp_path):
    """--align loads the model the translator was trained on for its face framing; the toy model draws no faces,
    so the command must say so in one line instead of editing a misframed image."""
    message = cli_error(monkeypatch, capsys, "translate", trained / "face0.png", "--translator", trained / "tr.pt",
                        "--align", "--out", tmp_path / "out")  # fmt: skip
    assert "--align is for face models" in message
    assert not (tmp_path / "out").exists()
