"""The parts every style-based family (StyleGAN, StyleGAN2, StyleGAN3) shares: the mapping network and
`StyleGenerator`, the `Generator` adapter with Z / W / W+ spaces, truncation and the SeFa style affines.

Module and parameter names mirror NVIDIA's `G_ema` (`mapping.fc0.weight`, `...affine.weight`), so NVIDIA state
dicts load with strict key checking. Inference is in float32; noise defaults to the stored constant noise maps
(NVIDIA's `noise_mode='const'`) so images are reproducible.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers
from interfacegan.models.base import Generator, ModelInfo, Truncation
from interfacegan.models.ops import bias_act, normalize_2nd_moment

NOISE_MODES = ("const", "none", "random")


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
