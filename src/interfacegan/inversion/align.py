"""Face alignment of real photos to the framing of a face GAN, with dlib (HOG detector + 68-point predictor).

A GAN only reconstructs faces framed the way it generates them. Framings are defined once, in
`interfacegan.scoring.framing` (presets `digiface`, `ffhq`, `celebahq`, or a face box), for the face scorers and
for this aligner alike: a photo is warped by the framing's `alignment_matrix`, the published FFHQ / CelebA-HQ
procedure on its eye centres and mouth corners followed by the scale and shift onto the framing's box. A model's
framing is measured on its own samples (`face_template`: the median dlib face box, snapped to a preset when one
is within 4% of the side), so any face model works without a hand-made template. Coordinates are continuous:
pixel i spans [i, i+1].
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.images import RESAMPLE
from interfacegan.scoring.framing import Framing, nearest_preset, resolve_framing

TEMPLATE_SAMPLES = 64  # model samples measured for the framing
MIN_TEMPLATE_FACES = 8  # fewer detections than this: the model does not make faces dlib can find
DETECT_MAX_SIDE = 1024  # photos are shrunk to this side for detection (HOG cost grows with pixels)
DETECT_MIN_SIDE = 512  # smaller photos are upsampled once by the detector, so small faces are found
_templates: dict[str, Framing] = {}


@lru_cache(maxsize=1)
def _dlib_parts():
    """(dlib, HOG face detector), built once per process (the detector takes ~0.4 s)."""
    from interfacegan.scoring.landmarks import import_dlib

    dlib = import_dlib()
    return dlib, dlib.get_frontal_face_detector()


def detect_landmarks(image: np.ndarray, upsample: int | None = None, num_points: int = 5) -> np.ndarray | None:
    """dlib's 5 (or 68) landmarks (K, 2) float64, continuous pixel coordinates, of the largest face in uint8
    (H, W, 3), or None.

    `upsample` is dlib's detector upsampling (None: once for photos under DETECT_MIN_SIDE px, else none).
    """
    from interfacegan.scoring.landmarks import shape_predictor

    dlib, detector = _dlib_parts()
    h, w = image.shape[:2]
    shrink = min(1.0, DETECT_MAX_SIDE / max(h, w))
    small = image
    if shrink < 1.0:
        small = np.asarray(Image.fromarray(image).resize((round(w * shrink), round(h * shrink)), RESAMPLE))
    if upsample is None:
        upsample = 1 if max(small.shape[:2]) < DETECT_MIN_SIDE else 0
    faces = detector(small, upsample)
    if len(faces) == 0:
        return None
    face = max(faces, key=lambda r: r.area())
    box = dlib.rectangle(*(int(round(v / shrink)) for v in (face.left(), face.top(), face.right(), face.bottom())))
    shape = shape_predictor(num_points)(image, box)
    return np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()], dtype=np.float64)


def face_template(model, num: int = TEMPLATE_SAMPLES, seed: int = 0) -> Framing:
    """The face framing of `model`'s images, measured on `num` of its samples (cached; module docstring)."""
    from interfacegan.scoring.calibration import calibrate_framing

    key = f"{getattr(model, 'spec', '') or model.name}|{num}|{seed}"
    if key in _templates:
        return _templates[key]
    images = model.synthesize(model.sample(num, seed=seed))
    try:
        calibration = calibrate_framing(images, cnn=False, min_fraction=min(MIN_TEMPLATE_FACES, num) / num)
    except InterfaceGANError:
        raise InterfaceGANError(
            f"dlib finds too few faces in {num} samples of model {model.name!r}: "
            "`align` is for face models; leave align unset and the photos are centre-cropped"
        ) from None
    framing = nearest_preset(calibration.framing) or calibration.framing
    _templates[key] = framing
    return framing


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix M of the similarity (no reflection) minimising sum |M [src; 1] - dst|^2 (Umeyama 1991)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    var_s = (a**2).sum() / len(src)
    if var_s <= 0:
        raise InterfaceGANError("face landmarks collapse to one point: use a sharper photo of the face")
    u, sigma, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((sigma * sign).sum() / var_s)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - scale * rotation @ mu_s
    return matrix


