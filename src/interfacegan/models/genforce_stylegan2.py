"""genforce / SeFa StyleGAN2 generators (`.pth`, SeFa's model zoo) loaded into our StyleGAN2 module.

The genforce layout (genforce/sefa `models/stylegan2_generator.py`, config F): `mapping.dense{i}` equalized-lr
layers (learning-rate multiplier 0.01, not recorded in the file: option `mapping_lr_mul`), `truncation.w_avg`,
`synthesis.early_layer.const` (1, C, 4, 4), modulated convs `synthesis.layer{i}` (0: the 4x4 conv; then per
resolution block b an up-conv 2b-1 and a conv 2b; layer i is driven by W+ code i), ToRGBs `synthesis.output{b}`
(every block for 'skip', only the last for 'origin', driven by W+ code 2b+1), and fixed FIR kernels
(`*.filter.kernel`, `synthesis.upsample.kernel`). Each `style` affine adds a constant 1 at run time.

Mapped onto NVIDIA's names (`interfacegan.models.stylegan2`) with the same numerics: `style` -> `affine` with the
constant folded into the bias, `noise` (1, 1, R, R) -> `noise_const` (R, R), up-conv weights flipped spatially
(genforce flips them at run time before its transposed convolution, as the TensorFlow original does; NVIDIA's
weights are stored flipped), conv weights kept (their equalized-lr scale cancels in demodulation), ToRGB weights
kept (NVIDIA scales their styles by the same 1/sqrt(fan_in) genforce scales the weights by). SeFa's
`factorize_weight` on such a file uses `synthesis.layer{i}.style.weight` for W+ layers i < L-1 and the last
ToRGB's for i = L-1: exactly `first_affine(layers, include_torgb='last')` of the loaded model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.ops import make_filter
from interfacegan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, StyleGAN2Net

MAPPING_LR_MUL = 0.01
STYLE_LOAD_OPTIONS = {"resolution", "family", "mapping_lr_mul", "generator_key", "name", "spec", "noise_mode"}
RESAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)
RENAMED_PARTS = {"style.weight": "affine.weight", "style.bias": "affine.bias", "noise": "noise_const"}


def is_genforce_stylegan2(keys) -> bool:
    """True when state-dict keys are those of a genforce StyleGAN2 generator."""
    keys = set(keys)
    early = "synthesis.early_layer.const" in keys or "synthesis.early_layer.weight" in keys
    return early and "synthesis.layer0.style.weight" in keys


def stylegan2_config_from_state(state: Mapping[str, torch.Tensor], source: str, mapping_lr_mul=None) -> StyleGAN2Config:
    """Our StyleGAN2Config from a genforce state dict's key names and tensor shapes (refusing what we cannot run)."""
    if "mapping.label_weight" in state:
        raise InterfaceGANError(f"{source} is a class-conditional genforce StyleGAN2: only unconditional ones load")
    if "synthesis.early_layer.weight" in state:
        raise InterfaceGANError(f"{source}: a genforce StyleGAN2 without constant input is not supported")
    num_dense = _count(state, "mapping.dense{}.weight")
    num_convs = _count(state, "synthesis.layer{}.weight")
    if num_dense == 0 or num_convs % 2 == 0:
        found = f"mapping layers {num_dense}, convs {num_convs}"
        raise InterfaceGANError(f"{source}: incomplete genforce StyleGAN2 ({found})")
    dense0 = _shape(state, "mapping.dense0.weight", source, 2)
    w_dim = _shape(state, f"mapping.dense{num_dense - 1}.weight", source, 2)[0]
    if tuple(_shape(state, "truncation.w_avg", source, 1)) != (w_dim,):
        raise InterfaceGANError(f"{source}: per-layer w codes (repeat_w=False) are not supported")
    num_blocks = (num_convs + 1) // 2
    channels = {4 * 2**b: _shape(state, f"synthesis.layer{2 * b}.weight", source, 4)[0] for b in range(num_blocks)}
    outputs = _count(state, "synthesis.output{}.weight")
    if outputs == num_blocks:
        architecture = "skip"
    elif outputs == 0 and f"synthesis.output{num_blocks - 1}.weight" in state:
        architecture = "orig"
    else:
        raise InterfaceGANError(f"{source}: ToRGB layers of an unknown genforce StyleGAN2 architecture")
    image_channels = _shape(state, f"synthesis.output{num_blocks - 1}.weight", source, 4)[0]
    if image_channels not in (1, 3):
        raise InterfaceGANError(f"{source}: {image_channels}-channel images are not supported (RGB or grey only)")
    try:
        lr_mul = float(MAPPING_LR_MUL if mapping_lr_mul is None else mapping_lr_mul)
    except ValueError:
        lr_mul = float("nan")
    if not 0 < lr_mul <= 1:
        raise InterfaceGANError(f"mapping_lr_mul must be in (0, 1], got {mapping_lr_mul!r}")
    return StyleGAN2Config(
        z_dim=dense0[1], w_dim=w_dim, img_resolution=4 * 2 ** (num_blocks - 1), img_channels=image_channels,
        channels=channels, mapping_layers=num_dense, mapping_layer_features=dense0[0] if num_dense > 1 else None,
        mapping_lr_multiplier=lr_mul, architecture=architecture, conv_clamp=None, use_noise=True,
    )  # fmt: skip


