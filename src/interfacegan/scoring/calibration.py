"""A run's face framing, measured: detect faces on its first samples and keep the median box in its metadata.

Face GANs are aligned, so one box fits all their images; it is measured once per run (`calibrate_framing`):
dlib's HOG detector on the first K samples (resized to `DETECT_SIZE` px), and the CNN detector
(`mmod_human_face_detector.dat`, 0.4-0.9 s/image) on the images HOG missed, only while fewer than
`MIN_FACE_FRACTION` of them have a face (giving up after `CNN_PROBE` misses in a row), its boxes converted to
HOG's convention. Detector boxes come in steps of 20% in size (the detectors' image pyramid), so each detection
is refined by its 68 landmarks into the box they imply (`framing.landmark_box`), which moves continuously with
the face: on faces placed at a known position and scale, the median refined box is within 2.4% of the image
side of the truth where the median detector box was up to 5.3% off. The median box, in pixels of the images' own
resolution, goes to the run's metadata under `face_framing`; face scorers read it back (`run_framing`). Runs of a
model a preset names (the embedded GAN) need no calibration. Too few faces is an error: the model does not make
aligned faces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.framing import FRAMINGS, Framing, landmark_box, nearest_preset, resolve_framing
from interfacegan.scoring.landmarks import MODELS_PACKAGE, import_dlib, model_file, resize_batch, shape_predictor

log = logging.getLogger(__name__)

CALIBRATION_SAMPLES = 64
MIN_FACE_FRACTION = 0.5  # fewer faces than this among the samples: not an aligned-face model
DETECT_SIZE = 256  # detection frame: HOG finds faces from about 80 px, the embedded GAN's are 180 px here
META_KEY = "face_framing"
# CNN (mmod) box -> HOG box, measured on 105 embedded-GAN faces both detectors found (256-px frame): the HOG
# box's centre lies (0.015, 0.051) CNN sides right of and below the CNN box's, its side is 0.915 CNN sides.
CNN_TO_HOG_SHIFT = np.array([0.015, 0.051])
CNN_TO_HOG_SCALE = 0.915
CNN_PROBE = 4  # the CNN detector gives up when it finds no face in this many of HOG's misses
REFUSAL = (
    "this model's images do not look like aligned faces: pass --face-box L,T,R,B (fractions of the image side; "
    "`interfacegan face calibrate RUN --face-box ...` or the scorer spec face?box=...) or use a scorer of your own"
)


@dataclass
class FramingCalibration:
    """What `calibrate_framing` measured: the median face box and how many of the samples had a face."""

    box_pixels: tuple[float, float, float, float]  # continuous pixel coordinates of the images
    image_size: int
    faces: int
    samples: int
    detector: str  # "hog" or "hog+cnn"

    @property
    def framing(self) -> Framing:
        return Framing("calibrated", tuple(v / self.image_size for v in self.box_pixels))

    @property
    def nearest(self) -> str | None:
        preset = nearest_preset(self.framing)
        return preset.name if preset else None

    def as_meta(self) -> dict:
        return {
            "source": "calibrated",
            "box_pixels": [round(float(v), 3) for v in self.box_pixels],
            "image_size": int(self.image_size),
            "faces": int(self.faces),
            "samples": int(self.samples),
            "detector": self.detector,
            "nearest_preset": self.nearest,
        }


@lru_cache(maxsize=1)
def _hog_detector():
    return import_dlib().get_frontal_face_detector()


@lru_cache(maxsize=1)
def _cnn_detector():
    path = model_file("mmod_human_face_detector.dat")
    try:
        return import_dlib().cnn_face_detection_model_v1(str(path))
    except RuntimeError as exc:
        raise InterfaceGANError(f"cannot load {path} ({exc}): reinstall `{MODELS_PACKAGE}`") from None


def _largest(rects) -> tuple[float, float, float, float] | None:
    """The largest dlib rectangle as a continuous box (inclusive pixel indices -> [left, right + 1))."""
    if not len(rects):
        return None
    r = max(rects, key=lambda r: r.area())
    return float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)


def hog_box(frame: np.ndarray):
    """The largest HOG face box (continuous px) in uint8 (H, W, 3), or None."""
    return _largest(_hog_detector()(frame, 0))


def cnn_box(frame: np.ndarray):
    """The largest CNN face box in uint8 (H, W, 3), converted to HOG's convention (module docstring), or None."""
    box = _largest([d.rect for d in _cnn_detector()(frame, 0)])
    if box is None:
        return None
    side = box[2] - box[0]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) + CNN_TO_HOG_SHIFT * side
    half = CNN_TO_HOG_SCALE * side / 2
    return centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half