def warp_to(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size, 3): `image` (H, W, 3) warped by the 2x3 photo->output similarity `matrix`.

    Rendered at an integer multiple of `size` and shrunk with LANCZOS, so large photos are not aliased; parts
    of the output outside the photo are filled by mirroring its border.
    """
    linear = matrix[:, :2]
    inv_linear = np.linalg.inv(linear)
    photo_pixels_per_output = math.sqrt(abs(np.linalg.det(inv_linear)))
    factor = int(min(8, max(1, round(photo_pixels_per_output))))
    big = size * factor
    # Output (continuous) -> photo coordinates, for the supersampled output grid.
    inv = np.zeros((2, 3))
    inv[:, :2] = inv_linear / factor
    inv[:, 2] = -inv_linear @ matrix[:, 2]
    corners = np.array([[0, 0], [big, 0], [0, big], [big, big]], np.float64) @ inv[:, :2].T + inv[:, 2]
    h, w = image.shape[:2]
    lo = np.floor(corners.min(0)).astype(int) - 2
    hi = np.ceil(corners.max(0)).astype(int) + 2
    pad_x = (max(0, -lo[0]), max(0, hi[0] - w))
    pad_y = (max(0, -lo[1]), max(0, hi[1] - h))
    if any(pad_x + pad_y):
        # Mirror padding (np.pad 'symmetric' cannot exceed the image, so repeat as needed).
        image = _mirror_pad(image, pad_y, pad_x)
        inv[:, 2] += (pad_x[0], pad_y[0])
    warped = Image.fromarray(image).transform(
        (big, big), Image.Transform.AFFINE, data=tuple(inv.reshape(-1)), resample=Image.Resampling.BICUBIC
    )
    if factor > 1:
        warped = warped.resize((size, size), RESAMPLE)
    return np.asarray(warped, dtype=np.uint8).copy()


def _mirror_pad(image: np.ndarray, pad_y: tuple[int, int], pad_x: tuple[int, int]) -> np.ndarray:
    while any(pad_y + pad_x):
        h, w = image.shape[:2]
        step_y = (min(pad_y[0], h - 1), min(pad_y[1], h - 1))
        step_x = (min(pad_x[0], w - 1), min(pad_x[1], w - 1))
        if not any(step_y + step_x):  # a 1-pixel image cannot be mirrored: repeat its edge
            return np.pad(image, (pad_y, pad_x, (0, 0)), mode="edge")
        image = np.pad(image, (step_y, step_x, (0, 0)), mode="reflect")
        pad_y = (pad_y[0] - step_y[0], pad_y[1] - step_y[1])
        pad_x = (pad_x[0] - step_x[0], pad_x[1] - step_x[1])
    return image


def align_face(
    image: Image.Image | np.ndarray, template, size: int, source: str = "the image"
) -> np.ndarray:
    """The largest face in `image` warped into `template`'s framing: uint8 (size, size, 3).

    `template` is a `Framing`, a preset name or box (`resolve_framing`), or a (5, 2) array of dlib's 5 landmarks
    in [0, 1] (the photo's 5 landmarks are then fitted onto it by a similarity).
    """
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.uint8)
    points5 = None
    if not isinstance(template, (Framing, str)):
        points5 = np.asarray(template, dtype=np.float64)
        if points5.shape != (5, 2):
            raise InterfaceGANError(f"a face template is a framing or 5 landmarks (5, 2), got shape {points5.shape}")
    framing = resolve_framing(template) if points5 is None else None
    points = detect_landmarks(array, num_points=5 if framing is None else 68)
    if points is None:
        raise InterfaceGANError(
            f"no face found in {source}: use a photo with a clearly visible, roughly frontal face, or leave align unset"
        )
    matrix = similarity_transform(points, points5 * size) if framing is None else framing.alignment_matrix(points, size)
    return warp_to(array, matrix, size)