def genforce_to_nvidia(state: Mapping[str, torch.Tensor], cfg: StyleGAN2Config, source: str) -> dict:
    """The genforce state dict under NVIDIA's names (see the module docstring); unknown keys are kept as they are,
    so the architecture check names them. The FIR kernels, checked to be the standard ones, become NVIDIA's
    `resample_filter` buffers."""
    _check_kernels(state, source)
    with torch.device("meta"):
        filters = [k for k in StyleGAN2Net(cfg).state_dict() if k.endswith("resample_filter")]
    out: dict[str, torch.Tensor] = {k: make_filter(RESAMPLE_TAPS) for k in filters}
    names = _layer_names(cfg)
    for key, value in state.items():
        if key.endswith("filter.kernel") or key == "synthesis.upsample.kernel":
            continue
        m = re.fullmatch(r"mapping\.dense(\d+)\.(weight|bias)", key)
        if m:
            out[f"mapping.fc{m[1]}.{m[2]}"] = value
            continue
        if key == "truncation.w_avg":
            out["mapping.w_avg"] = value
            continue
        if key == "synthesis.early_layer.const" and value.ndim == 4:
            out["synthesis.b4.const"] = value[0]
            continue
        m = re.fullmatch(r"synthesis\.((?:layer|output)\d+)\.(weight|bias|style\.weight|style\.bias|noise\w*)", key)
        if m and m[1] in names:
            target, part = names[m[1]], m[2]
            if part == "weight" and target.endswith("conv0"):
                value = value.flip(2, 3)
            elif part == "style.bias":
                value = value + 1.0
            elif part == "noise" and value.ndim == 4:
                value = value[0, 0]
            part = RENAMED_PARTS.get(part, part)
            out[f"{target}.{part}"] = value
            continue
        out[key] = value
    return out


def load_genforce_stylegan2(state: Mapping[str, torch.Tensor], source: str, where: str, device=None,
                            **options) -> StyleGAN2Generator:  # fmt: skip
    """A StyleGAN2Generator from a genforce StyleGAN2 state dict (found at `where` in the file)."""
    unknown = sorted(set(options) - STYLE_LOAD_OPTIONS)
    if unknown:
        raise InterfaceGANError(
            f"option(s) {', '.join(unknown)} do not apply to {source}, a genforce StyleGAN2: use "
            f"{', '.join(sorted(STYLE_LOAD_OPTIONS - {'family', 'spec', 'name'}))}"
        )
    cfg = stylegan2_config_from_state(state, source, options.get("mapping_lr_mul"))
    if options.get("resolution") is not None and str(options["resolution"]) != str(cfg.img_resolution):
        raise InterfaceGANError(
            f"{source} is a {cfg.img_resolution}x{cfg.img_resolution} StyleGAN2, not {options['resolution']}: "
            f"drop the resolution option or pass {cfg.img_resolution}"
        )
    model = StyleGAN2Generator(cfg, genforce_to_nvidia(state, cfg, source), name=options.get("name") or
                               f"stylegan2-{Path(source).stem}", spec=options.get("spec") or "", device=device,
                               source=source, noise_mode=options.get("noise_mode") or "const")  # fmt: skip
    model.extra.update({"format": "genforce", "layout": "genforce", "weights": where})
    return model


def _layer_names(cfg: StyleGAN2Config) -> dict[str, str]:
    """genforce module name -> NVIDIA module path, e.g. 'layer3' -> 'synthesis.b16.conv0'."""
    names = {"layer0": "synthesis.b4.conv1"}
    resolutions = sorted(cfg.channels)
    for b, res in enumerate(resolutions):
        if b:
            names[f"layer{2 * b - 1}"] = f"synthesis.b{res}.conv0"
            names[f"layer{2 * b}"] = f"synthesis.b{res}.conv1"
        if cfg.architecture == "skip" or b == len(resolutions) - 1:
            names[f"output{b}"] = f"synthesis.b{res}.torgb"
    return names


def _check_kernels(state: Mapping[str, torch.Tensor], source: str) -> None:
    """The stored FIR kernels must be the standard [1, 3, 3, 1] filter (x4 gain), the one our module uses."""
    expected = make_filter(RESAMPLE_TAPS) * 4
    for key, value in state.items():
        if key.endswith("filter.kernel") or key == "synthesis.upsample.kernel":
            kernel = value.reshape(value.shape[-2:]) if value.ndim >= 2 and value[..., 0, 0].numel() == 1 else None
            if kernel is None or kernel.shape != expected.shape or not torch.allclose(kernel.float(), expected):
                raise InterfaceGANError(f"{source}: {key!r} is not the standard [1,3,3,1] resampling filter")


def _count(state: Mapping, pattern: str) -> int:
    n = 0
    while pattern.format(n) in state:
        n += 1
    return n


def _shape(state: Mapping[str, torch.Tensor], key: str, source: str, ndim: int) -> tuple[int, ...]:
    value = state.get(key)
    if not isinstance(value, torch.Tensor) or value.ndim != ndim:
        found = "missing" if value is None else f"of shape {tuple(getattr(value, 'shape', ()))}"
        raise InterfaceGANError(f"{source}: {key!r} is {found}: not a genforce StyleGAN2 generator")
    return tuple(int(d) for d in value.shape)
