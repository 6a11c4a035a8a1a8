"""StyleGAN3 (alias-free) generator, written from the paper (Karras et al. 2021, appendix F) and NVIDIA's format.

The synthesis network is a Fourier-feature input followed by modulated convolutions whose nonlinearities are
filtered (upsample, leaky ReLU, low-pass, downsample). Layer geometry (sizes, sampling rates, cutoffs,
filters, padding) is a pure function of a few hyperparameters (`design_synthesis`); a loaded checkpoint
instead supplies each layer's stored geometry and filters, so what runs is what was trained.
Parameter names mirror NVIDIA's `G_ema` (`synthesis.input.affine.weight`, `synthesis.L3_52_512.weight`, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.models.ops import filtered_lrelu, modulated_conv2d
from interfacegan.models.style_family import FullyConnected, MappingNetwork, StyleGenerator, StyleLayer
from interfacegan.models.weights import build_checked


@dataclass
class InputSpec:
    """Fourier-feature input: `channels` features on a `size` (width, height) grid at `sampling_rate`."""

    channels: int
    size: tuple[int, int]
    sampling_rate: float
    bandwidth: float


@dataclass
class LayerSpec:
    """One synthesis layer's geometry; filters are 1-D separable taps, 2-D radial kernels, or None (identity)."""

    name: str
    is_torgb: bool
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    up_factor: int
    down_factor: int
    padding: tuple[int, int, int, int]
    conv_kernel: int
    conv_clamp: float | None
    up_filter: torch.Tensor | None
    down_filter: torch.Tensor | None


@dataclass
class StyleGAN3Config:
    """Generator-level settings plus the synthesis geometry (from `design_synthesis` or a checkpoint)."""

    z_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    input: InputSpec
    layers: list[LayerSpec]
    c_dim: int = 0
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    output_scale: float = 0.25


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR: separable sinc (1-D taps) or radially symmetric jinc (2-D); None if 1 tap."""
    if numtaps <= 1:
        return None
    from scipy import signal, special

    if not radial:
        return torch.as_tensor(signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(r > 0, special.j1(2 * cutoff * np.pi * r) / (np.pi * r), cutoff)
    beta = signal.kaiser_beta(signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


def design_synthesis(
    img_resolution: int, img_channels: int = 3, channel_base: int = 32768, channel_max: int = 512,
    num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2, first_stopband: float = 2**2.1,
    last_stopband_rel: float = 2**0.3, margin_size: int = 10, conv_kernel: int = 3, filter_size: int = 6,
    lrelu_upsampling: int = 2, use_radial_filters: bool = False, conv_clamp: float | None = 256,
) -> tuple[InputSpec, list[LayerSpec]]:  # fmt: skip
    """The paper's layer schedule: cutoffs and stopbands grow geometrically to the last `num_critical` layers.

    Defaults are StyleGAN3-T; StyleGAN3-R is conv_kernel=1, use_radial_filters=True, channel_base/max doubled.
    """
    n = num_layers
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    t = np.minimum(np.arange(n + 1) / (n - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** t
    stopbands = first_stopband * (last_stopband / first_stopband) ** t
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels

    spec_in = InputSpec(int(channels[0]), (int(sizes[0]),) * 2, float(rates[0]), float(cutoffs[0]))
    layers = []
    for i in range(n + 1):
        p = max(i - 1, 0)
        torgb = i == n
        kernel = 1 if torgb else conv_kernel
        tmp_rate = max(rates[p], rates[i]) * (1 if torgb else lrelu_upsampling)
        up, down = int(np.rint(tmp_rate / rates[p])), int(np.rint(tmp_rate / rates[i]))
        up_taps = filter_size * up if up > 1 and not torgb else 1
        down_taps = filter_size * down if down > 1 and not torgb else 1
        radial = use_radial_filters and not i >= n - num_critical
        fu = lowpass_filter(up_taps, cutoffs[p], half_widths[p] * 2, tmp_rate)
        fd = lowpass_filter(down_taps, cutoffs[i], half_widths[i] * 2, tmp_rate, radial=radial)
        total = (int(sizes[i]) - 1) * down + 1 - (int(sizes[p]) + kernel - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        pad = (lo, total - lo, lo, total - lo)
        name = f"L{i}_{int(sizes[i])}_{int(channels[i])}"
        layers.append(LayerSpec(name, torgb, int(channels[p]), int(channels[i]), (int(sizes[p]),) * 2,
                                (int(sizes[i]),) * 2, up, down, pad, kernel, conv_clamp, fu, fd))  # fmt: skip
    return spec_in, layers


class SynthesisInput(nn.Module):
    """w -> Fourier features (N, C, H, W): a learned rotation + translation of fixed random frequencies."""

    def __init__(self, w_dim: int, spec: InputSpec):
        super().__init__()
        self.channels, self.size = spec.channels, tuple(spec.size)
        self.sampling_rate, self.bandwidth = spec.sampling_rate, spec.bandwidth
        freqs = torch.randn(spec.channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * spec.bandwidth
        self.weight = nn.Parameter(torch.randn(spec.channels, spec.channels))
        self.affine = FullyConnected(w_dim, 4, bias_init=0)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(spec.channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        n = w.shape[0]
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device).repeat(n, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device).repeat(n, 1, 1)
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        transform = rot @ shift @ self.transform[None]
        phases = self.phases[None] + (self.freqs[None] @ transform[:, :2, 2:]).squeeze(2)  # (N, C)
        freqs = self.freqs[None] @ transform[:, :2, :2]  # (N, C, 2)
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        width, height = self.size
        # Pixel centres of a `size` grid spanning [-size/2, size/2] / sampling_rate (affine_grid, align_corners=False).
        gx = (torch.arange(width, device=w.device, dtype=torch.float32) + 0.5 - width / 2) / self.sampling_rate
        gy = (torch.arange(height, device=w.device, dtype=torch.float32) + 0.5 - height / 2) / self.sampling_rate
        x = gx[None, None, :, None] * freqs[:, None, None, :, 0] + gy[None, :, None, None] * freqs[:, None, None, :, 1]
        x = torch.sin((x + phases[:, None, None, :]) * (2 * math.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()  # (N, H, W, C)
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv (input scaled by the magnitude EMA) followed by the filtered leaky ReLU."""

    def __init__(self, w_dim: int, spec: LayerSpec):
        super().__init__()
        self.is_torgb, self.in_channels, self.conv_kernel = spec.is_torgb, spec.in_channels, spec.conv_kernel
        self.up_factor, self.down_factor = spec.up_factor, spec.down_factor
        self.padding, self.conv_clamp = list(spec.padding), spec.conv_clamp
        self.in_size, self.out_size = tuple(spec.in_size), tuple(spec.out_size)
        self.affine = FullyConnected(w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(spec.out_channels, spec.in_channels, spec.conv_kernel, spec.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(spec.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", None if spec.up_filter is None else spec.up_filter.clone().float())
        self.register_buffer("down_filter", None if spec.down_filter is None else spec.down_filter.clone().float())

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.weight
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel**2))
        else:
            # Pre-normalisation (cancelled by demodulation up to its eps). NVIDIA scales styles by one scalar per
            # batch; a per-sample scalar keeps every image independent of its batch-mates.
            weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
        x = modulated_conv2d(x, weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1)
        x = x * self.magnitude_ema.rsqrt()  # NVIDIA's input gain, folded into the (linear) convolution
        gain, slope = (1.0, 1.0) if self.is_torgb else (math.sqrt(2), 0.2)
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up_factor, self.down_factor,
                              self.padding, gain=gain, slope=slope, clamp=self.conv_clamp)  # fmt: skip


