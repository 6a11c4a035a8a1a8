"""StyleGAN2 (and StyleGAN2-ADA) generator, written from the paper and NVIDIA's checkpoint format.

Module and parameter names mirror NVIDIA's `G_ema` (`mapping.fc0.weight`, `synthesis.b64.conv0.affine.weight`,
...), so an NVIDIA state dict loads with strict key checking and a rosinality one after renaming
(`interfacegan.models.rosinality`). Also home of the parts every style-based family shares: the mapping
network and `StyleGenerator`, the `Generator` adapter with Z / W / W+ spaces, truncation and SeFa affines.

Inference is in float32 everywhere (NVIDIA's `force_fp32=True`); noise defaults to the stored constant noise
maps (NVIDIA's `noise_mode='const'`) so images are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers
from interfacegan.models.base import Generator, ModelInfo, Truncation
from interfacegan.models.ops import (
    activation_gain,
    bias_act,
    make_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upfirdn2d,
    upsample2d,
)
from interfacegan.models.weights import build_checked

NOISE_MODES = ("const", "none", "random")


# ---- shared building blocks ---------------------------------------------------------------------------------
class FullyConnected(nn.Module):
    """Equalized-learning-rate linear layer: y = act(x (weight * lr/sqrt(in))^T + bias * lr)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0,
                 bias_init: float = 0.0, bias: bool = True):  # fmt: skip
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)) / lr_multiplier) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = None if self.bias is None else self.bias * self.bias_gain
        return bias_act(x @ (self.weight * self.weight_gain).t(), b, act=self.activation)


