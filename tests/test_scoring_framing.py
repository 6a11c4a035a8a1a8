"""Face framings: the published alignment geometry, calibration on a run, and the face scorers on any framing.

Faces of the embedded GAN are re-aligned into the FFHQ and CelebA-HQ framings with the published procedure, at
256 and 1024 px, and must keep their landmarks and scores; calibration must find faces placed at a known box.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.align import align_face, warp_to
from interfacegan.sampling import sample_to_store
from interfacegan.scoring import load_scorer
from interfacegan.scoring.calibration import calibrate_framing, calibrate_run, hog_box, run_framing
from interfacegan.scoring.framing import (
    CELEBAHQ,
    DIGIFACE,
    FFHQ,
    FRAMINGS,
    landmark_box,
    nearest_preset,
    quad_matrix,
    resolve_framing,
)
from interfacegan.scoring.landmarks import FACE_BOX, STAGE, detect_landmarks
from interfacegan.scoring.run import score_store
from interfacegan.store import SampleStore
from tests.helpers import cli_error


@pytest.fixture(scope="module")
def scorers():
    return [load_scorer(name) for name in ("face", "gender", "age")]


def _score(scorers, images, framing=None) -> dict[str, np.ndarray]:
    out = {}
    for scorer in scorers:
        out.update((scorer if framing is None else scorer.with_framing(framing)).score(images))
    return out


# ---- geometry ---------------------------------------------------------------------------------------------------
def _synthetic_face(eyes, mouth) -> np.ndarray:
    """68 landmarks with both eye contours collapsed on the given eye centres and the given mouth corners."""
    points = np.zeros((68, 2))
    points[36:42], points[42:48] = eyes[0], eyes[1]
    points[48], points[54] = mouth
    return points


def test_quad_matrix_follows_the_published_procedure_and_is_similarity_equivariant():
    # eyes 20 apart at y=50, mouth 22 below: half side = max(2*20, 1.8*22) = 40, centre = eye middle + 0.1 * 22
    points = _synthetic_face([(40, 50), (60, 50)], [(42, 72), (58, 72)])
    matrix = quad_matrix(points)
    np.testing.assert_allclose(matrix, [[1 / 80, 0, 0.5 - 50 / 80], [0, 1 / 80, 0.5 - 52.2 / 80]], atol=1e-12)
    # a mouth far below the eyes: the 1.8 |eye-to-mouth| term sets the size instead
    long = quad_matrix(_synthetic_face([(40, 50), (60, 50)], [(42, 80), (58, 80)]))
    assert long[0, 0] == pytest.approx(1 / (2 * 1.8 * 30))
    # rotating, scaling and shifting the photo leaves every landmark's aligned position unchanged
    rng = np.random.default_rng(0)
    face = points + rng.normal(0, 1.0, points.shape)
    angle, scale, shift = 0.4, 2.5, np.array([13.0, -7.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = face @ (scale * rotation).T + shift

    def aligned(p):
        m = quad_matrix(p)
        return p @ m[:, :2].T + m[:, 2]

    np.testing.assert_allclose(aligned(moved), aligned(face), atol=1e-9)


def test_presets_boxes_and_parsing():
    # the embedded GAN's framing is the scorers' historic fixed box on the 256-px upscale (dlib's inclusive pixels)
    assert DIGIFACE.box_pixels(256) == (FACE_BOX[0], FACE_BOX[1], FACE_BOX[2] + 1, FACE_BOX[3] + 1)
    k, shift = DIGIFACE.canonical_transform(64)
    assert k == 4.0 and np.all(shift == 0)  # a 64-px embedded face maps to the predictor frame by a plain 4x resize
    # CelebA-HQ's procedure is FFHQ's (module docstring of framing.py): the same alignment for the same landmarks
    points = _synthetic_face([(40, 50), (61, 49)], [(43, 73), (57, 74)])
    np.testing.assert_allclose(CELEBAHQ.alignment_matrix(points, 1024), FFHQ.alignment_matrix(points, 1024))
    # a face aligned into a framing has the framing's box (its centre and mean side) as its landmark box
    for framing in FRAMINGS.values():
        matrix = framing.alignment_matrix(points, 1)
        box = np.array(landmark_box(points @ matrix[:, :2].T + matrix[:, 2]))
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, framing.centre, atol=1e-9)
        np.testing.assert_allclose(box[2:] - box[:2], framing.side, atol=1e-9)
    assert resolve_framing("FFHQ") is FFHQ and resolve_framing(" digiface ") is DIGIFACE
    custom = resolve_framing("0.2, 0.3, 0.8, 0.9")
    assert custom.box == (0.2, 0.3, 0.8, 0.9) and custom.key == "box=0.2000,0.3000,0.8000,0.9000"
    assert nearest_preset(resolve_framing([v + 0.01 for v in FFHQ.box])) is FFHQ
    assert nearest_preset(resolve_framing("0.3,0.3,0.7,0.7")) is None
    for bad, message in [("stylegan", "unknown face framing"), ("0.1,0.2", "4 finite numbers"),
                         ("0.8,0.3,0.2,0.9", "left < right"), ("10,20,300,400", "far outside"),
                         ("a,b,c,d", "4 comma-separated numbers")]:  # fmt: skip
        with pytest.raises(InterfaceGANError, match=message):
            resolve_framing(bad)


def test_scorer_specs_options_and_pickling(embedded_faces):
    face = load_scorer("face?framing=ffhq")
    assert face.framing is FFHQ and face.version == "2+ffhq" and face.spec == "face?framing=ffhq"
    boxed = load_scorer("gender?box=0.2,0.3,0.8,0.9&batch_size=4")
    assert boxed.version == "1+box=0.2000,0.3000,0.8000,0.9000" and boxed.batch_size == 4
    assert load_scorer(boxed.spec).version == boxed.version  # the spec rebuilds an equal scorer
    plain = load_scorer("age")
    assert plain.spec == "age" and plain.version == "1" and plain.framing is DIGIFACE
    copy = pickle.loads(pickle.dumps(plain))  # no onnxruntime session inside: scorers travel to worker processes
    faces = embedded_faces[:4]
    np.testing.assert_array_equal(copy.score(faces)["age"], plain.score(faces)["age"])
    with pytest.raises(InterfaceGANError, match="has no option nope: its options are framing, box"):
        load_scorer("face?nope=1")
    with pytest.raises(InterfaceGANError, match="not both"):
        load_scorer("face?framing=ffhq&box=0.2,0.3,0.8,0.9")
    with pytest.raises(InterfaceGANError, match="unknown scorer 'fcae'"):
        load_scorer("fcae?framing=ffhq")


# ---- re-aligned faces keep their landmarks and scores -----------------------------------------------------------
@pytest.fixture(scope="module")
def originals(embedded_faces, scorers):
    found = detect_landmarks(embedded_faces)
    assert found.valid.all()
    return found.image_points(64), _score(scorers, embedded_faces)


@pytest.mark.parametrize("framing", [FFHQ, CELEBAHQ], ids=lambda f: f.name)
@pytest.mark.parametrize("size", [256, 1024])
def test_faces_realigned_into_published_framings_keep_landmarks_and_scores(embedded_faces, scorers, originals,
                                                                          framing, size):
    """Each 64-px face is warped into `framing` at `size` px by the published transform of its own landmarks; the
    scorers, told the framing, find the same face. Re-rendering moves the canonical crop by each face's own
    similarity, so nothing is exact; the age network is the least stable. Tolerances: the 99.9th percentile (0.1th
    for correlations) of each statistic over random sets of 24 of 400 faces (seed 11, FFHQ at 256 px): median
    landmark error 0.82 px (64-px frame), median |change| of yaw 0.041, smile 0.034, male probability 0.111, age
    4.8 years; correlation of yaw 0.92, smile 0.79, gender 0.87, age 0.33. These 24 faces (seed 7) measure 0.38 px,
    0.015, 0.010, 0.012, 1.8 years and correlations 0.99, 0.96, 0.98, 0.86 at 1024 px."""
    points, before = originals
    matrices = [framing.alignment_matrix(p, size) for p in points]
    aligned = np.stack([warp_to(face, m, size) for face, m in zip(embedded_faces, matrices)])
    found = detect_landmarks(aligned, framing)
    assert found.valid.all()
    back = np.stack(
        [(p - m[:, 2]) @ np.linalg.inv(m[:, :2]).T for p, m in zip(found.image_points(size), matrices)]
    )  # into the original 64-px images
    error = np.linalg.norm(back - points, axis=-1).mean(axis=1)
    assert np.median(error) < 0.85
    after = _score(scorers, aligned, framing)
    for name, tolerance in {"yaw": 0.045, "smile": 0.035, "male_probability": 0.12, "age": 5.0}.items():
        assert np.median(np.abs(after[name] - before[name])) < tolerance, name
    for name, least in {"yaw": 0.92, "smile": 0.78, "gender": 0.86, "age": 0.33}.items():
        assert np.corrcoef(after[name], before[name])[0, 1] > least, name


def test_photo_aligned_for_ffhq_lands_on_the_ffhq_box():
    """A real photo (shipped with matplotlib) aligned to FFHQ: HOG finds its face near the FFHQ box (within one
    step of the detector's pyramid, 20% in size: the preset is a median over faces)."""
    cbook = pytest.importorskip("matplotlib.cbook")
    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    aligned = align_face(photo, "ffhq", 256)
    box = np.array(hog_box(aligned)) / 256
    centre, side = (box[:2] + box[2:]) / 2, box[2] - box[0]
    assert np.abs(centre - FFHQ.centre).max() < 0.03 and 0.8 < side / FFHQ.side < 1.2
    assert np.abs(np.array(calibrate_framing(aligned[None], cnn=False).framing.box) - FFHQ.box).max() < 0.05


# ---- calibration ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, side, left, top", [(256, 150, 70, 40), (200, 120, 10, 60), (512, 200, 250, 100)])
def test_calibration_finds_the_box_of_faces_placed_at_a_known_position(embedded_faces, size, side, left, top):
    """The embedded faces (framing `digiface`) pasted at (left, top), `side` px wide, on noisy canvases: the
    calibrated box is the digiface box placed there, within 3.5% of `side` (measured: at most 1.4%)."""
    rng = np.random.default_rng(0)
    faces = embedded_faces
    canvases = rng.integers(80, 110, (len(faces), size, size, 3), dtype=np.uint8)
    for canvas, face in zip(canvases, faces):
        canvas[top : top + side, left : left + side] = np.asarray(
            Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC)
        )
    calibration = calibrate_framing(canvases, cnn=False)
    expected = np.array([left, top, left, top]) + side * np.array(DIGIFACE.box)
    assert np.abs(np.array(calibration.box_pixels) - expected).max() < 0.035 * side
    assert calibration.image_size == size and calibration.faces >= len(faces) // 2 and calibration.detector == "hog"


