"""68-point facial landmarks of aligned GAN faces: dlib's shape predictor run on a FIXED face box.

GAN faces are aligned, so no face detector runs (dlib's HOG detector misses 28% of the embedded GAN's faces,
its CNN detector costs 372 ms/image). Every image is resized to 256x256 (bicubic) and the predictor runs on
the box `FACE_BOX`, the median HOG detection on those faces. The weights come from the PyPI package
`face-recognition-models`, located by path: its `__init__` imports `pkg_resources`, so it is never imported.

Coordinates: landmarks are returned in the 64x64 *working frame* (x right, y down, pixel centres at integers),
the frame in which the face scorer's image statistics are computed, whatever the input resolution.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import LUMA, check_images

MODELS_PACKAGE = "face-recognition-models==0.3.0"
PREDICTOR_SIZE = 256  # images are resized to this square before the predictor runs
FACE_BOX = (35, 74, 214, 254)  # (left, top, right, bottom) in the 256-px predictor frame
WORK_SIZE = 64  # the working frame of landmarks and image statistics
_SCALE = PREDICTOR_SIZE / WORK_SIZE

# Validity gates (not fitted to any attribute): the predictor returns a face-like shape for ANY input, so
# images without face structure get NaN landmark scores. Over 5,000 embedded-GAN faces (seed 0) the face box's
# luma std was >= 4.0 (a nearly black face) and the noise ratio <= 0.9, except 1.02 for one garbled non-face;
# only that image and one full profile (an eye below the nose tip) were rejected. A flat image has std 0, uniform
# pixel noise a noise ratio of 3.5 (1.2 when upsampled 2x).
MIN_FACE_CONTRAST = 3.0  # luma std (grey levels) inside the face box
MAX_NOISE_RATIO = 1.0  # mean |4-neighbour Laplacian| / luma std inside the face box
MIN_IOD, MAX_IOD = 0.05 * WORK_SIZE, 0.6 * WORK_SIZE  # plausible inter-ocular distance (working pixels)

LEFT_EYE = slice(36, 42)  # the eye on the image's left (the subject's right eye)
RIGHT_EYE = slice(42, 48)


def model_file(filename: str) -> Path:
    """Path of one dlib model file shipped in the installed `face-recognition-models` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InterfaceGANError(
            f"dlib's face models are not installed: run `pip install {MODELS_PACKAGE}` (and `pip install dlib-bin`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise InterfaceGANError(f"{path} is missing: run `pip install --force-reinstall {MODELS_PACKAGE}`")
    return path


def import_dlib():
    """The dlib module, or a clear error naming the package to install."""
    try:
        import dlib
    except ImportError:
        raise InterfaceGANError("dlib is not installed: run `pip install dlib-bin`") from None
    return dlib


@lru_cache(maxsize=None)
def shape_predictor(num_points: int = 68):
    """dlib's 68- or 5-point shape predictor, loaded once per process."""
    if num_points not in (5, 68):
        raise InterfaceGANError(f"no {num_points}-point shape predictor: use 68 or 5")
    dlib = import_dlib()
    path = model_file(f"shape_predictor_{num_points}_face_landmarks.dat")
    try:
        return dlib.shape_predictor(str(path))
    except RuntimeError as exc:
        raise InterfaceGANError(f"cannot load {path} ({exc}): reinstall `{MODELS_PACKAGE}`") from None


def face_rectangle():
    """`FACE_BOX` as a dlib rectangle (predictor frame)."""
    return import_dlib().rectangle(*FACE_BOX)


def _check_square(images: np.ndarray) -> None:
    if images.shape[1] != images.shape[2]:
        raise InterfaceGANError(
            f"face scorers need square aligned faces, got {images.shape[1]}x{images.shape[2]}: crop them square first"
        )


def resize_batch(images: np.ndarray, size: int, gray: bool = False) -> np.ndarray:
    """Bicubic (antialiased when shrinking) resize of uint8 (N, H, W, 3) to (N, size, size[, 3]) uint8."""
    if images.shape[1] == size and not gray:
        return images
    out = []
    for image in images:
        pil = Image.fromarray(image)
        if gray:
            pil = pil.convert("L")  # before resizing: a third of the work
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BICUBIC)
        out.append(np.asarray(pil))
    return np.stack(out) if out else np.zeros((0, size, size) if gray else (0, size, size, 3), np.uint8)