class MappingNetwork(nn.Module):
    """z (N, z_dim) [+ label c (N, c_dim)] -> w (N, w_dim): normalize, num_layers FC layers; keeps w_avg."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int = 8, layer_features: int | None = None,
                 embed_features: int | None = None, activation: str = "lrelu",
                 lr_multiplier: float = 0.01):  # fmt: skip
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_layers = z_dim, c_dim, w_dim, num_layers
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnected(c_dim, embed_features)
        for idx in range(num_layers):
            fc = FullyConnected(features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", fc)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z.float())
        if self.c_dim > 0:
            if c is None:
                raise InterfaceGANError(f"this generator is conditional (c_dim={self.c_dim}): pass class_idx")
            x = torch.cat([x, normalize_2nd_moment(self.embed(c.float()))], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class StyleLayer(NamedTuple):
    """One style affine: W+ index that drives it, kind ('conv', 'torgb' or 'input'), module path, its affine."""

    ws_index: int
    kind: str
    name: str
    affine: FullyConnected


TORGB_MODES = {False: "none", None: "none", "none": "none", True: "all", "all": "all", "first": "first",
               "last": "last"}  # fmt: skip


class StyleGenerator(Generator):
    """`Generator` adapter for a style-based net with `.mapping` (MappingNetwork) and `.synthesis` (ws -> images).

    `synthesis` must offer `num_ws`, `img_resolution`, `forward(ws (N, num_ws, w_dim), noise_mode)` -> (N, C, H, W)
    and `style_layers()` -> [StyleLayer]. Options: `noise_mode` ('const' default, 'none', 'random': not
    reproducible), `class_idx` for conditional models (label fixed per model instance).
    """

    spaces = ("z", "w", "wp")
    family = "style"

    def __init__(self, net: nn.Module, name: str, spec: str = "", device=None, noise_mode: str = "const",
                 class_idx: int | None = None, extra: dict | None = None):  # fmt: skip
        super().__init__(device)
        if noise_mode not in NOISE_MODES:
            raise InterfaceGANError(f"unknown noise_mode {noise_mode!r}: use one of {', '.join(NOISE_MODES)}")
        self.net = net.to(self.device).eval().requires_grad_(False)
        mapping = net.mapping
        self.z_dim, self.w_dim = int(mapping.z_dim), int(mapping.w_dim)
        self.num_ws = int(net.synthesis.num_ws)
        self.resolution = int(net.synthesis.img_resolution)
        self.name, self.spec = name, spec
        self.noise_mode = noise_mode
        self.extra = dict(extra or {})
        c_dim = int(mapping.c_dim)
        self._label = None
        if c_dim > 0:
            if class_idx is None or not 0 <= int(class_idx) < c_dim:
                raise InterfaceGANError(
                    f"{spec or name} is a conditional generator with {c_dim} classes: pass class_idx=0..{c_dim - 1}"
                )
            self._label = torch.zeros(1, c_dim, device=self.device)
            self._label[0, int(class_idx)] = 1
            self.extra["class_idx"] = int(class_idx)
        elif class_idx is not None:
            raise InterfaceGANError(f"{spec or name} is unconditional: drop class_idx")

    @property
    def info(self) -> ModelInfo:
        info = super().info
        info.extra = {"family": self.family, "num_ws": self.num_ws, "w_dim": self.w_dim,
                      "noise_mode": self.noise_mode, **self.extra}  # fmt: skip
        return info

    def modules(self) -> list[nn.Module]:
        return [self.net]

    @property
    def w_avg(self) -> torch.Tensor:
        """The tracked mean of W (w_dim,), the centre of truncation."""
        return self.net.mapping.w_avg

    def _map(self, z: torch.Tensor, space: str, truncation: Truncation) -> torch.Tensor:
        label = None if self._label is None else self._label.expand(len(z), -1)
        w = self.net.mapping(z, label)
        codes = w if space == "w" else w[:, None, :].repeat(1, self.num_ws, 1)
        return truncation.apply(codes, self.w_avg)

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        if space == "z":
            codes = self._map(codes, "wp", Truncation())
        elif space == "w":
            codes = codes[:, None, :].expand(-1, self.num_ws, -1)
        images = self.net.synthesis(codes, noise_mode=self.noise_mode)
        return images[:, :3] if images.shape[1] >= 3 else images.expand(-1, 3, -1, -1)

    def style_layers(self) -> list[StyleLayer]:
        return list(self.net.synthesis.style_layers())

    def first_affine(self, layers=None, include_torgb: bool | str = False, include_input: bool = False,
                     **options) -> torch.Tensor:  # fmt: skip
        """Style affines of the W+ layers `layers` stacked: (sum of their channels, w_dim), float32 on CPU.

        Each affine is weight * its runtime gain 1/sqrt(w_dim), the linear map from w to that layer's styles
        (the bias does not change directions). `include_torgb`: False / 'none' (conv layers only), True / 'all'
        (every ToRGB at a selected index), 'first' (rosinality's closed_form_factorization: conv layers + the 4x4
        ToRGB), 'last' (official SeFa: conv layers + the final ToRGB). `include_input`: StyleGAN3's Fourier-
        feature affine (4 rows) at W+ index 0.
        """
        if options:
            raise InterfaceGANError(
                f"unknown first_affine option(s) {sorted(options)}: use include_torgb, include_input"
            )
        mode = TORGB_MODES.get(include_torgb if not isinstance(include_torgb, str) else include_torgb.lower())
        if mode is None:
            raise InterfaceGANError(f"bad include_torgb {include_torgb!r}: use none, all, first or last")
        selected = set(parse_layers(layers, self.num_ws))
        entries = self.style_layers()
        torgbs = [e for e in entries if e.kind == "torgb"]
        keep_rgb = {"none": [], "all": torgbs, "first": torgbs[:1], "last": torgbs[-1:]}[mode]
        rows = []
        for e in entries:
            wanted = e.kind == "conv" or (e.kind == "torgb" and e in keep_rgb) or (e.kind == "input" and include_input)
            if wanted and e.ws_index in selected:
                rows.append(e.affine.weight.detach().float() * e.affine.weight_gain)
        if not rows:
            raise InterfaceGANError(
                f"layers {layers!r} select no style affine of {self.name} (ToRGB {mode}, input {include_input}): "
                "choose other layers or include_torgb='all'"
            )
        return torch.cat(rows).cpu()


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