def test_calibration_falls_back_to_the_cnn_detector(embedded_faces):
    """Faces HOG misses (turned ones) are found by the CNN detector, whose boxes are converted to HOG's and
    refined by landmarks: 2 misses and 1 hit need 2 CNN runs (0.4-0.9 s each) to reach 2 of 3 faces."""
    faces = embedded_faces
    frames = np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.Resampling.BICUBIC)) for f in faces])
    misses = [i for i, frame in enumerate(frames) if hog_box(frame) is None]
    hit = next(i for i in range(len(faces)) if i not in misses)
    images = faces[[misses[0], misses[1], hit]]
    with pytest.raises(InterfaceGANError, match="faces found in only 1 of 3"):
        calibrate_framing(images, cnn=False)
    calibration = calibrate_framing(images)
    assert calibration.detector == "hog+cnn" and calibration.faces >= 2
    assert np.abs(np.array(calibration.framing.box) - DIGIFACE.box).max() < 0.08


@pytest.fixture(scope="module")
def face_run(tmp_path_factory, embedded_gan):
    return sample_to_store(embedded_gan, tmp_path_factory.mktemp("faces") / "run", num=96, seed=5, chunk_rows=32,
                           progress=False)  # fmt: skip


def test_face_gender_age_scoring_shares_one_landmark_pass(face_run, embedded_gan):
    """The embedded GAN's runs need no calibration (its preset names it) and `face`, `gender`, `age` in turn
    run dlib's predictor once per image: the landmark stage keeps the first pass's results."""
    STAGE.clear()
    before = STAGE.computed
    for name in ("face", "gender", "age"):
        score_store(face_run, load_scorer(name), model=embedded_gan, progress=False)
    assert STAGE.computed - before == face_run.num
    assert "face_framing" not in face_run.meta
    scores = face_run.scores(["yaw", "gender", "male_probability", "age"])
    assert all(np.isfinite(v).mean() > 0.95 for v in scores.values())
    assert face_run.score_info("gender")["version"] == "1"


