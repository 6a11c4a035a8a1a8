"""The default attribute scorer for aligned GAN faces: pose, smile, mouth, eyes, eyeglasses, brightness.

All scores but brightness come from dlib's 68 landmarks P (0-based, see `landmarks.py`), measured in units of
the inter-ocular distance `iod` (distance between the eye centres, means of P36-41 and P42-47), so they do not
depend on resolution. They are NaN where no face was found; brightness is always defined. Image statistics are
taken in the 64-px canonical working frame of the scorer's face framing (`framed.py`), so they mean the same on
any aligned face model.
"""

from __future__ import annotations

import numpy as np

from interfacegan.scoring.base import check_images
from interfacegan.scoring.framed import FramedScorer
from interfacegan.scoring.landmarks import LEFT_EYE, RIGHT_EYE, detect_landmarks, interocular

# Eyeglasses: reference mean/std of the two raw parts (bridge line, rim lines), so that the score of an image
# never depends on its batch. Measured once with `python benchmarks/scorers.py --calibrate`: 5,000 faces of the
# embedded GAN `dcgan-digiface`, z rows 0-4999 of seed 0, no truncation (the 4,998 with valid landmarks).
EYEGLASSES_REFERENCE = {
    "bridge": (0.12789, 0.10543),
    "rims": (0.15126, 0.10541),
}
# eyeglasses_edges: the same for the un-normalised Sobel-y edge parts (`eyeglasses_edge_parts`), same faces.
EDGES_REFERENCE = {
    "bridge": (70.190, 51.863),
    "rims": (82.542, 41.765),
}
# Why thin-line strength (second vertical difference) rather than plain Sobel-y edge strength: on 400 embedded-GAN
# faces (seed 1) labelled by eye (38 with glasses), the z-summed score ranks glasses with ROC AUC 0.90 against
# 0.80 for Sobel-y, which also fires on brows, shadows and the nose of turned faces.
CONTRAST_FLOOR = 5.0  # grey levels added to the local contrast, so flat skin does not blow the ratio up
MARGIN = 0.1  # inset of the nose-bridge region from the inner eye corners and brows (x iod)
RIM_BAND = (0.1, 0.45)  # rows searched for the lower rims: this far below the lower eyelid (x iod)
BRIGHTNESS_BOX = (slice(26, 46), slice(22, 42))  # rows, cols of the face centre in the 64-px working frame


FACE_ATTRIBUTES = ("yaw", "smile", "mouth_open", "eye_open", "eyeglasses", "eyeglasses_edges", "brightness")


class FaceScorer(FramedScorer):
    """yaw, smile, mouth_open, eye_open, eyeglasses(_edges) from landmarks; brightness from pixels (module doc).

    Options: `framing` (a preset name) or `box` (L,T,R,B fractions); default: the run's framing (`framed.py`).
    """

    name = "face"
    base_version = "2"

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {name: () for name in FACE_ATTRIBUTES}

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images = check_images(images, self.name)
        faces = detect_landmarks(images, self.framing)
        scores = landmark_scores(faces.points)
        bridge, rims = eyeglasses_parts(faces.luma, faces.points)
        scores["eyeglasses"] = _zscore(bridge, "bridge") + _zscore(rims, "rims")
        bridge, rims = eyeglasses_edge_parts(faces.luma, faces.points)
        scores["eyeglasses_edges"] = _zscore(bridge, "bridge", EDGES_REFERENCE) + _zscore(rims, "rims", EDGES_REFERENCE)
        rows, cols = BRIGHTNESS_BOX
        scores["brightness"] = faces.luma[:, rows, cols].mean(axis=(1, 2))
        return {name: np.asarray(scores[name], dtype=np.float32) for name in self.outputs}


