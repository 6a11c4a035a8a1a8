"""Bring-your-own attribute model: an ONNX classifier/regressor run with onnxruntime (spec `onnx:PATH.onnx`).

Input: the model's one image input, NCHW float (3 or 1 channels; 1 = luma). Images are resized (bicubic,
antialiased) to the input's static H x W when declared, else to `size` when given, and fed as
`x = (pixels / 255 - mean) / std` per channel: the defaults mean=0, std=1 give [0, 1]; mean=std=0.5 gives
[-1, 1]; ImageNet models take mean=0.485,0.456,0.406 std=0.229,0.224,0.225.
Output: (N,) or (N, k) (trailing size-1 axes dropped) -> k scalar scores named by `names`, else by the model's
metadata_props key `interfacegan.names` (comma-separated), else `onnx_0 .. onnx_{k-1}`.

Every run of an ONNX graph has a time budget per batch (`time_budget` seconds, `run_with_budget`): a watchdog
sets onnxruntime's `RunOptions.terminate`, which stops even a crafted `Loop` of 10^12 iterations, and the
scorer reports it in one line instead of hanging.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from interfacegan.device import resolve_device
from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import LUMA, Scorer, check_images, parse_names
from interfacegan.threads import onnx_session_options

NAMES_METADATA_KEY = "interfacegan.names"
DEFAULT_TIME_BUDGET = 120.0  # seconds per batch: ~100x what a classifier of a few GFLOP needs for 64 images
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def _floats(value, what: str) -> np.ndarray:
    """A float or a comma-separated / sequence of 1 or 3 floats (per channel) as a (C,) array."""
    try:
        items = value.split(",") if isinstance(value, str) else np.atleast_1d(value).tolist()
        out = np.array([float(v) for v in items], dtype=np.float32)
    except (TypeError, ValueError):
        raise InterfaceGANError(f"onnx scorer: {what}={value!r} is not a number or a list of 3 numbers") from None
    if out.size not in (1, 3):
        raise InterfaceGANError(f"onnx scorer: {what} needs 1 or 3 values (one per channel), got {out.size}")
    return out


def _size(value) -> tuple[int, int] | None:
    """`size` option: an int, "H,W" or (H, W) -> (H, W)."""
    if value is None:
        return None
    try:
        items = value.split(",") if isinstance(value, str) else np.atleast_1d(value).tolist()
        dims = tuple(int(v) for v in items)
    except (TypeError, ValueError):
        dims = ()
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise InterfaceGANError(f"onnx scorer: size={value!r} must be a positive int or H,W")
    return dims


def check_time_budget(value, who: str) -> float | None:
    """`time_budget` as positive seconds, or None (no limit) for None / 0; a one-line error otherwise."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise InterfaceGANError(f"{who}: time_budget={value!r} must be a number of seconds >= 0 (0: no limit)")
    return seconds or None