def test_calibrated_run_framing_reaches_the_scorers(tmp_path, embedded_gan, monkeypatch, capsys):
    model = embedded_gan
    store = sample_to_store(model, tmp_path / "run", num=40, seed=9, chunk_rows=40, progress=False)
    entry = calibrate_run(store, num=24, cnn=False)
    assert entry["nearest_preset"] == "digiface" and entry["faces"] >= 12 and entry["image_size"] == 64
    assert np.abs(np.array(entry["box_pixels"]) / 64 - DIGIFACE.box).max() < 0.03
    framing = run_framing(store)
    assert framing.box == tuple(v / 64 for v in entry["box_pixels"])
    names = score_store(store, load_scorer("face"), model=model, progress=False)
    assert "yaw" in names and store.score_info("yaw")["version"] == f"2+{framing.key}"
    # the CLI records a named framing instead; scores of another framing are not mixed in silently
    err = cli_error(monkeypatch, capsys, "face", "calibrate", store.path, "--framing", "ffhq")
    assert "already has a face framing: set --overwrite" in err
    from interfacegan.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["face", "calibrate", str(store.path), "--framing", "ffhq", "--overwrite"])
    assert result.exit_code == 0 and "recorded" in result.output
    store = SampleStore.open(store.path)  # the command wrote the metadata through its own handle
    assert run_framing(store) is FFHQ
    with pytest.raises(InterfaceGANError, match="use overwrite to replace it, or a prefix"):
        score_store(store, load_scorer("face"), model=model, progress=False)
    err = cli_error(monkeypatch, capsys, "face", "calibrate", store.path, "--face-box", "0.1,0.2", "--overwrite")
    assert "must be 4 finite numbers" in err
    # a run given as a URL, as every other command takes it (a Path argument made file:///x into file:/x)
    url = f"file://{Path(store.path).resolve()}"
    result = CliRunner().invoke(app, ["face", "calibrate", url, "--framing", "digiface", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert run_framing(SampleStore.open(store.path)) is DIGIFACE


def test_score_refuses_runs_without_aligned_faces(tmp_path, toy_generator, monkeypatch):
    """A toy run draws no faces: calibrating it at `score` time refuses with the one-line advice."""
    import interfacegan.scoring.calibration as calibration

    monkeypatch.setattr(calibration, "CNN_PROBE", 1)  # the CNN detector costs ~0.5 s an image: try it once
    store = sample_to_store(toy_generator, tmp_path / "toy", num=16, seed=0, progress=False)
    with pytest.raises(InterfaceGANError, match="do not look like aligned faces: pass --face-box"):
        score_store(store, load_scorer("face"), model=toy_generator, progress=False)
    assert "face_framing" not in store.meta and not store.score_names  # nothing written
    with pytest.raises(InterfaceGANError, match="interfacegan face calibrate"):
        run_framing(store)