def detect_face_boxes(images: np.ndarray, cnn: bool = True, needed: int = 0) -> tuple[np.ndarray, str]:
    """(boxes (N, 4) float64 in continuous pixels of the images, NaN rows without a face; detectors used).

    HOG on every image; with `cnn`, the CNN detector on HOG's misses, one by one, only while fewer than `needed`
    faces are found, `needed` can still be reached, and it found a face among its first `CNN_PROBE` tries.
    Each detection is refined by its landmarks (`refine_box`).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != images.shape[2] or images.dtype != np.uint8:
        raise InterfaceGANError(f"face calibration needs square uint8 images (N, S, S, 3), got {images.shape}")
    scale = images.shape[1] / DETECT_SIZE
    frames = resize_batch(images, DETECT_SIZE)
    boxes = np.full((len(images), 4), np.nan)
    for i, frame in enumerate(frames):
        found = hog_box(frame)
        if found is not None:
            boxes[i] = found
    detector = "hog"
    misses = list(np.flatnonzero(np.isnan(boxes[:, 0])))
    if cnn and misses and len(images) - len(misses) < needed:
        detector, rescued = "hog+cnn", 0
        for done, i in enumerate(misses):
            found_so_far = int(np.isfinite(boxes[:, 0]).sum())
            hopeless = found_so_far + len(misses) - done < needed or (done >= CNN_PROBE and rescued == 0)
            if found_so_far >= needed or hopeless:
                break
            found = cnn_box(frames[i])
            if found is not None:
                boxes[i], rescued = found, rescued + 1
    for i in np.flatnonzero(np.isfinite(boxes[:, 0])):
        boxes[i] = refine_box(frames[i], boxes[i])
    return boxes * scale, detector


def refine_box(frame: np.ndarray, box) -> tuple[float, float, float, float]:
    """The box implied by the 68 landmarks dlib finds on detector box `box` (continuous px) of uint8 `frame`."""
    dlib = import_dlib()
    left, top, right, bottom = (int(round(v)) for v in box)
    shape = shape_predictor(68)(frame, dlib.rectangle(left, top, right - 1, bottom - 1))
    return landmark_box(np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()], dtype=np.float64))


def calibrate_framing(images: np.ndarray, cnn: bool = True, min_fraction: float = MIN_FACE_FRACTION):
    """Measure the face framing of aligned face images (N, S, S, 3): a `FramingCalibration` of the median box;
    a one-line error when fewer than `min_fraction` of the images show a face."""
    n = len(images)
    if n == 0:
        raise InterfaceGANError("face calibration needs at least one image")
    min_fraction = checks.in_range("min_fraction", min_fraction, 0.0, 1.0, low_open=True)
    needed = max(1, int(np.ceil(min_fraction * n)))
    boxes, detector = detect_face_boxes(images, cnn=cnn, needed=needed)
    found = boxes[np.isfinite(boxes[:, 0])]
    if len(found) < needed:
        raise InterfaceGANError(f"faces found in only {len(found)} of {n} images; {REFUSAL}")
    centre = np.median((found[:, :2] + found[:, 2:]) / 2, axis=0)
    half = np.median((found[:, 2] - found[:, 0] + found[:, 3] - found[:, 1]) / 2) / 2
    box = (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)
    return FramingCalibration(tuple(float(v) for v in box), int(images.shape[1]), len(found), n, detector)


def stored_framing(meta: dict) -> Framing | None:
    """The face framing recorded in a run's metadata (`calibrate_run`), or None."""
    entry = meta.get(META_KEY)
    if not isinstance(entry, dict):
        return None
    try:
        if "framing" in entry:
            return resolve_framing(str(entry["framing"]))
        if "box" in entry:
            return resolve_framing([float(v) for v in entry["box"]])
        size = float(entry["image_size"])
        return Framing("calibrated", tuple(float(v) / size for v in entry["box_pixels"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, InterfaceGANError):
        raise InterfaceGANError(
            f"the run's {META_KEY} metadata {entry!r} is damaged: run `interfacegan face calibrate RUN --overwrite`"
        ) from None


def model_preset(meta: dict) -> Framing | None:
    """The preset whose `models` name the run's model (the embedded GAN), or None."""
    return next((f for f in FRAMINGS.values() if meta.get("model") in f.models), None)


def save_framing(store, entry: dict) -> None:
    """Record `entry` as the run's face framing (the run's metadata, group attribute `interfacegan`)."""
    store.group.attrs["interfacegan"] = {**store.meta, META_KEY: entry}


def run_framing(store, images: Callable[[int, int], np.ndarray] | None = None) -> Framing:
    """The face framing of a run: recorded, named by its model, or calibrated now on its first samples with
    `images(start, stop)` and recorded; a one-line error when none is known and `images` is None."""
    meta = store.meta
    framing = stored_framing(meta) or model_preset(meta)
    if framing is not None:
        return framing
    if images is None:
        raise InterfaceGANError(
            f"{store.path} has no face framing: run `interfacegan face calibrate {store.path}` or give the scorer "
            "a framing (face?framing=ffhq, face?box=L,T,R,B)"
        )
    calibration = calibrate_framing(images(0, min(CALIBRATION_SAMPLES, store.num)))
    save_framing(store, calibration.as_meta())
    log.info("face framing of %s calibrated: %s", store.path, calibration.as_meta())
    return calibration.framing


def calibrate_run(
    store, num: int = CALIBRATION_SAMPLES, framing=None, cnn: bool = True, model=None, device=None,
    overwrite: bool = False,
) -> dict:
    """Measure (or, with `framing`, set) the face framing of a run and record it; returns the recorded entry.

    `framing` is a preset name or a box (fractions); otherwise faces are detected on the first `num` samples.
    A run that already has one keeps it unless `overwrite`.
    """
    from interfacegan.scoring.run import ImageSource
    from interfacegan.store import SAMPLE_TASK

    if META_KEY in store.meta and not overwrite:
        raise InterfaceGANError(f"{store.path} already has a face framing: set `overwrite` to measure it again")
    if framing is not None:
        chosen = resolve_framing(framing)
        entry = {"source": "given"}
        if FRAMINGS.get(chosen.name) == chosen:
            entry["framing"] = chosen.name
        else:
            entry["box"] = [float(v) for v in chosen.box]
    else:
        num = checks.positive_int("num", num)
        if not store.is_complete(SAMPLE_TASK):
            raise InterfaceGANError(f"{store.path} is not completely sampled: finish `interfacegan sample` first")
        images = ImageSource(store, model, device=device).images(0, min(num, store.num))
        entry = calibrate_framing(images, cnn=cnn).as_meta()
    save_framing(store, entry)
    return entry
