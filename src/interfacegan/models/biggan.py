"""BigGAN-deep generators in the `pytorch-pretrained-biggan` format (`config.json` + `pytorch_model.bin`).

Written from the BigGAN paper (Brock et al. 2019, the "deep" variant) and that package's checkpoint format:
z (N, z_dim) and the class embedding e = embeddings.weight[:, class] form the condition c = [z, e]; `gen_z`
maps c to a 4x4 feature map (stored in TensorFlow's HWC order); residual blocks (1x1 -> 3x3 -> 3x3 -> 1x1
convs, each preceded by a conditional batch norm whose gain 1 + scale(c) and bias offset(c) are linear in c,
nearest-neighbour 2x upsampling in up blocks, skip path dropping half the channels when they shrink), a
self-attention layer before block `attention_layer_position`, a final batch norm, ReLU, 3x3 conv, tanh.
Batch-norm statistics were precomputed per truncation value (n_stats values over [0, 1]); a truncation t uses
the statistics the package interpolates for it. Weights are spectrally normalised: the file stores `weight_orig`
and the power-iteration vectors u, v; the weight used is weight_orig / (u . weight_orig v) (the package's
`eval()` forward), computed once on load.

Sampling follows BigGAN's truncation trick: z = t * TruncatedNormal(-2, 2) from the per-block seeded streams
of `truncated_gaussian_codes`, with the same t selecting the batch-norm statistics. The class and t belong to the
model spec (`biggan:PATH?class_idx=207&truncation=0.4`), so every command on a run uses the same ones.
SeFa's first affine map: the z columns of `gen_z` (layer 0) and of every conditional batch-norm projection,
scale and offset of bn_0..bn_3, of residual block k (layer k + 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers
from interfacegan.models.base import Generator, ModelInfo, Truncation, truncated_gaussian_codes

DEFAULT_CLASS_IDX = 207  # ImageNet 'golden retriever', used when the spec names no class (and the model has it)
DEFAULT_TRUNCATION = 0.4  # the package's and DeepMind's demo value
Z_BOUND = 2.0  # z is drawn from N(0, 1) truncated to [-2, 2], then scaled by the truncation


@dataclass(frozen=True)
class BigGANConfig:
    """The package's config.json fields that fix the architecture (checked, bounded)."""

    z_dim: int
    num_classes: int
    channel_width: int
    layers: tuple[tuple[bool, int, int], ...]  # (upsample?, in, out) channel multipliers of channel_width
    attention_layer_position: int
    eps: float = 1e-4
    n_stats: int = 51

    @property
    def resolution(self) -> int:
        return 4 * 2 ** sum(up for up, _, _ in self.layers)


