"""GAN inversion: image loading, losses, face alignment, optimisation, the encoder, and the three commands.

Known answers come from the toy generator (linear then tanh: its codes are recoverable from its images) and from
images the embedded face GAN synthesized itself (an exact inverse exists).
"""

from __future__ import annotations

import contextlib
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from interfacegan.directions.boundary import Boundary
from interfacegan.cli import app
from tests.helpers import cli_error
from interfacegan.errors import InterfaceGANError
from interfacegan.inversion import (
    Encoder,
    ReconstructionLoss,
    center_crop_resize,
    encode,
    invert,
    load_images,
    mean_code,
    psnr,
    pyramid_l1,
    read_image,
    ssim,
    to_model_tensor,
    train_encoder,
)
from interfacegan.inversion import encoder as encoder_module
from interfacegan.inversion.align import align_face, detect_landmarks, face_template, similarity_transform
from interfacegan.models import ToyGenerator, load_model

runner = CliRunner()
SMALL = {"width": 8, "max_width": 16, "hidden": 64}  # a toy-sized encoder


@contextlib.contextmanager
def one_thread():
    """Inversion runs hundreds of small steps: one thread avoids OpenMP hand-offs that stall on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def dcgan():
    return load_model("dcgan-digiface", device="cpu")


@pytest.fixture(scope="module")
def toy_encoder():
    """An encoder of the toy generator (conftest's `toy_generator`), trained once for the module."""
    with one_thread():
        return train_encoder(ToyGenerator(), steps=300, batch_size=32, lr=3e-3, space="z", image_weight=0.5, **SMALL)


# ---- images ---------------------------------------------------------------------------------------------------
def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(InterfaceGANError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InterfaceGANError, match=r"cannot read image .*notes\.png"):
        read_image(tmp_path / "notes.png")
    with pytest.raises(InterfaceGANError, match="not a file"):
        read_image(tmp_path)
    data = (tmp_path / "cut.jpg")
    Image.new("RGB", (64, 64), (9, 9, 9)).save(data)
    data.write_bytes(data.read_bytes()[:40])  # truncated
    with pytest.raises(InterfaceGANError, match="cannot read image"):
        read_image(data)


def test_read_image_converts_modes_and_applies_exif_rotation(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # fully transparent red -> white
    assert np.all(np.asarray(read_image(tmp_path / "clear.png")) == 255)
    grey16 = Image.fromarray(np.full((4, 4), 65535 // 2, np.uint16))
    grey16.save(tmp_path / "g16.png")
    assert np.abs(np.asarray(read_image(tmp_path / "g16.png")).astype(int) - 128).max() <= 1
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: rotate 90 degrees clockwise to view
    Image.new("RGB", (40, 20), (10, 200, 30)).save(tmp_path / "side.jpg", exif=exif)
    assert read_image(tmp_path / "side.jpg").size == (20, 40)


def test_center_crop_keeps_the_middle_square_and_to_tensor_inverts_to_uint8():
    image = np.zeros((30, 90, 3), np.uint8)
    image[:, 30:60] = (200, 100, 50)  # the central 30x30 square
    out = center_crop_resize(Image.fromarray(image), 10)
    assert out.shape == (10, 10, 3) and np.all(out == (200, 100, 50))
    tensor = to_model_tensor(out[None])
    assert tensor.shape == (1, 3, 10, 10) and float(tensor.min()) >= -1 and float(tensor.max()) <= 1
    from interfacegan.models import to_uint8

    assert np.array_equal(to_uint8(tensor), out[None])


def test_load_images_stacks_files_at_the_model_size(tmp_path):
    for i, size in enumerate([(50, 80), (120, 60)]):
        Image.new("RGB", size, (i * 100, 0, 0)).save(tmp_path / f"{i}.png")
    images = load_images([tmp_path / "0.png", tmp_path / "1.png"], 16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert images[1, ..., 0].min() == 100
    with pytest.raises(InterfaceGANError, match="template"):
        load_images([tmp_path / "0.png"], 16, align=True)


# ---- losses ---------------------------------------------------------------------------------------------------
def test_losses_against_hand_computed_values():
    x = torch.zeros(2, 3, 16, 16)
    y = x + 0.1
    assert torch.allclose(psnr(x, y), torch.full((2,), 10 * math.log10(4 / 0.01)), atol=1e-4)
    assert torch.allclose(pyramid_l1(x, y), torch.full((2,), 0.1), atol=1e-6)  # a constant offset at every scale
    noise = torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.allclose(ssim(noise, noise), torch.ones(2), atol=1e-5)
    assert float(ssim(noise, -noise).max()) < 0.5
    loss = ReconstructionLoss(mse=1.0, pyramid=0.0)
    assert torch.allclose(loss(x, y), torch.full((2,), 0.01))
    with pytest.raises(InterfaceGANError, match="mse must be >= 0"):
        ReconstructionLoss(mse=-1.0)
    with pytest.raises(InterfaceGANError, match="loss weights"):
        ReconstructionLoss(mse=0.0, pyramid=0.0)


# ---- optimisation ---------------------------------------------------------------------------------------------
def test_toy_inversion_recovers_the_code(toy_generator):
    z = toy_generator.sample(4, seed=7)
    with torch.no_grad():
        exact = toy_generator.generate(torch.from_numpy(z))
    result = invert(toy_generator, exact, space="z", steps=150, prior_weight=0.0, init="mean")
    assert result.codes.shape == (4, 16) and result.space == "z" and result.init == "mean"
    assert np.abs(result.codes - z).max() < 0.02
    assert result.psnr.min() > 60
    assert result.losses.shape == (151, 4) and np.all(result.losses[-1] < result.losses[0] / 100)
    # uint8 images lose a little precision, the codes stay close
    rounded = invert(toy_generator, toy_generator.synthesize(z), space="z", steps=150, prior_weight=0.0)
    assert rounded.init == "search" and np.abs(rounded.codes - z).max() < 0.05
    assert np.array_equal(rounded.reconstructions, toy_generator.synthesize(rounded.codes))


def test_search_streams_its_candidates_a_batch_at_a_time(toy_generator, monkeypatch):
    """--init search with a huge --candidates once sampled every candidate up front (10**9 codes: killed for
    memory); it draws one batch of the seed's sequence at a time and still finds the exact sample."""
    from interfacegan.inversion.optimize import search_codes

    z = toy_generator.sample(300, seed=5)
    with torch.no_grad():
        targets = toy_generator.generate(torch.from_numpy(z[[217, 3]]))
    asked = []
    sample = toy_generator.sample
    monkeypatch.setattr(toy_generator, "sample", lambda n, seed=0, start=0: asked.append(n) or sample(n, seed, start))
    found = search_codes(toy_generator, targets, "z", ReconstructionLoss(), num=300, seed=5, batch_size=64)
    assert np.array_equal(found.numpy(), z[[217, 3]]) and max(asked) == 64 and sum(asked) == 300


def test_inversion_is_deterministic_and_batch_independent(toy_generator):
    images = toy_generator.synthesize(toy_generator.sample(5, seed=1))
    a = invert(toy_generator, images, space="z", steps=40, seed=3, batch_size=5)
    b = invert(toy_generator, images, space="z", steps=40, seed=3, batch_size=5)
    c = invert(toy_generator, images, space="z", steps=40, seed=3, batch_size=2)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.losses, b.losses)
    assert np.allclose(a.codes, c.codes, atol=1e-4)


def test_style_spaces_start_at_w_avg_and_spread_weight_ties_layers(toy_generator):
    from interfacegan.models.checkpoints import build_random

    style = build_random("stylegan2", resolution=16, device="cpu")
    images = style.synthesize(style.sample(2, seed=4))
    start = invert(style, images, space="wp", steps=0)
    w_avg = style.w_avg.detach().cpu().numpy()
    assert start.init == "mean" and np.allclose(start.codes, np.broadcast_to(w_avg, start.codes.shape))
    assert np.allclose(mean_code(style, "w"), w_avg)
    # The toy's W+ rows are each driven by one layer, so without the spread term the layers drift apart.
    wp = toy_generator.map(toy_generator.sample(3, seed=2), "wp")
    targets = toy_generator.synthesize(wp, "wp")
    free = invert(toy_generator, targets, space="wp", steps=100)
    tied = invert(toy_generator, targets, space="wp", steps=100, spread_weight=100.0)
    spread = [float(np.mean((r.codes - r.codes.mean(1, keepdims=True)) ** 2)) for r in (free, tied)]
    assert spread[1] < spread[0] / 20
    assert tied.psnr.min() > 20


def test_dcgan_inverts_its_own_images_and_the_prior_keeps_the_norm(dcgan):
    z = dcgan.sample(4, seed=5)
    images = dcgan.synthesize(z)
    mean_image = dcgan.synthesize(dcgan.sample(256, seed=9)).astype(np.float32).mean(0)
    baseline = 10 * np.log10(255.0**2 / np.mean((images.astype(np.float32) - mean_image) ** 2, axis=(1, 2, 3)))
    with_prior = invert(dcgan, images, steps=60, num_candidates=64)
    assert with_prior.psnr.mean() > baseline.mean() + 8
    assert np.all(with_prior.psnr > baseline + 4)
    norms = np.linalg.norm(with_prior.codes, axis=1) / math.sqrt(dcgan.z_dim)
    assert np.abs(norms - 1).max() < 0.03
    free = invert(dcgan, images, steps=60, num_candidates=64, prior_weight=0.0)
    assert np.abs(np.linalg.norm(free.codes, axis=1) / math.sqrt(dcgan.z_dim) - 1).max() > 0.1


def test_invert_rejects_bad_input(toy_generator):
    images = toy_generator.synthesize(toy_generator.sample(2))
    with pytest.raises(InterfaceGANError, match="model makes 8x8"):
        invert(toy_generator, np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(InterfaceGANError, match="no latent space 'q'"):
        invert(toy_generator, images, space="q")
    with pytest.raises(InterfaceGANError, match="unknown init"):
        invert(toy_generator, images, init="magic")
    with pytest.raises(InterfaceGANError, match="needs an encoder"):
        invert(toy_generator, images, init="encoder")
    with pytest.raises(InterfaceGANError, match="one code per image"):
        invert(toy_generator, images, space="z", codes=np.zeros((3, 16), np.float32))


# ---- encoder --------------------------------------------------------------------------------------------------
def test_encoder_predicts_codes_better_than_the_mean(toy_generator, toy_encoder):
    z = toy_generator.sample(256, seed=99)
    predicted = encode(toy_encoder, toy_generator.synthesize(z))
    assert predicted.shape == (256, 16)
    assert np.mean((predicted - z) ** 2) < 0.1 * np.mean(z**2)  # the mean code (0) has error E[z^2] = 1
    metrics = toy_encoder.config.metrics
    assert metrics["held_out"] == 64 and metrics["code_rmse"] < 0.3
    # refining from the encoder's guess beats the guess
    images = toy_generator.synthesize(z[:4])
    guess = invert(toy_generator, images, steps=0, encoder=toy_encoder)
    refined = invert(toy_generator, images, steps=60, encoder=toy_encoder, prior_weight=0.0)
    assert guess.init == "encoder" and np.allclose(guess.codes, predicted[:4], atol=1e-5)
    assert refined.psnr.mean() > guess.psnr.mean() + 5


def test_encoder_file_round_trip_and_checks(tmp_path, toy_generator, toy_encoder):
    path = toy_encoder.save(tmp_path / "enc.pt")
    loaded = Encoder.load(path)
    images = toy_generator.synthesize(toy_generator.sample(8, seed=5))
    assert np.array_equal(loaded.encode(images), toy_encoder.encode(images))
    assert loaded.config == toy_encoder.config and loaded.space == "z"
    payload = torch.load(path, weights_only=True)  # plain tensors and a JSON string
    assert payload["format"] == "interfacegan-encoder" and isinstance(payload["config"], str)
    with pytest.raises(InterfaceGANError, match="predicts 'z' codes, not 'w'"):
        invert(toy_generator, images, space="w", encoder=path)
    other = ToyGenerator(z_dim=12)
    other.spec = "toy-12"
    with pytest.raises(InterfaceGANError, match="trained on model 'toy', not 'toy-12'"):
        loaded.check_fits(other)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InterfaceGANError, match="cannot read encoder"):
        Encoder.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(InterfaceGANError, match="not an interfacegan encoder"):
        Encoder.load(tmp_path / "other.pt")


def test_encoder_training_resumes_bit_exactly(tmp_path, toy_generator, monkeypatch):
    settings = dict(steps=20, batch_size=8, space="w", seed=2, **SMALL)
    straight = train_encoder(toy_generator, **settings)
    checkpoint = tmp_path / "enc.ckpt"
    real_save = encoder_module._save_checkpoint

    def save_then_stop(path, config, net, optimizer, step):
        real_save(path, config, net, optimizer, step)
        raise KeyboardInterrupt

    monkeypatch.setattr(encoder_module, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_encoder(toy_generator, checkpoint=checkpoint, checkpoint_every=10, **settings)
    monkeypatch.setattr(encoder_module, "_save_checkpoint", real_save)
    assert torch.load(checkpoint, weights_only=True)["step"] == 10
    with pytest.raises(InterfaceGANError, match="other settings"):
        train_encoder(toy_generator, checkpoint=checkpoint, **{**settings, "seed": 3})
    resumed = train_encoder(toy_generator, checkpoint=checkpoint, checkpoint_every=10, **settings)
    assert not checkpoint.exists()
    for key, value in straight.net.state_dict().items():
        assert torch.allclose(value, resumed.net.state_dict()[key], atol=1e-6), key


# ---- face alignment -------------------------------------------------------------------------------------------
def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = similarity_transform(src, src @ (scale * rot).T + shift)
    assert np.allclose(matrix[:, :2], scale * rot) and np.allclose(matrix[:, 2], shift)


def test_align_refuses_non_faces(toy_generator):
    with pytest.raises(InterfaceGANError, match="`align` is for face models; leave align unset"):
        face_template(toy_generator, num=8)
    with pytest.raises(InterfaceGANError, match="no face found in flat.png"):
        align_face(np.full((200, 200, 3), 128, np.uint8), np.full((5, 2), 0.5), 64, source="flat.png")


def test_align_puts_a_rotated_shifted_face_into_the_models_framing(dcgan):
    framing = face_template(dcgan, num=24)
    assert framing.name == "digiface"  # measured on the model's samples, snapped to the embedded GAN's preset
    samples = dcgan.synthesize(dcgan.sample(12, seed=5))
    for face in samples:  # the first sample dlib finds both as is and in a tilted, shifted, larger photo
        big = Image.fromarray(face).resize((256, 256), Image.Resampling.BICUBIC)
        photo = Image.new("RGB", (420, 360), (40, 90, 30))
        photo.paste(big.resize((300, 300)).rotate(10, resample=Image.Resampling.BICUBIC), (90, 20))
        photo = np.asarray(photo)
        if detect_landmarks(np.asarray(big), upsample=0) is not None and detect_landmarks(photo) is not None:
            break
    aligned = align_face(photo, framing, 64)
    assert aligned.shape == (64, 64, 3)

    def points(image64):
        found = detect_landmarks(np.asarray(Image.fromarray(image64).resize((256, 256), Image.Resampling.BICUBIC)))
        return np.full((5, 2), np.inf) if found is None else found / 256

    # the alignment depends on the face's landmarks only: the tilted photo lands where the sample itself does
    reference = points(align_face(np.asarray(big), framing, 64))
    assert np.abs(points(aligned) - reference).mean() < 0.015  # within 1 px at 64 px
    assert np.abs(points(center_crop_resize(Image.fromarray(photo), 64)) - reference).mean() > 0.03
    # a real photo (a portrait shipped with matplotlib): its face fills the GAN's frame like the GAN's own faces
    cbook = pytest.importorskip("matplotlib.cbook")
    portrait = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    real = load_images([portrait], 64, align=True, template=framing)
    own = np.mean([points(s) for s in samples if np.isfinite(points(s)).all()], axis=0)
    assert real.shape == (1, 64, 64, 3) and np.abs(points(real[0]) - own).mean() < 0.03
    assert np.abs(points(load_images([portrait], 64)[0]) - own).mean() > 2 * np.abs(points(real[0]) - own).mean()


# ---- commands -------------------------------------------------------------------------------------------------
@pytest.fixture
def toy_files(tmp_path, toy_generator):
    z = toy_generator.sample(2, seed=21)
    paths = []
    for i, image in enumerate(toy_generator.synthesize(z)):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths, z


def test_invert_command_writes_codes_and_sheets(tmp_path, toy_files):
    paths, z = toy_files
    out = tmp_path / "inv"
    result = runner.invoke(app, ["invert", *map(str, paths), "--model", "toy", "--space", "z", "--steps", "120",
                                 "--prior-weight", "0", "--out", str(out), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    codes = np.load(out / "codes.npy")
    assert codes.shape == (2, 16) and np.abs(codes - z).max() < 0.05
    assert Image.open(out / "comparison.png").size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)  # 2 columns, scale 2
    assert sorted(p.name for p in (out / "reconstructions").iterdir()) == ["000_img0.png", "001_img1.png"]
    import json

    summary = json.loads((out / "inversion.json").read_text())
    assert summary["model"] == "toy" and summary["space"] == "z" and summary["images"][1]["source"] == str(paths[1])
    assert summary["images"][0]["psnr"] > 40


def test_train_encoder_and_invert_with_it(tmp_path, toy_files, toy_generator):
    paths, z = toy_files
    enc = tmp_path / "enc.pt"
    args = ["train-encoder", "--model", "toy", "--space", "z", "--steps", "30", "--width", "8", "--out", str(enc),
            "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "held-out samples" in result.output and Encoder.load(enc).config.training["steps"] == 30
    assert not (tmp_path / "enc.pt.ckpt").exists()
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "--force" in str(result.exception)
    result = runner.invoke(app, [*args[:-3], "--out", str(tmp_path / "new.pt"), "--checkpoint-every", "0"])
    assert result.exit_code != 0 and "checkpoint_every must be positive" in str(result.exception)  # before loading
    with pytest.raises(InterfaceGANError, match="checkpoint_every must be positive"):
        train_encoder(toy_generator, steps=2, checkpoint_every=0)
    out = tmp_path / "inv"
    result = runner.invoke(app, ["invert", str(paths[0]), "--encoder", str(enc), "--steps", "5", "--out", str(out),
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "encoder start" in " ".join(result.output.split()) and np.load(out / "codes.npy").shape == (1, 16)
    assert "inverted 1 image into" in " ".join(result.output.split())  # not "1 image(s)"


def test_edit_image_inverts_then_edits(tmp_path, toy_files, toy_generator):
    paths, _ = toy_files
    normal = toy_generator.true_normal
    b0 = Boundary(normal=normal(0), attribute="attr0", space="z", model="toy").save(tmp_path / "a0.npz")
    b1 = Boundary(normal=normal(1), attribute="attr1", space="z", model="toy").save(tmp_path / "a1.npz")
    out = tmp_path / "edit"
    result = runner.invoke(app, ["edit-image", *map(str, paths), "--boundary", str(b0), "--condition", str(b1),
                                 "--steps", "5", "--range", "-2", "2", "--invert-steps", "60", "--scale", "1",
                                 "--out", str(out), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("grid.png", "edit.gif", "codes.npy", "comparison.png", "direction.npz", "inversion.json"):
        assert (out / name).is_file(), name
    grid = np.asarray(Image.open(out / "grid.png").convert("RGB"))
    pad, size = 2, toy_generator.resolution
    assert grid.shape[:2] == (2 * size + 3 * pad, 5 * size + 6 * pad)
    # attribute 0 lives in pixel (0, 0) of each image: it must rise along every row
    first = [[grid[pad + r * (size + pad), pad + c * (size + pad), 0] for c in range(5)] for r in range(2)]
    assert all(np.all(np.diff(np.asarray(row, int)) > 0) for row in first)
    # the saved codes can be edited again without inverting: same codes and request, same grid
    again = tmp_path / "again"
    result = runner.invoke(app, ["edit-image", "--codes", str(out / "codes.npy"), "--boundary", str(b0), "--condition",
                                 str(b1), "--steps", "5", "--range", "-2", "2", "--scale", "1", "--out", str(again)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(again / "grid.png").convert("RGB")), grid)


def test_commands_fail_with_one_line(tmp_path, toy_files, monkeypatch, capsys):
    paths, _ = toy_files
    out = tmp_path / "x"
    err = cli_error(monkeypatch, capsys, "invert", tmp_path / "nope.png", "--model", "toy", "--out", out)
    assert "nope.png does not exist" in err
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    err = cli_error(monkeypatch, capsys, "invert", tmp_path / "bad.png", "--model", "toy", "--out", out)
    assert "cannot read image" in err and "bad.png" in err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((1, 5), np.float32))
    err = cli_error(monkeypatch, capsys, "edit-image", paths[0], "--model", "toy", "--boundary", wrong, "--out", out)
    assert "dimension 5" in err
    other = Boundary(normal=np.ones(100), attribute="smile", model="dcgan-digiface").save(tmp_path / "smile.npz")
    err = cli_error(monkeypatch, capsys, "edit-image", paths[0], "--model", "toy", "--boundary", other, "--out", out)
    assert "belongs to model 'dcgan-digiface'" in err
    err = cli_error(monkeypatch, capsys, "edit-image", paths[0], "--codes", tmp_path / "c.npy", "--model", "toy",
                    "--boundary", other, "--out", out)  # fmt: skip
    assert "not both" in err
    err = cli_error(monkeypatch, capsys, "invert", paths[0], "--model", "toy", "--align", "--out", out)
    assert "--align is for face models" in err
    assert not out.exists()


def test_edit_image_codes_errors_are_one_line(tmp_path, toy_generator, monkeypatch, capsys):
    normal = toy_generator.true_normal(0)
    b0 = Boundary(normal=normal, attribute="attr0", space="z", model="toy").save(tmp_path / "a.npz")
    out = tmp_path / "x"

    def codes_error(codes):
        return cli_error(monkeypatch, capsys, "edit-image", "--codes", codes, "--boundary", b0, "--out", out)

    assert "codes file" in codes_error(tmp_path / "missing.npy") and "does not exist" in codes_error(tmp_path / "m.npy")
    np.savez(tmp_path / "codes.npz", codes=toy_generator.sample(2, seed=0))
    assert "archive of arrays" in codes_error(tmp_path / "codes.npz")
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "codes.npy", toy_generator.sample(2, seed=0))
    (run / "inversion.json").write_text("{not json")
    assert "not valid JSON" in codes_error(run / "codes.npy")
    (run / "inversion.json").write_text(json.dumps({"space": "w", "model": "toy"}))
    assert "holds 'w' codes" in codes_error(run / "codes.npy")
    (run / "inversion.json").write_text(json.dumps({"space": "z", "model": "dcgan-digiface"}))
    assert "codes of model 'dcgan-digiface'" in codes_error(run / "codes.npy")
    np.save(run / "codes.npy", np.ones((2, 3), np.float32))
    (run / "inversion.json").unlink()
    codes_error(run / "codes.npy")  # codes of the wrong shape: check_codes' one-line error
    assert not out.exists()
