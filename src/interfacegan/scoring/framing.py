"""Where an aligned face sits in a face GAN's images: one definition per framing, used by scorers and `--align`.

A `Framing` is the box that dlib's face detector would draw around the face in an aligned image, as fractions
(left, top, right, bottom) of the image side in continuous coordinates (pixel i spans [i, i+1] / side). It
answers both questions the package asks about a face model:
- the face scorers run dlib's 68-point predictor on that box (`canonical_transform` maps the image so that the
  box lands on the predictor box the scorers were built on, whatever the resolution);
- `--align` warps a photo into that framing (`alignment_matrix`): the published FFHQ / CelebA-HQ procedure from
  eye centres and mouth corners, followed by the scale and shift that take the FFHQ box onto this framing's box.

Presets (`FRAMINGS`): `digiface`, the embedded GAN's (its median HOG box), and `ffhq` / `celebahq`, the box of a
face aligned by the published procedures (FFHQ: `ffhq-dataset` `recreate_aligned_images`; CelebA-HQ: PGGAN
`dataset_tool.py create_celebahq`). Both choose the crop square from the eyes' midpoint e, the eye-to-eye vector
d and the eye-to-mouth vector m: centre e + 0.1 m, side 2 max(2|d|, 1.8|m|), x axis along d - rot90(m). They
differ only in the landmarks (dlib's 68 points vs CelebA's annotated eye centres, for which the eye contours'
means stand in here) and in a half-pixel offset of CelebA-HQ's working image (< 0.05% of the side), so their
boxes coincide. The box was measured, not guessed: embedded-GAN faces aligned by that procedure, their HOG
detections mapped into the aligned frame, median (`python benchmarks/scorers.py --framings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from interfacegan.errors import InterfaceGANError

# The scorers' canonical predictor frame: the 256-px square in which dlib's predictor runs on `CANONICAL_RECT`
# (a dlib rectangle, inclusive pixel indices): the median HOG detection on the embedded GAN's faces upscaled to
# 256 px, the box every face statistic of `face.py` was fitted on.
CANONICAL_SIZE = 256
CANONICAL_RECT = (35, 74, 214, 254)
_RECT_BOX = (35.0, 74.0, 215.0, 255.0)  # the same rectangle in continuous coordinates
_RECT_CENTRE = np.array([(_RECT_BOX[0] + _RECT_BOX[2]) / 2, (_RECT_BOX[1] + _RECT_BOX[3]) / 2])
_RECT_SIDE = ((_RECT_BOX[2] - _RECT_BOX[0]) + (_RECT_BOX[3] - _RECT_BOX[1])) / 2

LEFT_EYE = slice(36, 42)  # the eye on the image's left (the subject's right eye)
RIGHT_EYE = slice(42, 48)
MOUTH_LEFT, MOUTH_RIGHT = 48, 54
BOX_LIMIT = 2.0  # box fractions outside [-BOX_LIMIT, 1 + BOX_LIMIT] are refused as typos


@dataclass(frozen=True)
class Framing:
    """A face framing: `box` = (left, top, right, bottom) of the face box, fractions of the image side.

    `models` lists model specs known to generate this framing (their runs need no calibration).
    """

    name: str
    box: tuple[float, float, float, float]
    models: tuple[str, ...] = ()

    def __post_init__(self):
        check_box(self.box, f"the box of framing {self.name!r}")

    @property
    def centre(self) -> np.ndarray:
        """Box centre (2,) in fractions."""
        left, top, right, bottom = self.box
        return np.array([(left + right) / 2, (top + bottom) / 2])

    @property
    def side(self) -> float:
        """Mean of the box's width and height, in fractions (the predictor's box is square)."""
        left, top, right, bottom = self.box
        return ((right - left) + (bottom - top)) / 2

    @property
    def key(self) -> str:
        """Short text naming the framing in scorer versions and specs: the preset name, or `box=L,T,R,B`."""
        if FRAMINGS.get(self.name) == self:
            return self.name
        return "box=" + ",".join(f"{v:.4f}" for v in self.box)

    def box_pixels(self, size: int) -> tuple[float, float, float, float]:
        """The box in continuous pixel coordinates of a `size`-px square image."""
        return tuple(float(v) * size for v in self.box)

    def canonical_transform(self, size: int) -> tuple[float, np.ndarray]:
        """(scale k, shift t (2,)) mapping continuous coordinates u of a `size`-px image to the canonical
        predictor frame, k u + t: the box centre goes to the canonical box centre, its mean side to 180.5 px."""
        k = _RECT_SIDE / (self.side * size)
        return k, _RECT_CENTRE - k * self.centre * size

    def alignment_matrix(self, points: np.ndarray, size: int) -> np.ndarray:
        """2x3 similarity taking continuous photo coordinates to those of a `size`-px image in this framing,
        from the photo's 68 landmarks (68, 2) in continuous coordinates (see module docstring)."""
        ffhq = quad_matrix(points)  # photo -> fractions of the FFHQ-aligned square
        k = self.side / FFHQ_BOX_SIDE
        shift = self.centre - k * FFHQ_BOX_CENTRE
        matrix = np.concatenate([k * ffhq[:, :2], (k * ffhq[:, 2] + shift)[:, None]], axis=1)
        return matrix * size