class CondBatchNorm(nn.Module):
    """Batch norm with fixed statistics and a gain 1 + scale(c), bias offset(c) linear in the condition c."""

    def __init__(self, channels: int, cond_dim: int, n_stats: int, eps: float):
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.scale = nn.Linear(cond_dim, channels, bias=False)
        self.offset = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, stats: int | tuple[int, float]) -> torch.Tensor:
        mean, var = stats_at(self.running_means, self.running_vars, stats)
        gain = 1 + self.scale(cond)[:, :, None, None]
        bias = self.offset(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain + bias


def stats_index(truncation: float, n_stats: int) -> int | tuple[int, float]:
    """Where the statistics of `truncation` lie, exactly as the package computes it: the index i when
    truncation / step has no fractional part, else (i, coef) mixing rows i (weight coef) and i + 1 (1 - coef)."""
    coef, start = math.modf(truncation / (1.0 / (n_stats - 1)))
    return int(start) if coef == 0.0 else (int(start), coef)


def stats_at(means: torch.Tensor, variances: torch.Tensor, where: int | tuple[int, float]):
    if isinstance(where, int):
        return means[where], variances[where]
    i, coef = where
    return means[i] * coef + means[i + 1] * (1 - coef), variances[i] * coef + variances[i + 1] * (1 - coef)


class ResBlock(nn.Module):
    """BigGAN-deep residual block: 4 x (cond. BN, ReLU, conv) with a 4x channel bottleneck, optional 2x upsampling."""

    def __init__(self, cin: int, cout: int, cond_dim: int, up: bool, cfg: BigGANConfig):
        super().__init__()
        mid = cin // 4
        self.up, self.drop = up, cin != cout
        for i, (a, b, k) in enumerate(((cin, mid, 1), (mid, mid, 3), (mid, mid, 3), (mid, cout, 1))):
            setattr(self, f"bn_{i}", CondBatchNorm(a, cond_dim, cfg.n_stats, cfg.eps))
            setattr(self, f"conv_{i}", nn.Conv2d(a, b, k, padding=k // 2))

    def norms(self) -> list[CondBatchNorm]:
        return [getattr(self, f"bn_{i}") for i in range(4)]

    def forward(self, x: torch.Tensor, cond: torch.Tensor, stats) -> torch.Tensor:
        skip = x
        for i in range(4):
            x = F.relu(getattr(self, f"bn_{i}")(x, cond, stats))
            if i == 1 and self.up:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = getattr(self, f"conv_{i}")(x)
        if self.drop:
            skip = skip[:, : skip.shape[1] // 2]
        if self.up:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return x + skip


class SelfAttention(nn.Module):
    """SAGAN self-attention: keys and values max-pooled 2x, output added with a learned gain `gamma`."""

    def __init__(self, channels: int):
        super().__init__()
        self.snconv1x1_theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = self.snconv1x1_theta(x).view(n, c // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).view(n, c // 8, h * w // 4)
        attention = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = F.max_pool2d(self.snconv1x1_g(x), 2).view(n, c // 2, h * w // 4)
        out = torch.bmm(g, attention.permute(0, 2, 1)).view(n, c // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(out)


class FinalNorm(nn.Module):
    """The last, unconditional batch norm (fixed statistics per truncation, learned affine)."""

    def __init__(self, channels: int, n_stats: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))

    def forward(self, x: torch.Tensor, stats) -> torch.Tensor:
        mean, var = stats_at(self.running_means, self.running_vars, stats)
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)


class Synthesis(nn.Module):
    """Condition (N, 2 z_dim) -> images (N, 3, R, R) in [-1, 1]; module names follow the package's keys."""

    def __init__(self, cfg: BigGANConfig, embed_dim: int):
        super().__init__()
        ch, cond_dim = cfg.channel_width, cfg.z_dim + embed_dim
        self.ch = ch
        self.gen_z = nn.Linear(cond_dim, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for i, (up, cin, cout) in enumerate(cfg.layers):
            if i == cfg.attention_layer_position:
                layers.append(SelfAttention(ch * cin))
            layers.append(ResBlock(ch * cin, ch * cout, cond_dim, up, cfg))
        self.layers = nn.ModuleList(layers)
        self.bn = FinalNorm(ch, cfg.n_stats, cfg.eps)
        self.conv_to_rgb = nn.Conv2d(ch, ch, 3, padding=1)

    def blocks(self) -> list[ResBlock]:
        return [layer for layer in self.layers if isinstance(layer, ResBlock)]

    def forward(self, cond: torch.Tensor, stats) -> torch.Tensor:
        x = self.gen_z(cond).view(-1, 4, 4, 16 * self.ch).permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            x = layer(x, cond, stats) if isinstance(layer, ResBlock) else layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, stats)))
        return torch.tanh(x[:, :3])


class BigGANNet(nn.Module):
    """Class embeddings + synthesis, with the package's state-dict names (less the spectral-norm suffixes)."""

    def __init__(self, cfg: BigGANConfig, embed_dim: int):
        super().__init__()
        self.embeddings = nn.Linear(cfg.num_classes, embed_dim, bias=False)
        self.generator = Synthesis(cfg, embed_dim)


def spectral_normalized(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The package's state dict with each spectrally normalised weight resolved: `X.weight_orig`, `X.weight_u`,
    `X.weight_v` -> `X.weight = weight_orig / (u . (W v))`, W = weight_orig flattened to (out, -1)."""
    out = {k: v for k, v in state.items() if not k.endswith(("weight_orig", "weight_u", "weight_v"))}
    for key in [k for k in state if k.endswith(".weight_orig")]:
        base = key[: -len("_orig")]
        weight, u, v = state[key], state.get(base + "_u"), state.get(base + "_v")
        matrix = weight.reshape(weight.shape[0], -1) if weight.ndim else weight
        if u is None or v is None or weight.ndim < 2 or u.shape != matrix.shape[:1] or v.shape != matrix.shape[1:]:
            raise InterfaceGANError(f"{source}: spectral-norm vectors of {key!r} are missing or of the wrong size")
        out[base] = weight / torch.dot(u, torch.mv(matrix, v))
    return out


class BigGANGenerator(Generator):
    """A BigGAN-deep generator behind the `Generator` protocol: one class and one truncation per instance."""

    spaces = ("z",)
    family = "biggan"

    def __init__(self, cfg: BigGANConfig, net: BigGANNet, name: str = "", spec: str = "", device=None,
                 class_idx: int | None = None, truncation: float = DEFAULT_TRUNCATION, source: str = ""):  # fmt: skip
        super().__init__(device)
        self.cfg, self.name, self.spec = cfg, name or f"biggan-deep-{cfg.resolution}", spec
        self.z_dim, self.resolution = cfg.z_dim, cfg.resolution
        self.class_idx, self.truncation = check_class_and_truncation(class_idx, truncation, cfg.num_classes,
                                                                     source or spec or self.name)  # fmt: skip
        self._stats = stats_index(self.truncation, cfg.n_stats)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self._embedding = self.net.embeddings.weight[:, self.class_idx].detach()

    @property
    def info(self) -> ModelInfo:
        info = super().info
        info.extra = {"family": self.family, "format": "pytorch-pretrained-biggan", "class_idx": self.class_idx,
                      "truncation": self.truncation, "num_classes": self.cfg.num_classes,
                      "affine_layers": self.num_affine_layers}  # fmt: skip
        return info

    @property
    def num_affine_layers(self) -> int:
        """Layers `first_affine` selects from: 0 = gen_z, k + 1 = residual block k's batch-norm projections."""
        return 1 + len(self.net.generator.blocks())

    def modules(self) -> list[nn.Module]:
        return [self.net]

    def sample(self, n: int, seed: int = 0, start: int = 0) -> np.ndarray:
        """Rows [start, start+n) of z = truncation * TruncatedNormal(-2, 2) for `seed` (BigGAN's truncation trick)."""
        if n < 0:
            raise InterfaceGANError(f"number of samples must be >= 0, got {n}")
        return self.truncation * truncated_gaussian_codes(seed, start, start + n, self.z_dim, Z_BOUND)

    def check_truncation(self, truncation: Truncation | None) -> None:
        """W truncation does not apply: BigGAN's own truncation is part of the spec (one line naming it)."""
        if truncation is not None and truncation.active:
            base = self.spec.split("?")[0] or "biggan:PATH"
            raise InterfaceGANError(
                f"W truncation (psi {truncation.psi}) applies to style models; BigGAN's truncation is part of its "
                f"spec: load it as {base}?class_idx={self.class_idx}&truncation={truncation.psi} instead"
            )

    def map(self, z, space: str, truncation: Truncation | None = None, batch_size: int = 256) -> np.ndarray:
        self.check_truncation(truncation)
        return super().map(z, space, None, batch_size)

    def synthesize(self, codes, space: str = "z", batch_size: int = 64, truncation: Truncation | None = None):
        self.check_truncation(truncation)
        return super().synthesize(codes, space, batch_size)

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        return self.net.generator(self._condition(codes), self._stats)

    def _condition(self, z: torch.Tensor) -> torch.Tensor:
        """c = [z, class embedding] (N, z_dim + embed_dim), the input of `gen_z` and of every conditional norm."""
        return torch.cat([z, self._embedding.expand(len(z), -1)], dim=1)

    def first_layer_activations(self, z: torch.Tensor) -> torch.Tensor:
        """`gen_z`'s output (N, 4 * 4 * 16 ch): GANSpace's BigGAN layer `generator.gen_z` (linear in z; the class
        embedding adds a constant)."""
        return self.net.generator.gen_z(self._condition(z))

    def first_affine(self, layers=None, **options) -> torch.Tensor:
        """Rows acting on z of the weights z enters (A (rows, z_dim), float32 on CPU), for SeFa: layer 0 is `gen_z`
        (its z columns), layer k + 1 the scale and offset projections of bn_0..bn_3 of residual block k."""
        if options:
            raise InterfaceGANError(f"unknown first_affine option(s) {sorted(options)} for BigGAN")
        z = self.z_dim
        rows = []
        for index in parse_layers(layers, self.num_affine_layers):
            if index == 0:
                rows.append(self.net.generator.gen_z.weight[:, :z])
                continue
            for bn in self.net.generator.blocks()[index - 1].norms():
                rows += [bn.scale.weight[:, :z], bn.offset.weight[:, :z]]
        return torch.cat(rows).detach().float().cpu()


def check_class_and_truncation(class_idx, truncation, num_classes: int, source: str) -> tuple[int, float]:
    """(class, truncation) checked: an integer class in [0, num_classes), a truncation in (0, 1]."""
    classes = f"{source} has classes 0..{num_classes - 1}"
    if class_idx is None:
        if DEFAULT_CLASS_IDX >= num_classes:
            raise InterfaceGANError(f"{classes} (no default class {DEFAULT_CLASS_IDX}): pass class_idx")
        class_idx = DEFAULT_CLASS_IDX
    try:
        index, value = int(str(class_idx)), float(truncation)
    except ValueError:
        raise InterfaceGANError(f"class_idx must be an integer and truncation a number, got {class_idx!r}, "
                                f"{truncation!r}") from None  # fmt: skip
    if not 0 <= index < num_classes:
        raise InterfaceGANError(f"class_idx {index} is out of range: {classes}")
    if not 0.0 < value <= 1.0:
        raise InterfaceGANError(f"BigGAN truncation must be in (0, 1], got {truncation!r}")
    return index, value

