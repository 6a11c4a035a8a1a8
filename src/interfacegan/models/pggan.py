"""PGGAN generator (Karras et al., ICLR 2018), written from the paper and the genforce `.pth` format.

Parameter names follow genforce's PGGAN (`layer{i}.weight`, `layer{i}.bias`, `output{b}.weight`, `lod`), so a
genforce state dict loads with `load_state_dict(strict=True)`; `models.genforce` translates older layouts.
Every block is: pixel norm -> [2x nearest upsample] -> conv with equalized learning rate (weight * gain /
sqrt(fan_in)) + bias -> leaky ReLU(0.2). Block 0 maps z (N, z_dim) to 4x4 with a 4x4 kernel (padding 3 on a
1x1 input); ToRGB (`output{b}`) is a linear 1x1 conv with gain 1. Images are RGB in [-1, 1] (no tanh, as in
the official model; `final_tanh=True` adds one).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers
from interfacegan.models.base import Generator, ModelInfo, Truncation

LRELU_SLOPE = 0.2
NORM_EPS = 1e-8
INIT_RES = 4
# Feature maps per resolution, nf(res) = min(FMAPS_BASE // res, FMAPS_MAX): the official PGGAN/StyleGAN values.
# Tiny test models pass smaller numbers; loading infers every channel count from the checkpoint's shapes.
FMAPS_BASE = 16 << 10
FMAPS_MAX = 512
GAIN = math.sqrt(2.0)


def feature_maps(resolution: int, fmaps_base: int = FMAPS_BASE, fmaps_max: int = FMAPS_MAX) -> int:
    """Channels of the feature maps at `resolution`: min(fmaps_base // resolution, fmaps_max)."""
    return max(1, min(fmaps_base // resolution, fmaps_max))


def block_resolutions(resolution: int) -> list[int]:
    """[4, 8, ..., resolution] for a power-of-two resolution >= 4 (one block per resolution)."""
    if resolution < INIT_RES or resolution & (resolution - 1):
        raise InterfaceGANError(f"resolution {resolution} is not a power of two >= {INIT_RES}")
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]


def pixel_norm(x: torch.Tensor, eps: float = NORM_EPS) -> torch.Tensor:
    """Normalize each feature vector (dim 1) to unit root-mean-square."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """2x nearest-neighbour upsampling of (N, C, H, W)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def fused_transpose_kernel(weight_in_out: torch.Tensor) -> torch.Tensor:
    """(in, out, k, k) kernel -> (in, out, k+1, k+1): the sum of its four one-pixel shifts.

    A stride-2 transposed convolution with this kernel is the official "fused" upsample + conv
    (TF `upscale2d_conv2d`); it equals nearest 2x upsampling followed by a conv with the kernel flipped.
    """
    w = F.pad(weight_in_out, (1, 1, 1, 1))
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


def progressive_image(
    lod: float,
    level: int,
    to_rgb: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    image: torch.Tensor | None,
) -> torch.Tensor | None:
    """The image after the block at `level` (= final_log2 - res_log2) under level of detail `lod`.

    As in the official progressive growing: lod 0 uses the final ToRGB; an integer lod k upsamples the image
    of the block k levels below; a fractional lod blends two neighbouring levels. Blocks above the active
    level leave the image alone (a finer block will produce it).
    """
    if level - 1 < lod <= level:
        return to_rgb(x)
    if level < lod < level + 1:
        alpha = math.ceil(lod) - lod
        return to_rgb(x) * alpha + upsample2x(image) * (1 - alpha)
    if lod >= level + 1:
        return upsample2x(image)
    return image


class PGGANBlock(nn.Module):
    """pixel norm -> [2x upsample] -> equalized-LR conv + bias -> [leaky ReLU]; weight (out, in, k, k).

    With `fused=True` (upsampling blocks only) the weight is (in, out, k, k) and upsample + conv run as one
    stride-2 transposed conv, matching genforce's `fused_scale` PGGAN.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        upsample: bool = False,
        fused: bool = False,
        gain: float = GAIN,
        activate: bool = True,
    ):
        super().__init__()
        self.upsample, self.fused, self.activate, self.padding = upsample, fused and upsample, activate, padding
        shape = (in_channels, out_channels) if self.fused else (out_channels, in_channels)
        self.weight = nn.Parameter(torch.randn(*shape, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        weight = self.weight * self.scale
        if self.fused:
            x = F.conv_transpose2d(x, fused_transpose_kernel(weight), self.bias, stride=2, padding=1)
        else:
            if self.upsample:
                x = upsample2x(x)
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
        return F.leaky_relu(x, LRELU_SLOPE) if self.activate else x


class PGGANNet(nn.Module):
    """z (N, z_dim) -> image (N, image_channels, R, R); `channels[b]` feature maps at 4 * 2**b, `fused[b]` per block."""

    def __init__(
        self,
        z_dim: int,
        channels: list[int],
        image_channels: int = 3,
        fused: list[bool] | None = None,
        final_tanh: bool = False,
    ):
        super().__init__()
        self.z_dim, self.channels, self.final_tanh = z_dim, list(channels), final_tanh
        fused = fused or [False] * len(self.channels)
        self.register_buffer("lod", torch.zeros(()))
        for b, nf in enumerate(self.channels):
            if b == 0:
                first = PGGANBlock(z_dim, nf, kernel_size=INIT_RES, padding=INIT_RES - 1)
            else:
                first = PGGANBlock(self.channels[b - 1], nf, upsample=True, fused=fused[b])
            self.add_module(f"layer{2 * b}", first)
            self.add_module(f"layer{2 * b + 1}", PGGANBlock(nf, nf))
            self.add_module(
                f"output{b}", PGGANBlock(nf, image_channels, kernel_size=1, padding=0, gain=1.0, activate=False)
            )

    @property
    def resolution(self) -> int:
        return INIT_RES * 2 ** (len(self.channels) - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lod = float(self.lod)
        top = len(self.channels) - 1
        x, image = z.reshape(len(z), self.z_dim, 1, 1), None
        for b in range(len(self.channels)):
            level = top - b
            if lod < level + 1:
                x = getattr(self, f"layer{2 * b + 1}")(getattr(self, f"layer{2 * b}")(x))
            image = progressive_image(lod, level, getattr(self, f"output{b}"), x, image)
        return torch.tanh(image) if self.final_tanh else image


class PGGANGenerator(Generator):
    """A PGGAN behind the Generator protocol: Z space only (z is pixel-normalized inside the network)."""

    spaces = ("z",)

    def __init__(self, net: PGGANNet, name: str = "pggan", spec: str = "", device=None, extra: dict | None = None):
        super().__init__(device)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.z_dim = net.z_dim
        self.resolution = net.resolution
        self.name, self.spec = name, spec
        self.extra = {"family": "pggan", **(extra or {})}

    @property
    def info(self) -> ModelInfo:
        info = super().info
        info.extra = dict(self.extra)
        return info

    def modules(self) -> list[nn.Module]:
        return [self.net]

    def _map(self, z: torch.Tensor, space: str, truncation: Truncation) -> torch.Tensor:
        return z

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        return to_rgb3(self.net(codes))

    def first_layer_activations(self, z: torch.Tensor) -> torch.Tensor:
        """The first layer's output (N, C0, 4, 4): `layer0` (pixel norm, 4x4 conv, bias, leaky ReLU), the module
        GANSpace retains as ProGAN's 'layer1'."""
        return self.net.layer0(z.reshape(len(z), self.z_dim, 1, 1))

    def first_affine(self, layers=None, **options) -> torch.Tensor:
        """A (C0 * 4 * 4, z_dim): the first layer's effective weight, row (c, y, x) = output unit at 4x4 pixel (y, x).

        The 4x4 kernel on a 1x1 input with padding 3 gives out[c, y, x] = sum_i z_i W[c, i, 3-y, 3-x] * scale,
        hence the spatial flip. This is the official SeFa reshape (`weight.flip(2, 3).permute(1, 0, 2, 3)
        .flatten(1)`, which is A transposed). It acts on the pixel-normalized z, and SeFa normalizes each row,
        so the equalized-LR scale does not change the directions.
        """
        parse_layers(layers, 1)  # PGGAN has one affine map acting on z: layer 0
        block = self.net.layer0
        weight = (block.weight.detach().float() * block.scale).flip(2, 3)
        return weight.permute(0, 2, 3, 1).reshape(-1, self.z_dim).cpu().contiguous()


def to_rgb3(images: torch.Tensor) -> torch.Tensor:
    """Grey (N, 1, H, W) images become (N, 3, H, W); RGB passes through."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
