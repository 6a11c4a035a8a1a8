"""Model plugins behind the `Generator` protocol, and a registry that loads one from a spec string.

A spec is a registered name (`dcgan-digiface`, `toy`) or a checkpoint reference `FORMAT:PATH` handled by
`interfacegan.models.checkpoints`. Third-party packages add models through the
`interfacegan.models` entry-point group: `name = "package.module:factory"`, factory(device=..., **options).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from interfacegan.errors import InterfaceGANError
from interfacegan.models.base import Generator, ModelInfo, Truncation, gaussian_codes, to_uint8
from interfacegan.models.dcgan import load_dcgan_digiface
from interfacegan.models.toy import ToyGenerator

ModelFactory = Callable[..., Generator]

_REGISTRY: dict[str, ModelFactory] = {
    "dcgan-digiface": load_dcgan_digiface,
    "toy": ToyGenerator,
}


def register_model(name: str, factory: ModelFactory) -> None:
    """Make `load_model(name)` call `factory(device=..., **options)`."""
    _REGISTRY[name] = factory


def available_models() -> list[str]:
    """Names that load_model accepts without a checkpoint path."""
    names = set(_REGISTRY)
    names.update(ep.name for ep in entry_points(group="interfacegan.models"))
    return sorted(names)


def load_model(spec: str, device=None, **options) -> Generator:
    """Load the generator named by `spec` on `device` (None/'auto' picks CUDA when present)."""
    if "format" in options and (spec in _REGISTRY or ":" not in spec and not Path(spec).exists()):
        raise InterfaceGANError(f"`format` applies to checkpoint files, not to the built-in model {spec!r}: drop it")
    if spec in _REGISTRY:
        model = _REGISTRY[spec](device=device, **options)
    else:
        plugin = next((ep for ep in entry_points(group="interfacegan.models") if ep.name == spec), None)
        if plugin is not None:
            model = plugin.load()(device=device, **options)
        else:
            model = _load_checkpoint_spec(spec, device, **options)
    model.spec = model.spec or spec
    return model


def _load_checkpoint_spec(spec: str, device, **options) -> Generator:
    from interfacegan.models import checkpoints

    if checkpoints.looks_like_checkpoint_spec(spec):
        return checkpoints.load_checkpoint_spec(spec, device=device, **options)
    raise InterfaceGANError(
        f"unknown model {spec!r}: use one of {', '.join(available_models())} or FORMAT:PATH to a checkpoint"
    )


__all__ = [
    "Generator",
    "ModelInfo",
    "Truncation",
    "ToyGenerator",
    "available_models",
    "gaussian_codes",
    "load_model",
    "register_model",
    "to_uint8",
]
