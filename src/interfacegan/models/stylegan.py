"""StyleGAN (v1, Karras et al., CVPR 2019) generator, written from the paper and the genforce `.pth` format.

Parameter names follow genforce's StyleGAN (`mapping.dense{i}.*`, `truncation.w_avg`, `synthesis.layer{i}.*`,
`synthesis.output{b}.*`), so a genforce state dict loads with `load_state_dict(strict=True)`.
Mapping: pixel norm of z, then `mapping_layers` dense layers with leaky ReLU(0.2) on every one, equalized LR
with learning-rate multiplier 0.01. Synthesis layer i (W+ row i): [const 4x4 | 2x upsample + 3x3 conv + blur |
3x3 conv] -> + stored noise * per-channel weight -> + bias -> leaky ReLU -> instance norm -> AdaIN style
x * (1 + s_scale) + s_bias with s = A_i w + b_i. ToRGB is a 1x1 conv with gain 1. Upsampling is nearest +
conv below 128px and a fused stride-2 transposed conv from 128px on (the official `fused_scale='auto'`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from interfacegan.layers import parse_layers
from interfacegan.models.base import Generator, ModelInfo, Truncation
from interfacegan.models.pggan import (
    GAIN,
    INIT_RES,
    LRELU_SLOPE,
    NORM_EPS,
    fused_transpose_kernel,
    pixel_norm,
    progressive_image,
    to_rgb3,
    upsample2x,
)

MAPPING_LR_MUL = 0.01
# The official StyleGAN truncation (psi 0.7 on the first 8 W+ layers); callers pass it explicitly.
OFFICIAL_TRUNCATION = Truncation(psi=0.7, cutoff=8)
AUTO_FUSED_MIN_RES = 128


def blur_kernel(channels: int) -> torch.Tensor:
    """Depthwise (channels, 1, 3, 3) kernel of the normalized [1, 2, 1] x [1, 2, 1] binomial filter."""
    k = torch.tensor([1.0, 2.0, 1.0])
    k = torch.outer(k, k) / 16.0
    return k.expand(channels, 1, 3, 3).contiguous()


def instance_norm(x: torch.Tensor, eps: float = NORM_EPS) -> torch.Tensor:
    """Zero mean, unit RMS per sample and channel over the spatial dims."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + eps)


class Dense(nn.Module):
    """Equalized-LR dense layer: y = x (W * gain / sqrt(in) * lr_mul)^T + b * lr_mul, then [leaky ReLU]."""

    def __init__(self, in_features: int, out_features: int, lr_mul: float = 1.0, gain: float = GAIN, act=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale, self.lr_mul, self.act = gain / math.sqrt(in_features) * lr_mul, lr_mul, act

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.effective_weight(), self.bias * self.lr_mul)
        return F.leaky_relu(x, LRELU_SLOPE) if self.act else x


