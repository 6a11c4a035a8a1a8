"""StyleGAN2 (and StyleGAN2-ADA) generator, written from the paper and NVIDIA's checkpoint format.

Module and parameter names mirror NVIDIA's `G_ema` (`mapping.fc0.weight`, `synthesis.b64.conv0.affine.weight`,
...), so an NVIDIA state dict loads with strict key checking and a rosinality one after renaming
(`interfacegan.models.rosinality`). The parts every style-based family shares (the mapping network,
`StyleGenerator`) live in `interfacegan.models.style_family`.

Inference is in float32 everywhere (NVIDIA's `force_fp32=True`); noise defaults to the stored constant noise
maps (NVIDIA's `noise_mode='const'`) so images are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.models.ops import activation_gain, bias_act, make_filter, modulated_conv2d, upfirdn2d, upsample2d
from interfacegan.models.style_family import FullyConnected, MappingNetwork, StyleGenerator, StyleLayer
from interfacegan.models.weights import build_checked


# ---- StyleGAN2 synthesis -------------------------------------------------------------------------------------
def nvidia_channels(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> dict[int, int]:
    """Feature maps per block resolution, NVIDIA's rule min(channel_base // res, channel_max)."""
    log2 = int(np.log2(resolution))
    return {2**i: min(channel_base // 2**i, channel_max) for i in range(2, log2 + 1)}


@dataclass
class StyleGAN2Config:
    """Everything that fixes a StyleGAN2 generator's shapes and numerics (NVIDIA's init arguments)."""

    z_dim: int = 512
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    channels: dict[int, int] = field(default_factory=dict)  # block resolution -> feature maps
    c_dim: int = 0
    mapping_layers: int = 8
    mapping_layer_features: int | None = None
    mapping_embed_features: int | None = None
    mapping_activation: str = "lrelu"
    mapping_lr_multiplier: float = 0.01
    architecture: str = "skip"  # 'orig', 'skip' or 'resnet'
    conv_clamp: float | None = None
    use_noise: bool = True
    activation: str = "lrelu"
    kernel_size: int = 3
    resample_filter: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)

    def __post_init__(self):
        r = self.img_resolution
        if r < 4 or r & (r - 1):
            raise InterfaceGANError(f"StyleGAN2 resolution must be a power of two >= 4, got {r}")
        if self.architecture not in ("orig", "skip", "resnet"):
            raise InterfaceGANError(f"unknown StyleGAN2 architecture {self.architecture!r}: orig, skip or resnet")
        if not self.channels:
            self.channels = nvidia_channels(r)
        self.channels = {int(k): int(v) for k, v in self.channels.items()}


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x upsampling), noise, bias, activation, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int, cfg: StyleGAN2Config):
        super().__init__()
        k = cfg.kernel_size
        self.resolution, self.up, self.padding = resolution, up, k // 2
        self.activation, self.conv_clamp, self.use_noise = cfg.activation, cfg.conv_clamp, cfg.use_noise
        self.act_gain = activation_gain(cfg.activation)
        self.register_buffer("resample_filter", make_filter(cfg.resample_filter))
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, k, k))
        if cfg.use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, padding=self.padding, up=self.up,
                             resample_filter=self.resample_filter)  # fmt: skip
        if self.use_noise and noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif self.use_noise and noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device) * self.noise_strength
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation (styles scaled by 1/sqrt(fan_in)), bias, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None, kernel_size: int = 1):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, padding=self.weight.shape[-1] // 2)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SkipUp(nn.Module):
    """ResNet shortcut: 1x1 conv (no bias, gain 1/sqrt(fan_in)) then 2x FIR upsampling."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter: tuple[float, ...]):
        super().__init__()
        self.register_buffer("resample_filter", make_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = torch.nn.functional.conv2d(x, self.weight * self.weight_gain)
        fw = self.resample_filter.shape[-1]
        x = upfirdn2d(x, self.resample_filter, up=2, padding=[(fw + 1) // 2, (fw - 2) // 2] * 2, gain=4)
        return x * gain


class SynthesisBlock(nn.Module):
    """One resolution: [const | conv0 (up)] -> conv1 -> [ToRGB], combined per the 'orig'/'skip'/'resnet' design."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, is_last: bool, cfg: StyleGAN2Config):
        super().__init__()
        self.in_channels, self.resolution, self.is_last = in_channels, resolution, is_last
        self.architecture = cfg.architecture
        self.register_buffer("resample_filter", make_filter(cfg.resample_filter))
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, cfg.w_dim, resolution, up=2, cfg=cfg)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, cfg.w_dim, resolution, up=1, cfg=cfg)
        self.num_conv += 1
        if is_last or cfg.architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, cfg.img_channels, cfg.w_dim, cfg.conv_clamp)
            self.num_torgb = 1
        if in_channels != 0 and cfg.architecture == "resnet":
            self.skip = SkipUp(in_channels, out_channels, cfg.resample_filter)

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str):
        """ws (N, num_conv + num_torgb, w_dim); returns features and the running RGB image."""
        if self.in_channels == 0:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = y + self.conv1(x, ws[:, 1], noise_mode, gain=math.sqrt(0.5))
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, ws[:, self.num_conv])
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """W+ codes (N, num_ws, w_dim) -> images (N, img_channels, R, R) through blocks b4 ... bR."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.img_resolution, cfg.img_channels
        log2 = int(np.log2(cfg.img_resolution))
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        missing = [r for r in self.block_resolutions if r not in cfg.channels]
        if missing:
            raise InterfaceGANError(f"StyleGAN2 config lacks channel counts for resolutions {missing}")
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(cfg.channels[res // 2] if res > 4 else 0, cfg.channels[res], res,
                                   is_last=res == cfg.img_resolution, cfg=cfg)  # fmt: skip
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)

    def blocks(self):
        """(block, index of its first W+ code) in order; ToRGB uses the index after its convs."""
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            yield block, w_idx
            w_idx += block.num_conv

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = img = None
        for block, w_idx in self.blocks():
            x, img = block(x, img, ws[:, w_idx : w_idx + block.num_conv + block.num_torgb], noise_mode)
        return img

    def style_layers(self) -> list[StyleLayer]:
        out = []
        for block, w_idx in self.blocks():
            prefix = f"synthesis.b{block.resolution}"
            convs = ["conv0", "conv1"] if block.in_channels else ["conv1"]
            for i, name in enumerate(convs):
                out.append(StyleLayer(w_idx + i, "conv", f"{prefix}.{name}", getattr(block, name).affine))
            if block.num_torgb:
                out.append(StyleLayer(w_idx + block.num_conv, "torgb", f"{prefix}.torgb", block.torgb.affine))
        return sorted(out, key=lambda e: (e.ws_index, e.kind != "conv"))


class StyleGAN2Net(nn.Module):
    """mapping + synthesis with NVIDIA's parameter names."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.cfg = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(
            cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_layer_features,
            cfg.mapping_embed_features, cfg.mapping_activation, cfg.mapping_lr_multiplier,
        )  # fmt: skip


class StyleGAN2Generator(StyleGenerator):
    """A StyleGAN2 / StyleGAN2-ADA generator behind the `Generator` protocol."""

    family = "stylegan2"

    def __init__(self, cfg: StyleGAN2Config, state: dict[str, torch.Tensor] | None = None, name: str = "",
                 spec: str = "", device=None, source: str = "", **options):  # fmt: skip
        where, problem = source or spec or "StyleGAN2 weights", "weights do not fit the architecture"
        net = StyleGAN2Net(cfg) if state is None else build_checked(lambda: StyleGAN2Net(cfg), state, where, problem)
        super().__init__(net, name or f"stylegan2-{cfg.img_resolution}", spec, device,
                         extra={"architecture": cfg.architecture}, **options)  # fmt: skip
        self.cfg = cfg