def _dist(points: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(points[:, i] - points[:, j], axis=-1)


def landmark_scores(points: np.ndarray) -> dict[str, np.ndarray]:
    """yaw, smile, mouth_open, eye_open (each (N,)) from landmarks (N, 68, 2); NaN rows stay NaN.

    yaw > 0: the nose tip lies right of the eyes' midpoint in the image.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        iod = interocular(points)
        eye_mid = (points[:, LEFT_EYE].mean(1) + points[:, RIGHT_EYE].mean(1)) / 2
        yaw = (points[:, 30, 0] - eye_mid[:, 0]) / iod
        smile = _dist(points, 48, 54) / iod
        mouth_open = (_dist(points, 61, 67) + _dist(points, 62, 66) + _dist(points, 63, 65)) / 3 / iod
        ear_left = (_dist(points, 37, 41) + _dist(points, 38, 40)) / (2 * _dist(points, 36, 39))
        ear_right = (_dist(points, 43, 47) + _dist(points, 44, 46)) / (2 * _dist(points, 42, 45))
        eye_open = (ear_left + ear_right) / 2
    return {"yaw": yaw, "smile": smile, "mouth_open": mouth_open, "eye_open": eye_open}


def _row_means(luma: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Mean luma (N, H) of each row over columns x0 <= x <= x1 (per image bounds); NaN where no column fits."""
    xs = np.arange(luma.shape[2], dtype=np.float32)
    cols = (xs >= x0[:, None]) & (xs <= x1[:, None])  # (N, W)
    count = cols.sum(1, keepdims=True).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("nhw,nw->nh", luma, cols.astype(np.float32)) / count


def _strongest_row(profile: np.ndarray, y0, y1) -> np.ndarray:
    """Max (N,) of a per-row profile (N, H) over rows y0 <= y <= y1 (per image bounds); NaN if no finite row."""
    ys = np.arange(profile.shape[1], dtype=np.float32)
    rows = (ys >= y0[:, None]) & (ys <= y1[:, None]) & np.isfinite(profile)
    best = np.where(rows, profile, -np.inf).max(axis=1, initial=-np.inf)
    return np.where(np.isfinite(best), best, np.nan)


def _line_strength(luma: np.ndarray, x0, x1, y0, y1) -> np.ndarray:
    """Strongest thin horizontal line (N,) in the box [x0, x1] x [y0, y1]: max over rows of the absolute
    vertical second difference of the row-mean luma, i.e. a pair of opposite vertical-gradient (Sobel-y)
    edges one pixel apart, as a frame's bridge or rim draws it; NaN if the box holds no pixel."""
    profile = _row_means(luma, x0, x1)  # (N, H)
    padded = np.pad(profile, ((0, 0), (1, 1)), mode="edge")
    return _strongest_row(np.abs(profile - (padded[:, :-2] + padded[:, 2:]) / 2), y0, y1)


def _edge_strength(gradient: np.ndarray, x0, x1, y0, y1) -> np.ndarray:
    """Strongest horizontal edge (N,) in the box: max over rows of |row-mean vertical gradient|; NaN if empty."""
    return _strongest_row(np.abs(_row_means(gradient, x0, x1)), y0, y1)


def _sobel_y(luma: np.ndarray) -> np.ndarray:
    """Vertical Sobel gradient (N, H, W) of luma (N, H, W), edges replicated: row below minus row above."""
    padded = np.pad(luma, ((0, 0), (1, 1), (1, 1)), mode="edge")
    smooth = padded[:, :, :-2] + 2 * padded[:, :, 1:-1] + padded[:, :, 2:]  # (N, H + 2, W)
    return smooth[:, 2:] - smooth[:, :-2]


def _box_std(luma: np.ndarray, x0, x1, y0, y1) -> np.ndarray:
    """Luma standard deviation (N,) inside per-image boxes; NaN for empty boxes."""
    xs = np.arange(luma.shape[2], dtype=np.float32)
    ys = np.arange(luma.shape[1], dtype=np.float32)
    rows = (ys >= y0[:, None]) & (ys <= y1[:, None])  # (N, H)
    cols = (xs >= x0[:, None]) & (xs <= x1[:, None])  # (N, W)
    mask = rows[:, :, None] & cols[:, None, :]
    count = mask.sum(axis=(1, 2)).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (luma * mask).sum(axis=(1, 2)) / count
        var = (((luma - mean[:, None, None]) ** 2) * mask).sum(axis=(1, 2)) / count
    return np.sqrt(var)


def _frame_parts(strength, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bridge, rims) (N,) of `strength(image, x0, x1, y0, y1)` in the boxes where frames run: between the inner
    eye corners (P39, P42) from the brows (P21, P22) to P29, inset by `MARGIN`; and the `RIM_BAND` below each eye
    (the mean of both)."""
    iod = interocular(points)
    margin = MARGIN * iod
    brow = np.minimum(points[:, 21, 1], points[:, 22, 1])
    bridge = strength(image, points[:, 39, 0] + margin, points[:, 42, 0] - margin, brow + margin, points[:, 29, 1])
    rims = []
    for left, right, lids in ((36, 39, (40, 41)), (42, 45, (46, 47))):  # eye corners, lower eyelid
        lid = np.maximum(points[:, lids[0], 1], points[:, lids[1], 1])
        low, high = lid + RIM_BAND[0] * iod, lid + RIM_BAND[1] * iod
        rims.append(strength(image, points[:, left, 0], points[:, right, 0], low, high))
    return bridge, (rims[0] + rims[1]) / 2


def eyeglasses_parts(luma: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw eyeglasses evidence (bridge, rims), each (N,), from working-frame luma (N, 64, 64) and landmarks.

    Line strength in the boxes of `_frame_parts`, divided by the local contrast (luma std of the eye band
    P36..P45 x brows..P29) plus `CONTRAST_FLOOR`, so lighting and skin tone cancel out.
    """
    with np.errstate(invalid="ignore"):
        brow = np.minimum(points[:, 21, 1], points[:, 22, 1])
        contrast = _box_std(luma, points[:, 36, 0], points[:, 45, 0], brow, points[:, 29, 1]) + CONTRAST_FLOOR
        bridge, rims = _frame_parts(_line_strength, luma, points)
        return bridge / contrast, rims / contrast


def eyeglasses_edge_parts(luma: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw edge evidence (bridge, rims), each (N,): Sobel-y edge strength in the boxes of `_frame_parts`, not
    divided by local contrast. More separable in latent space, but it also grows with lighting contrast (see the
    note on `eyeglasses_edges` in the README)."""
    with np.errstate(invalid="ignore"):
        return _frame_parts(_edge_strength, _sobel_y(luma), points)


def _zscore(values: np.ndarray, part: str, reference: dict = EYEGLASSES_REFERENCE) -> np.ndarray:
    mean, std = reference[part]
    return (values - mean) / std