class MappingNet(nn.Module):
    """z (N, z_dim) -> w (N, w_dim): pixel norm, then `num_layers` equalized-LR dense + leaky ReLU."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int = 8, hidden: int | None = None, lr_mul=MAPPING_LR_MUL):
        super().__init__()
        self.num_layers = num_layers
        hidden = hidden or w_dim
        for i in range(num_layers):
            fan_in = z_dim if i == 0 else hidden
            fan_out = w_dim if i == num_layers - 1 else hidden
            self.add_module(f"dense{i}", Dense(fan_in, fan_out, lr_mul=lr_mul))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z)
        for i in range(self.num_layers):
            w = getattr(self, f"dense{i}")(w)
        return w


class AverageW(nn.Module):
    """Holds `w_avg` (w_dim,), the running mean of w used by truncation (key `truncation.w_avg`)."""

    def __init__(self, w_dim: int):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(w_dim))


class NoiseInput(nn.Module):
    """Adds the stored noise map times a learned weight (deterministic: the checkpoint's noise buffer).

    'spatial' noise (the official one): noise (1, 1, R, R), weight (C,); genforce's 'channel' variant:
    noise (1, C, 1, 1), weight (R, R).
    """

    def __init__(self, resolution: int, channels: int, kind: str = "spatial"):
        super().__init__()
        self.kind = kind
        if kind == "spatial":
            self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))
            self.weight = nn.Parameter(torch.zeros(channels))
        else:
            self.register_buffer("noise", torch.randn(1, channels, 1, 1))
            self.weight = nn.Parameter(torch.zeros(resolution, resolution))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.view(1, -1, 1, 1) if self.kind == "spatial" else self.weight[None, None]
        return x + self.noise * weight


class Blur(nn.Module):
    """Depthwise 3x3 blur with the stored kernel (C, 1, 3, 3), padding 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", blur_kernel(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, padding=1, groups=x.shape[1])


class StyleLayer(nn.Module):
    """One synthesis layer (one W+ row); see the module docstring for the order of operations.

    kind: 'const' (learned 4x4 input), 'dense' (w -> 4x4 through a 4x4 kernel, genforce's const_input=False),
    'up' (2x nearest + 3x3 conv + blur), 'fused' (stride-2 transposed conv + blur) or 'conv' (3x3 conv).
    Conv weights are (out, in, k, k) in every kind, as genforce stores them.
    """

    def __init__(self, kind: str, in_channels: int, out_channels: int, resolution: int, w_dim: int, noise="spatial"):
        super().__init__()
        self.kind = kind
        if kind == "const":
            self.const = nn.Parameter(torch.ones(1, out_channels, resolution, resolution))
        else:
            k = INIT_RES if kind == "dense" else 3
            self.weight = nn.Parameter(torch.randn(out_channels, in_channels, k, k))
            self.scale = GAIN / math.sqrt(in_channels * k * k)
        if kind in ("up", "fused"):
            self.blur = Blur(out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.apply_noise = NoiseInput(resolution, out_channels, noise)
        self.style = Dense(w_dim, 2 * out_channels, gain=1.0, act=False)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor | None, w: torch.Tensor) -> torch.Tensor:
        if self.kind == "const":
            x = self.const.expand(len(w), -1, -1, -1)
        else:
            weight = self.weight * self.scale
            if self.kind == "dense":
                x = F.conv2d(w.reshape(len(w), -1, 1, 1), weight, padding=INIT_RES - 1)
            elif self.kind == "fused":
                x = F.conv_transpose2d(x, fused_transpose_kernel(weight.transpose(0, 1)), stride=2, padding=1)
            else:
                x = F.conv2d(upsample2x(x) if self.kind == "up" else x, weight, padding=1)
            if self.kind in ("up", "fused"):
                x = self.blur(x)
        x = self.apply_noise(x) + self.bias.view(1, -1, 1, 1)
        x = instance_norm(F.leaky_relu(x, LRELU_SLOPE))
        style = self.style(w).view(len(w), 2, self.out_channels, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class ToRGB(nn.Module):
    """1x1 equalized-LR conv (gain 1) + bias: features (N, C, R, R) -> image (N, image_channels, R, R)."""

    def __init__(self, in_channels: int, image_channels: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(image_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(image_channels))
        self.scale = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias)


class SynthesisNet(nn.Module):
    """W+ codes (N, num_ws, w_dim) -> image; `channels[b]` feature maps at 4 * 2**b, `fused[b]` per block."""

    def __init__(
        self,
        w_dim: int,
        channels: list[int],
        fused: list[bool] | None = None,
        image_channels: int = 3,
        const_input: bool = True,
        noise: str = "spatial",
        final_tanh: bool = False,
    ):
        super().__init__()
        self.channels, self.final_tanh = list(channels), final_tanh
        fused = fused or [False] * len(channels)
        self.register_buffer("lod", torch.zeros(()))
        for b, nf in enumerate(self.channels):
            res = INIT_RES * 2**b
            if b == 0:
                first = StyleLayer("const" if const_input else "dense", w_dim, nf, res, w_dim, noise)
            else:
                kind = "fused" if fused[b] else "up"
                first = StyleLayer(kind, self.channels[b - 1], nf, res, w_dim, noise)
            self.add_module(f"layer{2 * b}", first)
            self.add_module(f"layer{2 * b + 1}", StyleLayer("conv", nf, nf, res, w_dim, noise))
            self.add_module(f"output{b}", ToRGB(nf, image_channels))

    @property
    def num_layers(self) -> int:
        return 2 * len(self.channels)

    def style_layers(self) -> list[StyleLayer]:
        return [getattr(self, f"layer{i}") for i in range(self.num_layers)]

    def forward(self, wp: torch.Tensor) -> torch.Tensor:
        lod = float(self.lod)
        top = len(self.channels) - 1
        x = image = None
        for b in range(len(self.channels)):
            level = top - b
            if lod < level + 1:
                x = getattr(self, f"layer{2 * b}")(x, wp[:, 2 * b])
                x = getattr(self, f"layer{2 * b + 1}")(x, wp[:, 2 * b + 1])
            image = progressive_image(lod, level, getattr(self, f"output{b}"), x, image)
        return torch.tanh(image) if self.final_tanh else image


class StyleGANNet(nn.Module):
    """mapping (z -> w), truncation (w_avg), synthesis (W+ -> image): genforce's three top-level modules."""

    def __init__(self, mapping: MappingNet, w_dim: int, synthesis: SynthesisNet):
        super().__init__()
        self.mapping = mapping
        self.truncation = AverageW(w_dim)
        self.synthesis = synthesis


class StyleGANGenerator(Generator):
    """A StyleGAN (v1) behind the Generator protocol: spaces z, w (mapping output) and wp (W+, num_ws x w_dim)."""

    spaces = ("z", "w", "wp")

    def __init__(self, net: StyleGANNet, name: str = "stylegan", spec: str = "", device=None, extra=None):
        super().__init__(device)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.z_dim = net.mapping.dense0.weight.shape[1]
        self.w_dim = net.truncation.w_avg.shape[0]
        self.num_ws = net.synthesis.num_layers
        self.resolution = INIT_RES * 2 ** (len(net.synthesis.channels) - 1)
        self.name, self.spec = name, spec
        self.extra = {"family": "stylegan", **(extra or {})}

    @property
    def info(self) -> ModelInfo:
        info = super().info
        info.extra = {**self.extra, "official_truncation": OFFICIAL_TRUNCATION.as_dict()}
        return info

    @property
    def w_avg(self) -> np.ndarray:
        """The checkpoint's average w (w_dim,), float32."""
        return self.net.truncation.w_avg.detach().float().cpu().numpy()

    def modules(self) -> list[nn.Module]:
        return [self.net]

    def _map(self, z: torch.Tensor, space: str, truncation: Truncation) -> torch.Tensor:
        w = self.net.mapping(z)
        codes = w if space == "w" else w[:, None, :].repeat(1, self.num_ws, 1)
        return truncation.apply(codes, self.net.truncation.w_avg)

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        if space == "z":
            codes = self.net.mapping(codes)
        if codes.ndim == 2:
            codes = codes[:, None, :].expand(-1, self.num_ws, -1)
        return to_rgb3(self.net.synthesis(codes))

    def first_affine(self, layers=None, **options) -> torch.Tensor:
        """A (sum of 2 * C_l, w_dim): the chosen W+ layers' style affines, effective weight (times wscale).

        Rows are each layer's [scale; bias] style units, layers in increasing order (official SeFa
        concatenates `style.weight` the same way; it omits the constant wscale 1/sqrt(w_dim), which cannot
        change the directions since SeFa normalizes every row). `layers` uses the 'all' / '0-3,6' syntax.
        """
        chosen = parse_layers(layers, self.num_ws)
        styles = self.net.synthesis.style_layers()
        return torch.cat([styles[i].style.effective_weight().detach().float() for i in chosen]).cpu()
