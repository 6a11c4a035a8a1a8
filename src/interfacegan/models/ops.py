"""Shared numerics of the StyleGAN family in plain PyTorch: FIR resampling, bias + activation, modulated conv.

Written from the StyleGAN2 / StyleGAN3 papers and the documented semantics of NVIDIA's reference ops (the
'ref' code paths, not the CUDA kernels): accuracy first, runs on any device. Filters follow NVIDIA's
conventions: 1-D tensors are separable taps, 2-D tensors full kernels, `None` the identity; padding is
`[x_before, x_after, y_before, y_after]` in the upsampled grid, negative values crop.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)

# name -> (function(x, alpha), default gain, default alpha); the gains make each activation variance-preserving.
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor, float], torch.Tensor], float, float]] = {
    "linear": (lambda x, a: x, 1.0, 0.0),
    "relu": (lambda x, a: F.relu(x), SQRT2, 0.0),
    "lrelu": (lambda x, a: F.leaky_relu(x, a), SQRT2, 0.2),
    "tanh": (lambda x, a: torch.tanh(x), 1.0, 0.0),
    "sigmoid": (lambda x, a: torch.sigmoid(x), 1.0, 0.0),
    "elu": (lambda x, a: F.elu(x), 1.0, 0.0),
    "selu": (lambda x, a: F.selu(x), 1.0, 0.0),
    "softplus": (lambda x, a: F.softplus(x), 1.0, 0.0),
    "swish": (lambda x, a: torch.sigmoid(x) * x, SQRT2, 0.0),
}


def activation_gain(name: str) -> float:
    """Default output gain of activation `name` (sqrt(2) for (l)relu and swish, else 1)."""
    return ACTIVATIONS[name][1]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """y = clamp(act(x + b) * gain, -clamp, clamp); b (C,) is added along dim 1 of x (N, C, ...).

    `inplace` lets the activation, gain and clamp overwrite x (or x + b) when gradients are off: for callers
    whose x is a temporary they own.
    """
    fn, default_gain, default_alpha = ACTIVATIONS[act]
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype)
    alpha = default_alpha if alpha is None else alpha
    g = default_gain if gain is None else gain
    inplace = (inplace or b is not None) and not torch.is_grad_enabled()
    if act == "lrelu" and inplace:
        x = F.leaky_relu_(x, alpha)
    else:
        x = fn(x, alpha)
    if g != 1:
        x = x.mul_(g) if inplace else x * g
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) along `dim` (StyleGAN's pixel norm of z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def make_filter(
    taps: Sequence[float] | torch.Tensor, normalize: bool = True, separable: bool | None = None
) -> torch.Tensor:
    """FIR filter tensor from taps: 1-D of >= 8 taps stays separable, shorter ones become the 2-D outer product."""
    f = torch.as_tensor(taps, dtype=torch.float32).clone()
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    return f


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a filter; the identity has size 1."""
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] | int = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), convolve with FIR `f`, keep every `down`-th pixel.

    x (N, C, H, W); the filter is applied per channel, as a true convolution unless `flip_filter` (correlation);
    `gain` scales the output (NVIDIA applies it to the filter as gain ** (ndim / 2)).
    """
    if isinstance(padding, int):
        padding = [padding] * 4
    elif len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    px0, px1, py0, py1 = (int(p) for p in padding)
    c = x.shape[1]
    if f is None:
        f = torch.ones(1, 1, dtype=x.dtype, device=x.device)
    f = f.to(x.dtype) * (gain ** (f.ndim / 2))
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    if up > 1:
        x = _up_fir(x, f, up, px0, px1, py0, py1)
        return x[:, :, ::down, ::down] if down > 1 else x
    x = _pad(x, px0, px1, py0, py1)
    f = f.flip(list(range(f.ndim)))  # conv2d correlates: flip for a true convolution
    if f.ndim == 2:
        return F.conv2d(x, f[None, None].expand(c, 1, *f.shape), stride=down, groups=c)
    x = F.conv2d(x, f[None, None, None, :].expand(c, 1, 1, -1), stride=(1, down), groups=c)
    return F.conv2d(x, f[None, None, :, None].expand(c, 1, -1, 1), stride=(down, 1), groups=c)


def _up_fir(x: torch.Tensor, f: torch.Tensor, up: int, px0: int, px1: int, py0: int, py1: int) -> torch.Tensor:
    """Zero insertion + padding + FIR as one strided transposed convolution (skips the inserted zeros).

    The transposed conv yields the full convolution of the zero-inserted signal, length up*(n-1)+taps; the
    padded 'valid' result starts at index taps-1-pad_before of it, so we crop (or zero-pad) to that window.
    """
    n, c, h, w = x.shape
    fw, fh = _filter_size(f)
    if f.ndim == 2:
        x = F.conv_transpose2d(x, f[None, None].expand(c, 1, fh, fw), stride=up, groups=c)
    else:
        x = F.conv_transpose2d(x, f[None, None, None, :].expand(c, 1, 1, fw), stride=(1, up), groups=c)
        x = F.conv_transpose2d(x, f[None, None, :, None].expand(c, 1, fh, 1), stride=(up, 1), groups=c)
    sx, sy = fw - 1 - px0, fh - 1 - py0
    out_w, out_h = up * w + px0 + px1 - fw + 1, up * h + py0 + py1 - fh + 1
    return _pad(x, -sx, out_w - x.shape[3] + sx, -sy, out_h - x.shape[2] + sy)


def _pad(x: torch.Tensor, x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
    """Zero-pad the last two dims (negative values crop); pure crops are views, no copy."""
    if max(x0, x1, y0, y1) <= 0:
        return x[:, :, -y0 : x.shape[2] + y1, -x0 : x.shape[3] + x1]
    return F.pad(x, [x0, x1, y0, y1])


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample (N, C, H, W) -> (N, C, H*up, W*up) with FIR `f`, keeping the DC gain."""
    fw, fh = _filter_size(f)
    p = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=p, gain=up * up)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    up: int = 1,
    resample_filter: torch.Tensor | None = None,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution of x (N, I, H, W) with weight (O, I, k, k) and styles (N, I).

    Equal to convolving each sample with its own weights weight * styles[n] (demodulated: every output
    channel rescaled to unit L2 norm, eps 1e-8), computed without per-sample weights: scale the input by the
    styles, run one shared convolution, scale the output by the demodulation coefficients (N, O). This is
    NVIDIA's `fused_modconv=False` path; it is lighter and faster on CPU than a grouped convolution. With
    up > 1 the convolution runs on the zero-upsampled input followed by the FIR low-pass `resample_filter`.
    """
    x = x * styles[:, :, None, None].to(x.dtype)
    if up > 1:
        x = conv_up2d(x, weight, resample_filter, padding=padding, up=up)
    else:
        x = F.conv2d(x, weight, padding=padding)
    if demodulate:
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # (N, O)
        x = x * dcoefs[:, :, None, None]
    return x


def conv_up2d(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor, padding: int, up: int = 2) -> torch.Tensor:
    """Upsampling convolution: zero-insert x (N, I, H, W) by `up`, correlate with w (O, I, k, k), low-pass with f.

    Computed as a strided transposed convolution followed by the FIR filter, with the padding arithmetic that
    makes the result equal to upfirdn2d(up) -> filter -> conv(padding) on the upsampled grid.
    """
    kh, kw = w.shape[-2:]
    fw, fh = _filter_size(f)
    px0 = padding + (fw + up - 1) // 2 - (kw - 1)
    px1 = padding + (fw - up) // 2 - (kw - up)
    py0 = padding + (fh + up - 1) // 2 - (kh - 1)
    py1 = padding + (fh - up) // 2 - (kh - up)
    x = F.conv_transpose2d(x, w.transpose(0, 1), stride=up)
    return upfirdn2d(x, f, padding=[px0, px1, py0, py1], gain=up * up)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None,
    up: int,
    down: int,
    padding: Sequence[int],
    gain: float = SQRT2,
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """StyleGAN3's alias-suppressed nonlinearity: bias, upsample with fu, leaky ReLU * gain, clamp, downsample with fd.

    x (N, C, H, W); `padding` [x0, x1, y0, y1] applies to the upsampled grid before fu.
    """
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up * up)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp, inplace=True)
    return upfirdn2d(x, fd, down=down)
