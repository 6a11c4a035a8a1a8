"""Finding, bounding and reading `pytorch-pretrained-biggan` checkpoints into a `BigGANGenerator`.

A checkpoint is a folder holding `config.json` and `pytorch_model.bin` (what the package's converter writes), or
one of those two files with the other beside it (also under the package's cache names `NAME-config.json`,
`NAME-pytorch_model.bin`). The config is read as bounded JSON and every field is type- and range-checked; the
weights through `read_torch_checkpoint` (weights only, sizes bounded by the file); the network is checked against
them on the meta device before it is allocated.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.biggan import BigGANConfig, BigGANGenerator, BigGANNet, spectral_normalized
from interfacegan.models.weights import build_checked, read_torch_checkpoint

WEIGHTS_NAME, CONFIG_NAME = "pytorch_model.bin", "config.json"
OPTIONS = ("class_idx", "truncation")
MAX_CONFIG_BYTES = 1 << 20
MAX_RESOLUTION = 2048
# config field -> (smallest, largest) accepted value
INT_FIELDS = {"z_dim": (1, 4096), "num_classes": (1, 100_000), "channel_width": (1, 1024), "n_stats": (2, 10_001),
              "attention_layer_position": (-1, 1024)}  # fmt: skip


def biggan_files(path: str | Path) -> tuple[Path, Path] | None:
    """(weights, config) of a BigGAN checkpoint folder or file, or None when `path` is neither."""
    path = Path(path)
    if path.is_dir():
        weights, config = path / WEIGHTS_NAME, path / CONFIG_NAME
    elif path.is_file() and path.name.endswith((WEIGHTS_NAME, CONFIG_NAME)):
        suffix = WEIGHTS_NAME if path.name.endswith(WEIGHTS_NAME) else CONFIG_NAME
        prefix = path.name[: -len(suffix)]
        weights, config = path.with_name(prefix + WEIGHTS_NAME), path.with_name(prefix + CONFIG_NAME)
    else:
        return None
    return (weights, config) if weights.is_file() and config.is_file() else None


def is_biggan_state(obj) -> bool:
    """True when a loaded torch file is the state dict of a `pytorch_pretrained_biggan.BigGAN`."""
    return isinstance(obj, dict) and "embeddings.weight" in obj and "generator.gen_z.weight_orig" in obj


def read_config(path: Path) -> BigGANConfig:
    """The architecture fields of a package config.json, each checked for type and range (one line otherwise)."""
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise InterfaceGANError(f"{path} is {size} bytes, too large for a BigGAN config.json: not a BigGAN checkpoint")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InterfaceGANError(f"{path} is not valid JSON ({type(exc).__name__}): not a BigGAN config") from None
    if not isinstance(data, dict):
        raise InterfaceGANError(f"{path} holds a {type(data).__name__}, not a BigGAN config object")
    fields = {name: _int_field(data, name, lo, hi, path) for name, (lo, hi) in INT_FIELDS.items() if name in data}
    missing = [name for name in ("z_dim", "num_classes", "channel_width", "layers") if name not in data]
    if missing:
        raise InterfaceGANError(f"{path} lacks {', '.join(missing)}: not a BigGAN config")
    eps = data.get("eps", 1e-4)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1 or not math.isfinite(eps):
        raise InterfaceGANError(f"{path}: eps must be a number in (0, 1), got {eps!r}")
    cfg = BigGANConfig(layers=_layers(data["layers"], path), eps=float(eps),
                       attention_layer_position=fields.pop("attention_layer_position", -1), **fields)  # fmt: skip
    if cfg.resolution > MAX_RESOLUTION or data.get("output_dim", cfg.resolution) != cfg.resolution:
        raise InterfaceGANError(
            f"{path}: the layers make {cfg.resolution} px images (output_dim {data.get('output_dim')!r}); "
            f"BigGAN configs up to {MAX_RESOLUTION} px whose output_dim matches are read"
        )
    return cfg


def _int_field(data: dict, name: str, lo: int, hi: int, path: Path) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InterfaceGANError(f"{path}: {name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _layers(value, path: Path) -> tuple[tuple[bool, int, int], ...]:
    """The (upsample, in, out) channel multipliers: in of the first is 16 (gen_z's output), out of the last is 1
    (the final batch norm's width), each block keeps or halves its channels."""
    if not isinstance(value, list) or not 1 <= len(value) <= 64:
        raise InterfaceGANError(f"{path}: layers must be a list of 1 to 64 [upsample, in, out] entries")
    layers = []
    for entry in value:
        ok = isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], bool)
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 64 for v in entry[1:])
        if not ok or entry[2] not in (entry[1], entry[1] // 2):
            raise InterfaceGANError(f"{path}: bad layer {entry!r}: use [upsample, in, out] with out = in or in / 2")
        layers.append((entry[0], entry[1], entry[2]))
    chained = all(a[2] == b[1] for a, b in zip(layers, layers[1:]))
    if not chained or layers[0][1] != 16 or layers[-1][2] != 1:
        raise InterfaceGANError(f"{path}: layers must chain from 16 x channel_width down to 1 x channel_width")
    return tuple(layers)


def load_biggan(path: str | Path, device=None, checkpoint=None, **options) -> BigGANGenerator:
    """The BigGAN of a checkpoint folder or file; options `class_idx` (default 207 when the model has it) and
    `truncation` (default 0.4) are recorded in the spec."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InterfaceGANError(f"unknown option(s) {', '.join(unknown)} for a BigGAN: use {', '.join(OPTIONS)}")
    files = biggan_files(path)
    if files is None:
        raise InterfaceGANError(
            f"{path}: not a BigGAN checkpoint: give a folder with {CONFIG_NAME} and {WEIGHTS_NAME}, or one of them "
            "with the other beside it"
        )
    weights, config_path = files
    cfg = read_config(config_path)
    state = read_torch_checkpoint(weights) if checkpoint is None else checkpoint
    source = str(weights)
    if not is_biggan_state(state) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InterfaceGANError(f"{source}: not a pytorch-pretrained-biggan state dict (no embeddings / gen_z)")
    state = spectral_normalized(state, source)
    embed = state["embeddings.weight"]
    if embed.ndim != 2 or embed.shape[1] != cfg.num_classes or not 1 <= embed.shape[0] <= 4096:
        shape = tuple(embed.shape)
        raise InterfaceGANError(f"{source}: embeddings of shape {shape} do not fit {cfg.num_classes} classes")
    net = build_checked(lambda: BigGANNet(cfg, int(embed.shape[0])), state, source, f"weights do not fit {config_path}")
    model = BigGANGenerator(cfg, net, device=device, source=str(path), **options)
    where = Path(path).resolve()
    model.spec = f"biggan:{where}?class_idx={model.class_idx}&truncation={model.truncation!r}"
    return model
