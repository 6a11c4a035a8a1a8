"""The translator file: one torch file with both weight sets, the network config and what the edit means.

Layout: {"format": "interfacegan-translator", "version": 1, "config": JSON NetworkConfig, "attribute", "model",
"meta": JSON {metrics, training}, "identity": state dict, "edited": state dict}. Written atomically, read with
`torch.load(weights_only=True)`, so a file can hold only tensors and plain containers, never code. The config's
fields are type- and range-checked and the network it describes is checked against both weight sets on the meta
device before anything is allocated.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.weights import check_buildable, read_json_config, read_tagged_file, write_tagged_file
from interfacegan.translation.network import NetworkConfig, build_network

TRANSLATOR_FORMAT = "interfacegan-translator"
FORMAT_VERSION = 1
FIX = "give a file written by `interfacegan train-translator`"
# field -> (types, low, high, required) of the stored NetworkConfig
CONFIG_FIELDS = {"resolution": ((int,), 4, 4096, True), "width": ((int,), 1, 4096, False),
                 "max_width": ((int,), 1, 4096, False), "depth": ((int, type(None)), 0, 12, False)}  # fmt: skip


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
    config = NetworkConfig(**read_json_config(payload.get("config"), CONFIG_FIELDS, str(path), "network", FIX))
    try:
        meta = json.loads(payload.get("meta") or "{}")
    except (ValueError, TypeError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k) or {}, dict) for k in ("metrics", "training")):
        raise InterfaceGANError(f"{path} has broken metadata: {FIX}")
    identity, edited = _state_dict(payload, "identity", path), _state_dict(payload, "edited", path)
    for state in (identity, edited):
        check_buildable(lambda: build_network(config), state, str(path), f"weights do not fit the config ({FIX})")
    return Translator(config, identity, edited,
                      attribute=str(payload.get("attribute", "edit")), model=str(payload.get("model", "")),
                      metrics=meta.get("metrics"), training=meta.get("training"), device=device)  # fmt: skip
