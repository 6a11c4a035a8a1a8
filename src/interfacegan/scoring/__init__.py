"""Scorer plugins behind the `Scorer` protocol, and a registry that loads one from a spec string.

Specs: `face`, `identity`, `gender`, `age`, `toy`, `onnx:PATH.onnx`, `csv:PATH.csv` (labels keyed by sample
index), or `module:function` (a Python callable images -> {name: scores}). Options ride along as a query, as for
checkpoints: `face?framing=ffhq`, `gender?box=0.2,0.3,0.8,0.9&batch_size=32` (see `framed.py`),
`onnx:model.onnx?names=a,b&time_budget=30`. Third-party packages add scorers through the `interfacegan.scorers`
entry-point group.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from importlib.metadata import entry_points
from typing import Callable

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import Scorer

# name -> "module:factory", imported lazily so that e.g. dlib loads only when the face scorer is used.
_BUILTIN: dict[str, str] = {
    "face": "interfacegan.scoring.face:FaceScorer",
    "identity": "interfacegan.scoring.identity:IdentityScorer",
    "gender": "interfacegan.scoring.demographics:GenderScorer",
    "age": "interfacegan.scoring.demographics:AgeScorer",
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


def _build(name: str, factory: Callable[..., Scorer], options: dict) -> Scorer:
    """`factory(**options)`; options it does not take are a one-line error listing those it does."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        unknown = sorted(set(options) - set(signature.parameters))
        if unknown:
            known = ", ".join(p for p in signature.parameters if p != "self") or "none"
            raise InterfaceGANError(f"scorer {name!r} has no option {', '.join(unknown)}: its options are {known}")
    return factory(**options)


def load_scorer(spec: str | Scorer, **options) -> Scorer:
    """Load the scorer named by `spec` (see module docstring); a Scorer instance is returned unchanged."""
    if isinstance(spec, Scorer):
        return spec
    from interfacegan.models.checkpoints import _split_query  # the one parser of `?a=1&b=2` spec options

    text = spec
    prefix, sep, rest = spec.partition(":")
    if sep:
        rest, query = _split_query(rest)
        spec = f"{prefix}:{rest}"
    else:
        spec, query = _split_query(spec)
    options = {**query, **options}
    if spec in _EXTRA:
        return _build(spec, _EXTRA[spec], options)
    if spec in _BUILTIN:
        return _build(spec, _import(_BUILTIN[spec]), options)
    plugin = next((ep for ep in entry_points(group="interfacegan.scorers") if ep.name == spec), None)
    if plugin is not None:
        return _build(spec, plugin.load(), options)
    if query and not sep:
        raise InterfaceGANError(f"unknown scorer {spec!r} in {text!r}: use one of {', '.join(available_scorers())}")
    if sep and prefix in _PREFIXED:
        return _build(prefix, _import(_PREFIXED[prefix]), {"path": rest, **options})
    if sep and rest:
        from interfacegan.scoring.callable import CallableScorer

        return CallableScorer.from_spec(spec, **options)
    raise InterfaceGANError(f"unknown scorer {spec!r}: use one of {', '.join(available_scorers())}")


__all__ = ["Scorer", "available_scorers", "load_scorer", "register_scorer"]
