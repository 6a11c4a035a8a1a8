"""Bring-your-own scorer as plain Python: spec `package.module:function` (the user's own code, on request).

`function(images, **options)` gets uint8 images (N, H, W, 3) and returns either a dict {name: array (N,) or
(N, k)} or one array: (N,) is one score named after the function, (N, k) k scores named `names` or
`<function>_0 .. _{k-1}`. Output names and shapes must be known before scoring starts; they come from, in
order, the `names` option, an `outputs` attribute on the function ({name: trailing shape} or a list of scalar
names), or one probe call on two mid-grey `probe_size` images. An optional `version` attribute is recorded.
"""

from __future__ import annotations

import importlib
import re
from typing import Callable, Sequence

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import Scorer, check_images, parse_names


def _resolve(spec: str) -> Callable:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InterfaceGANError(f"scorer spec {spec!r} is not of the form package.module:function")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise InterfaceGANError(
            f"cannot import module {module_name!r} for scorer {spec!r} ({exc}): check the name and that it is on "
            "PYTHONPATH"
        ) from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InterfaceGANError(f"module {module_name!r} has no {attr!r}: check the function name in {spec!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InterfaceGANError(f"{spec!r} is not callable: point the spec at a function images -> scores")
    return target


class CallableScorer(Scorer):
    """Scores from a Python callable (see module docstring)."""

    def __init__(
        self,
        function: Callable,
        names: str | Sequence[str] | None = None,
        probe_size: int = 64,
        name: str | None = None,
        **options,
    ):
        self.function = function
        self.options = options
        label = getattr(function, "__qualname__", None) or type(function).__name__
        module = getattr(function, "__module__", None) or "callable"
        self.spec = f"{module}:{label}"
        self.name = name or re.sub(r"[^A-Za-z0-9_.-]", "_", f"{module}.{label}")
        self._short = re.sub(r"[^A-Za-z0-9_]", "_", label.split(".")[-1])
        self.version = f"1+{getattr(function, 'version', '0')}"
        self._outputs = self._declared_outputs(names)
        if self._outputs is None:
            self._outputs = self._probe(probe_size)

    @classmethod
    def from_spec(cls, spec: str, **options) -> CallableScorer:
        """`package.module:function` (or `module:Class.method`) -> a scorer calling it."""
        return cls(_resolve(spec), **options)

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return dict(self._outputs)

    def _declared_outputs(self, names) -> dict[str, tuple[int, ...]] | None:
        self.names = parse_names(names, f"scorer {self.spec!r}")
        if self.names is not None:
            return {n: () for n in self.names}
        declared = getattr(self.function, "outputs", None)
        if declared is None:
            return None
        try:
            if isinstance(declared, dict):
                return {str(k): tuple(int(d) for d in v) for k, v in declared.items()}
            return {str(k): () for k in declared}
        except (TypeError, ValueError):
            raise InterfaceGANError(
                f"{self.spec}.outputs must be {{name: trailing shape}} or a list of names, got {declared!r}"
            ) from None

    def _probe(self, size: int) -> dict[str, tuple[int, ...]]:
        images = np.full((2, int(size), int(size), 3), 128, np.uint8)
        try:
            result = self._call(images)
        except InterfaceGANError:
            raise
        except Exception as exc:
            raise InterfaceGANError(
                f"probing {self.spec} on blank images failed ({type(exc).__name__}: {exc}): declare "
                f"`{self._short}.outputs = {{'name': ()}}` or pass names="
            ) from None
        return {name: value.shape[1:] for name, value in result.items()}

    def _call(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Call the function and normalise its result to {name: float32 (N, ...)}; check the row count."""
        result = self.function(images, **self.options)
        n = len(images)
        if not isinstance(result, dict):
            array = self._as_float(result, "its result")
            if array.ndim == 1 and array.shape[0] == n:
                array = array[:, None]
            if array.ndim != 2 or array.shape[0] != n:
                raise InterfaceGANError(
                    f"{self.spec} returned an array of shape {array.shape} for {n} images: return (N,) or (N, k), "
                    "or a dict of them"
                )
            names = self.names or (
                [self._short] if array.shape[1] == 1 else [f"{self._short}_{k}" for k in range(array.shape[1])]
            )
            if len(names) != array.shape[1]:
                raise InterfaceGANError(
                    f"{self.spec} returned {array.shape[1]} scores per image for {len(names)} names: make them match"
                )
            return {name: array[:, k] for k, name in enumerate(names)}
        out = {}
        for key, value in result.items():
            array = self._as_float(value, f"output {key!r}")
            if array.ndim == 0 or array.shape[0] != n:
                raise InterfaceGANError(
                    f"{self.spec} returned {key!r} of shape {array.shape} for {n} images: its first axis must be N"
                )
            out[str(key)] = array
        return out

    def _as_float(self, value, what: str) -> np.ndarray:
        try:
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            return np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise InterfaceGANError(f"{self.spec} returned non-numeric {what}: return float arrays") from None

    def score(self, images: np.ndarray, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images = check_images(images, self.name)
        result = self._call(images)
        for name, tail in self._outputs.items():
            if name not in result:
                raise InterfaceGANError(f"{self.spec} returned no {name!r}: it returned {sorted(result)}")
            if result[name].shape[1:] != tail:
                expected = (len(images), *tail)
                raise InterfaceGANError(
                    f"{self.spec} returned {name!r} of shape {result[name].shape}, expected {expected} as declared"
                )
        return {name: np.ascontiguousarray(result[name]) for name in self._outputs}