def check_box(box, who: str) -> tuple[float, float, float, float]:
    """`box` as 4 floats (left, top, right, bottom) with left < right, top < bottom, or a one-line error."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise InterfaceGANError(f"{who} {box!r} must be 4 numbers L,T,R,B (fractions of the image side)") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InterfaceGANError(f"{who} {box!r} must be 4 finite numbers L,T,R,B (fractions of the image side)")
    left, top, right, bottom = values
    if not (left < right and top < bottom):
        raise InterfaceGANError(f"{who} {box!r} needs left < right and top < bottom")
    if min(values) < -BOX_LIMIT or max(values) > 1 + BOX_LIMIT:
        raise InterfaceGANError(
            f"{who} {box!r} lies far outside the image: give fractions of the image side (e.g. 0.2,0.3,0.8,0.9)"
        )
    return values


def quad_matrix(points: np.ndarray) -> np.ndarray:
    """2x3 similarity from continuous photo coordinates to fractions [0, 1] of the square that the FFHQ /
    CelebA-HQ procedure crops around a face with 68 landmarks `points` (68, 2) (module docstring)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise InterfaceGANError(f"face alignment needs 68 finite landmarks (68, 2), got shape {points.shape}")
    eyes = (points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0))
    eye_mid = (eyes[0] + eyes[1]) / 2
    eye_to_eye = eyes[1] - eyes[0]
    eye_to_mouth = (points[MOUTH_LEFT] + points[MOUTH_RIGHT]) / 2 - eye_mid
    axis = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])  # d - rot90(m)
    norm = np.hypot(*axis)
    if norm == 0:
        raise InterfaceGANError("face landmarks collapse to one point: use a sharper photo of the face")
    half = max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth))  # half the side of the square
    x = axis / norm * half
    y = np.array([-x[1], x[0]])
    centre = eye_mid + 0.1 * eye_to_mouth
    # fraction f = 0.5 + ((p - centre) . x, (p - centre) . y) / (2 half^2)
    linear = np.stack([x, y]) / (2 * half**2)
    return np.concatenate([linear, (0.5 - linear @ centre)[:, None]], axis=1)


# The FFHQ-aligned box, measured (module docstring); `alignment_matrix` maps it onto any framing's box.
FFHQ_BOX = (0.2113, 0.3171, 0.7718, 0.8776)
FFHQ_BOX_CENTRE = np.array([(FFHQ_BOX[0] + FFHQ_BOX[2]) / 2, (FFHQ_BOX[1] + FFHQ_BOX[3]) / 2])
FFHQ_BOX_SIDE = ((FFHQ_BOX[2] - FFHQ_BOX[0]) + (FFHQ_BOX[3] - FFHQ_BOX[1])) / 2

DIGIFACE = Framing("digiface", tuple(v / CANONICAL_SIZE for v in _RECT_BOX), models=("dcgan-digiface",))
FFHQ = Framing("ffhq", FFHQ_BOX)
CELEBAHQ = Framing("celebahq", FFHQ_BOX)  # the same published procedure (module docstring)
FRAMINGS: dict[str, Framing] = {f.name: f for f in (DIGIFACE, FFHQ, CELEBAHQ)}
DEFAULT_FRAMING = DIGIFACE


def landmark_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """The face box (continuous coordinates of the photo) that the FFHQ box is in the FFHQ-aligned frame of a
    face with 68 landmarks `points` (68, 2): a detector-like box that moves continuously with the landmarks."""
    matrix = quad_matrix(points)
    inverse = np.linalg.inv(matrix[:, :2])
    centre = inverse @ (FFHQ_BOX_CENTRE - matrix[:, 2])
    half = math.sqrt(abs(np.linalg.det(inverse))) * FFHQ_BOX_SIDE / 2
    return centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half


def parse_box(text: str, who: str = "face box") -> tuple[float, float, float, float]:
    """'L,T,R,B' (fractions of the image side) -> 4 floats, or a one-line error."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InterfaceGANError(
            f"{who} {text!r} must be 4 comma-separated numbers L,T,R,B (fractions of the image side)"
        ) from None
    return check_box(values, who)


def resolve_framing(value) -> Framing:
    """A Framing from a Framing, a preset name, or a box ('L,T,R,B' text or 4 numbers, fractions of the side)."""
    if isinstance(value, Framing):
        return value
    if isinstance(value, str):
        name = value.strip().lower()
        if name in FRAMINGS:
            return FRAMINGS[name]
        if "," not in name:
            raise InterfaceGANError(
                f"unknown face framing {value!r}: use one of {', '.join(FRAMINGS)} or a box L,T,R,B (fractions)"
            )
        return Framing("custom", parse_box(value))
    return Framing("custom", check_box(value, "face box"))


def nearest_preset(framing: Framing, tolerance: float = 0.04) -> Framing | None:
    """The preset whose box centre and side are within `tolerance` (fraction of the side) of `framing`'s."""
    distances = {
        name: max(float(np.abs(preset.centre - framing.centre).max()), abs(preset.side - framing.side))
        for name, preset in FRAMINGS.items()
    }
    name = min(distances, key=distances.get)  # the first of equal ones: ffhq before celebahq
    return FRAMINGS[name] if distances[name] <= tolerance else None
