"""Scorer plugins behind the `Scorer` protocol, and a registry that loads one from a spec string.

Specs: `face`, `identity`, `toy`, `onnx:PATH.onnx`, `csv:PATH.csv` (labels keyed by sample index), or
`module:function` (a Python callable images -> {name: scores}). Third-party packages add scorers through the
`interfacegan.scorers` entry-point group.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Callable

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import Scorer

# name -> "module:factory", imported lazily so that e.g. dlib loads only when the face scorer is used.
_BUILTIN: dict[str, str] = {
    "face": "interfacegan.scoring.face:FaceScorer",
    "identity": "interfacegan.scoring.identity:IdentityScorer",
    "toy": "interfacegan.scoring.toy:ToyScorer",
}
# prefix -> "module:factory(argument)" for specs of the form PREFIX:ARGUMENT
_PREFIXED: dict[str, str] = {
    "onnx": "interfacegan.scoring.onnx:OnnxScorer",
    "csv": "interfacegan.scoring.labels:LabelScorer",
}
_EXTRA: dict[str, Callable[..., Scorer]] = {}


def register_scorer(name: str, factory: Callable[..., Scorer]) -> None:
    """Make `load_scorer(name)` call `factory(**options)`."""
    _EXTRA[name] = factory


def available_scorers() -> list[str]:
    names = set(_BUILTIN) | set(_EXTRA)
    names.update(ep.name for ep in entry_points(group="interfacegan.scorers"))
    return sorted(names) + [f"{p}:PATH" for p in _PREFIXED] + ["module:function"]


def _import(target: str):
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def load_scorer(spec: str | Scorer, **options) -> Scorer:
    """Load the scorer named by `spec` (see module docstring); a Scorer instance is returned unchanged."""
    if isinstance(spec, Scorer):
        return spec
    if spec in _EXTRA:
        return _EXTRA[spec](**options)
    if spec in _BUILTIN:
        return _import(_BUILTIN[spec])(**options)
    plugin = next((ep for ep in entry_points(group="interfacegan.scorers") if ep.name == spec), None)
    if plugin is not None:
        return plugin.load()(**options)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in _PREFIXED:
        return _import(_PREFIXED[prefix])(rest, **options)
    if sep and rest:
        from interfacegan.scoring.callable import CallableScorer

        return CallableScorer.from_spec(spec, **options)
    raise InterfaceGANError(f"unknown scorer {spec!r}: use one of {', '.join(available_scorers())}")


__all__ = ["Scorer", "available_scorers", "load_scorer", "register_scorer"]