class SynthesisNetwork(nn.Module):
    """W+ codes (N, num_layers + 2, w_dim) -> images: input uses ws[0], layer i uses ws[i + 1]."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.img_resolution, cfg.img_channels
        self.output_scale = cfg.output_scale
        self.input = SynthesisInput(cfg.w_dim, cfg.input)
        self.layer_names = [spec.name for spec in cfg.layers]
        for spec in cfg.layers:
            setattr(self, spec.name, SynthesisLayer(cfg.w_dim, spec))
        self.num_ws = len(cfg.layers) + 1
        if cfg.layers[-1].out_size != (cfg.img_resolution, cfg.img_resolution) or not cfg.layers[-1].is_torgb:
            raise InterfaceGANError("StyleGAN3 geometry: the last layer must be a ToRGB at the image resolution")

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = self.input(ws[:, 0])
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x, ws[:, i + 1])
        return x * self.output_scale if self.output_scale != 1 else x

    def style_layers(self) -> list[StyleLayer]:
        out = [StyleLayer(0, "input", "synthesis.input", self.input.affine)]
        for i, name in enumerate(self.layer_names):
            layer = getattr(self, name)
            out.append(StyleLayer(i + 1, "torgb" if layer.is_torgb else "conv", f"synthesis.{name}", layer.affine))
        return out


class StyleGAN3Net(nn.Module):
    """mapping + synthesis with NVIDIA's parameter names."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.mapping_layers,
                                      lr_multiplier=cfg.mapping_lr_multiplier)  # fmt: skip


class StyleGAN3Generator(StyleGenerator):
    """A StyleGAN3 (-T or -R) generator behind the `Generator` protocol. Noise modes do not apply (no noise)."""

    family = "stylegan3"

    def __init__(self, cfg: StyleGAN3Config, state: dict[str, torch.Tensor] | None = None, name: str = "",
                 spec: str = "", device=None, source: str = "", **options):  # fmt: skip
        where, problem = source or spec or "StyleGAN3 weights", "weights do not fit the architecture"
        net = StyleGAN3Net(cfg) if state is None else build_checked(lambda: StyleGAN3Net(cfg), state, where, problem)
        radial = any(s.down_filter is not None and s.down_filter.ndim == 2 for s in cfg.layers)
        kernel = cfg.layers[0].conv_kernel
        variant = "r" if radial or kernel == 1 else "t"
        super().__init__(net, name or f"stylegan3-{variant}-{cfg.img_resolution}", spec, device,
                         extra={"variant": variant}, **options)  # fmt: skip
        self.cfg = cfg