def run_with_budget(session, outputs: list[str] | None, feeds: dict, budget: float | None, what: str) -> list:
    """`session.run(outputs, feeds)` stopped after `budget` seconds (None: no limit) with a one-line error naming
    `what`; other onnxruntime failures propagate unchanged."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = 4  # the terminate flag's own error line would reach stderr otherwise
    watchdog = None
    if budget is not None:
        watchdog = threading.Timer(budget, setattr, (options, "terminate", True))
        watchdog.daemon = True
        watchdog.start()
    try:
        return session.run(outputs, feeds, options)
    except Exception:
        if options.terminate:
            rows = len(next(iter(feeds.values()))) if feeds else 0
            raise InterfaceGANError(
                f"{what} ran past its time budget of {budget:g} s on a batch of {rows} images and was stopped: "
                "pass time_budget=SECONDS (0: no limit) if the model is just slow"
            ) from None
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _static(dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _score_width(tail: Sequence[int]) -> int | None:
    """Scores per image of an output with trailing shape `tail`: (), (k,), (k, 1, 1), ...; None if not scores."""
    wide = [d for d in tail if d != 1]
    return None if len(wide) > 1 else int(np.prod(tail)) if tail else 1


class OnnxScorer(Scorer):
    """Scores from an ONNX model file (see module docstring); CUDA provider when the device is CUDA."""

    def __init__(
        self,
        path: str | Path,
        names: str | Sequence[str] | None = None,
        size: int | Sequence[int] | None = None,
        mean: float | str | Sequence[float] = 0.0,
        std: float | str | Sequence[float] = 1.0,
        output: str | None = None,
        batch_size: int = 64,
        device=None,
        name: str | None = None,
        time_budget: float | None = DEFAULT_TIME_BUDGET,
    ):
        self.path = Path(path)
        self.mean, self.std = _floats(mean, "mean"), _floats(std, "std")
        if np.any(self.std == 0):
            raise InterfaceGANError("onnx scorer: std must not be 0")
        self.batch_size = max(int(batch_size), 1)
        self.time_budget = check_time_budget(time_budget, "onnx scorer")
        self.device = resolve_device(device)
        self._session = self._open(self.device)
        self._bind_input(size)
        self._bind_output(output)
        self.names = self._resolve_names(parse_names(names, "onnx scorer"))
        self.name = name or "onnx-" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.path.stem)
        options = f"{self.size}|{self.mean.tolist()}|{self.std.tolist()}|{self.output_name}"
        digest = hashlib.sha256(self.path.read_bytes() + options.encode()).hexdigest()[:12]
        self.version = f"1+{digest}"

    # ---- loading --------------------------------------------------------------------------------------------
    @property
    def session(self):
        """The onnxruntime session, opened again after unpickling (sessions do not pickle)."""
        if self._session is None:
            self._session = self._open(self.device)
        return self._session

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_session": None}

    def _open(self, device: torch.device):
        if not self.path.is_file():
            raise InterfaceGANError(f"ONNX model {self.path} not found: pass onnx:PATH to an existing .onnx file")
        try:
            import onnxruntime as ort
        except ImportError:
            raise InterfaceGANError("onnxruntime is not installed: run `pip install onnxruntime`") from None
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = onnx_session_options()
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for corrupt or unsupported files
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise InterfaceGANError(f"cannot load ONNX model {self.path}: {reason}") from None

    def _bind_input(self, size) -> None:
        inputs = self.session.get_inputs()
        required = [i for i in inputs if i.name not in {t.name for t in self.session.get_overridable_initializers()}]
        if len(required) != 1:
            raise InterfaceGANError(f"{self.path} has {len(required)} inputs: an image scorer needs exactly one")
        spec = required[0]
        self.input_name, shape = spec.name, list(spec.shape)
        if len(shape) != 4:
            raise InterfaceGANError(f"{self.path} input {spec.name!r} has shape {shape}: expected NCHW (N, 3, H, W)")
        if spec.type not in _FLOAT_TYPES:
            raise InterfaceGANError(f"{self.path} input {spec.name!r} is {spec.type}: only float image inputs work")
        self.input_dtype = _FLOAT_TYPES[spec.type]
        self.channels = _static(shape[1]) or 3
        if self.channels not in (1, 3):
            raise InterfaceGANError(
                f"{self.path} input has {self.channels} channels (shape {shape}): expected NCHW with 3 or 1 channels"
            )
        if self.channels == 1 and (self.mean.size == 3 or self.std.size == 3):
            raise InterfaceGANError(f"{self.path} takes 1 channel: give mean/std as single numbers")
        self.fixed_batch = _static(shape[0])
        declared = (_static(shape[2]), _static(shape[3]))
        wanted = _size(size)
        if all(declared):
            if wanted is not None and wanted != declared:
                raise InterfaceGANError(
                    f"{self.path} declares input size {declared[0]}x{declared[1]}: drop size={size} or match it"
                )
            wanted = declared
        elif any(declared) and wanted is None:
            raise InterfaceGANError(f"{self.path} input shape {shape} is partly dynamic: pass size=H,W")
        self.size = wanted  # None: images go in at their own size

    def _bind_output(self, output: str | None) -> None:
        outputs = self.session.get_outputs()
        if output is None:
            chosen = outputs[0]
        else:
            chosen = next((o for o in outputs if o.name == output), None)
            if chosen is None:
                known = ", ".join(o.name for o in outputs)
                raise InterfaceGANError(f"{self.path} has no output {output!r}: choose one of {known}")
        self.output_name = chosen.name
        tail = list(chosen.shape)[1:]
        self.width: int | None = None  # learnt by a probe run when the output's shape is dynamic
        if all(_static(d) for d in tail):
            self.width = _score_width(tail)
            if self.width is None:
                raise InterfaceGANError(
                    f"{self.path} output {chosen.name!r} has shape {chosen.shape}: expected (N,) or (N, k) scores"
                )

    def _resolve_names(self, names: list[str] | None) -> list[str]:
        if names is None:
            meta = self.session.get_modelmeta().custom_metadata_map.get(NAMES_METADATA_KEY)
            names = parse_names(meta, "onnx scorer") if meta else None
        if self.width is None:
            self.width = len(names) if names is not None else self._probe_width()
        if names is None:
            return [f"onnx_{i}" for i in range(self.width)]
        if len(names) != self.width:
            raise InterfaceGANError(
                f"{self.path} gives {self.width} scores but {len(names)} names were given: pass {self.width} names"
            )
        return names

    def _probe_width(self) -> int:
        side = self.size or (64, 64)
        probe = np.zeros((self.fixed_batch or 1, self.channels, *side), dtype=self.input_dtype)
        return self._run(probe).shape[1]

    # ---- scoring --------------------------------------------------------------------------------------------
    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {name: () for name in self.names}

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) -> model input (N, C, h, w): resized, scaled to [0, 1], normalised."""
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        if self.size is not None and tuple(x.shape[2:]) != self.size:
            x = torch.nn.functional.interpolate(x, size=self.size, mode="bicubic", antialias=True, align_corners=False)
        x = (x.clamp_(0, 255) / 255.0).numpy()
        if self.channels == 1:
            x = np.einsum("nchw,c->nhw", x, LUMA)[:, None]
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        return np.ascontiguousarray(x, dtype=self.input_dtype)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run the model on a prepared batch, in groups of its fixed batch size if it declares one."""
        group = self.fixed_batch or self.batch_size
        out = []
        for i in range(0, len(x), group):
            part = x[i : i + group]
            real = len(part)
            if self.fixed_batch and real < group:  # pad to the declared batch size, drop the padding after
                part = np.concatenate([part, np.zeros((group - real, *part.shape[1:]), part.dtype)])
            try:
                feeds, what = {self.input_name: part}, f"ONNX model {self.path}"
                (y,) = run_with_budget(self.session, [self.output_name], feeds, self.time_budget, what)
            except InterfaceGANError:
                raise
            except Exception as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise InterfaceGANError(
                    f"ONNX model {self.path} failed on input {part.shape}: {reason} (check size/mean/std options)"
                ) from None
            if np.asarray(y).dtype.kind not in "biuf":
                raise InterfaceGANError(f"ONNX model {self.path} returned {np.asarray(y).dtype} values, not numbers")
            y = np.asarray(y, dtype=np.float32)
            if y.ndim == 0 or y.shape[0] != len(part) or _score_width(y.shape[1:]) is None:
                raise InterfaceGANError(
                    f"ONNX model {self.path} returned shape {y.shape} for {len(part)} images: expected (N,) or (N, k)"
                )
            out.append(y.reshape(len(part), -1)[:real])
        return np.concatenate(out) if out else np.zeros((0, self.width or 0), np.float32)

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images = check_images(images, self.name)
        values = self._run(self.preprocess(images)) if len(images) else np.zeros((0, self.width), np.float32)
        if values.shape[1] != self.width:
            raise InterfaceGANError(
                f"ONNX model {self.path} returned {values.shape[1]} scores per image, expected {self.width}"
            )
        return {name: values[:, k].copy() for k, name in enumerate(self.names)}
