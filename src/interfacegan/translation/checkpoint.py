"""The translator file: one torch file with both weight sets, the network config and what the edit means.

Layout: {"format": "interfacegan-translator", "version": 1, "config": JSON NetworkConfig, "attribute", "model",
"meta": JSON {metrics, training}, "identity": state dict, "edited": state dict}. Written atomically, read with
`torch.load(weights_only=True)`, so a file can hold only tensors and plain containers, never code.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.weights import read_tagged_file, write_tagged_file
from interfacegan.translation.network import NetworkConfig

TRANSLATOR_FORMAT = "interfacegan-translator"
FORMAT_VERSION = 1
FIX = "give a file written by `interfacegan train-translator`"


def save_translator(translator, path: str | Path) -> Path:
    """Write `translator` (a Translator) to `path` atomically; returns the path."""
    return write_tagged_file(path, TRANSLATOR_FORMAT, FORMAT_VERSION, {
        "config": translator.config.to_json(),
        "attribute": str(translator.attribute),
        "model": str(translator.model),
        "meta": json.dumps({"metrics": translator.metrics, "training": translator.training}, default=float),
        "identity": {k: v.detach().cpu() for k, v in translator.identity.items()},
        "edited": {k: v.detach().cpu() for k, v in translator.edited.items()},
    })


def _state_dict(payload: dict, key: str, path: Path) -> dict:
    value = payload.get(key)
    if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise InterfaceGANError(f"{path} has no usable {key!r} weights: {FIX}")
    return value


def load_translator(path: str | Path, device=None):
    """The Translator stored at `path`; a one-line error for a missing, corrupt or foreign file."""
    from interfacegan.translation.dni import Translator

    path = Path(path)
    payload = read_tagged_file(path, TRANSLATOR_FORMAT, FORMAT_VERSION, "translator", FIX)
    config = NetworkConfig.from_json(str(payload.get("config", "")), str(path))
    try:
        meta = json.loads(payload.get("meta") or "{}")
    except ValueError:
        raise InterfaceGANError(f"{path} has broken metadata: {FIX}") from None
    return Translator(config, _state_dict(payload, "identity", path), _state_dict(payload, "edited", path),
                      attribute=str(payload.get("attribute", "edit")), model=str(payload.get("model", "")),
                      metrics=meta.get("metrics"), training=meta.get("training"), device=device)  # fmt: skip