def luma(images: np.ndarray) -> np.ndarray:
    """Luma (N, H, W) float32 in grey levels 0-255 of RGB images (N, H, W, 3)."""
    return images.astype(np.float32) @ LUMA


@dataclass
class FaceLandmarks:
    """Landmarks of a batch: `points` (N, 68, 2) float32 in the 64-px working frame, NaN rows where `valid`
    (N,) is False; `luma` (N, 64, 64) float32 working-frame luma; `shapes` the raw dlib detections
    (predictor frame), kept for dlib's face descriptor."""

    points: np.ndarray
    valid: np.ndarray
    luma: np.ndarray
    shapes: list = field(default_factory=list)


def detect_landmarks(images: np.ndarray) -> FaceLandmarks:
    """68 landmarks per aligned face in uint8 images (N, H, W, 3) of any square size (see module docstring)."""
    images = check_images(images, "face")
    _check_square(images)
    predictor, box = shape_predictor(68), face_rectangle()
    frames = resize_batch(images, PREDICTOR_SIZE, gray=True)  # (N, 256, 256)
    shapes, raw = [], np.full((len(images), 68, 2), np.nan, np.float32)
    for i, frame in enumerate(frames):
        try:
            shape = predictor(frame, box)
        except RuntimeError:  # dlib refuses the frame: leave this face's landmarks NaN
            shapes.append(None)
            continue
        shapes.append(shape)
        raw[i] = [(p.x, p.y) for p in shape.parts()]
    points = (raw + 0.5) / _SCALE - 0.5  # pixel centres of the 256 frame -> 64 frame
    work = luma(resize_batch(images, WORK_SIZE))
    valid = face_validity(work, points)
    points[~valid] = np.nan
    return FaceLandmarks(points=points, valid=valid, luma=work, shapes=shapes)


def interocular(points: np.ndarray) -> np.ndarray:
    """Distance (N,) between the two eye centres (means of points 36-41 and 42-47)."""
    return np.linalg.norm(points[:, RIGHT_EYE].mean(1) - points[:, LEFT_EYE].mean(1), axis=-1)


def image_evidence(work_luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contrast, noise ratio), each (N,), of the face box in working-frame luma (N, 64, 64): the luma std and
    the mean |4-neighbour Laplacian| over that std (high for pixel noise, low for smooth natural images)."""
    left, top, right, bottom = (round(v / _SCALE) for v in FACE_BOX)
    region = work_luma[:, top:bottom, left:right]
    contrast = region.std(axis=(1, 2))
    centre = region[:, 1:-1, 1:-1]
    laplacian = 4 * centre - region[:, :-2, 1:-1] - region[:, 2:, 1:-1] - region[:, 1:-1, :-2] - region[:, 1:-1, 2:]
    return contrast, np.abs(laplacian).mean(axis=(1, 2)) / np.maximum(contrast, 1e-6)


def face_validity(work_luma: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) True where the landmarks describe a face: finite, plausible layout, image neither flat nor noise."""
    contrast, noise = image_evidence(work_luma)
    with np.errstate(invalid="ignore"):
        eye_l, eye_r = points[:, LEFT_EYE].mean(1), points[:, RIGHT_EYE].mean(1)
        iod = interocular(points)
        mouth_y = points[:, 48:68, 1].mean(1)
        layout = (
            (eye_l[:, 0] < eye_r[:, 0])
            & (np.maximum(eye_l[:, 1], eye_r[:, 1]) < points[:, 30, 1])
            & (points[:, 30, 1] < mouth_y)
            & (iod > MIN_IOD)
            & (iod < MAX_IOD)
        )
    finite = np.isfinite(points).all(axis=(1, 2))
    return finite & layout & (contrast >= MIN_FACE_CONTRAST) & (noise <= MAX_NOISE_RATIO)
