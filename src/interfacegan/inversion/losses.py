"""Reconstruction losses for inversion that need no downloaded network: pixel MSE, an image-pyramid L1, SSIM.

All take images (N, 3, H, W) in [-1, 1] and return one value per image (N,), so a batch of inversions stays a
set of independent problems (Adam is element-wise: summing per-image losses never couples the images).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from interfacegan import checks
from interfacegan.errors import InterfaceGANError

MIN_PYRAMID_SIDE = 4  # coarsest pyramid level


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image (N,)."""
    return (x - y).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio per image (N,) in dB, for images in [-1, 1] (peak-to-peak 2)."""
    return 10.0 * torch.log10(4.0 / mse(x, y).clamp_min(1e-12))


def pyramid_l1(x: torch.Tensor, y: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Mean L1 distance (N,) averaged over `levels` scales (2x average pooling each), down to 4 px.

    Coarse levels compare colours and layout, fine ones edges: a cheap stand-in for a perceptual loss that
    pulls the optimisation toward the right face before the details.
    """
    total, used = x.new_zeros(len(x)), 0
    for level in range(max(1, levels)):
        if level and min(x.shape[-2:]) // 2 < MIN_PYRAMID_SIDE:
            break
        if level:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        total = total + (x - y).abs().flatten(1).mean(1)
        used += 1
    return total / used


def _gaussian_window(size: int, sigma: float, channels: int, ref: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=ref.dtype, device=ref.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity (N,) of images in [-1, 1] (Wang et al. 2004: Gaussian window, K1 .01, K2 .03).

    The window shrinks to the image for images smaller than `window` pixels; borders are not padded.
    """
    side = min(x.shape[-2:])
    window = min(window, side if side % 2 else side - 1)
    x, y = (x + 1) / 2, (y + 1) / 2  # dynamic range 1
    c1, c2 = 0.01**2, 0.03**2
    kernel = _gaussian_window(window, sigma, x.shape[1], x)

    def blur(t):
        return F.conv2d(t, kernel, groups=x.shape[1])

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return value.flatten(1).mean(1)


@dataclass
class ReconstructionLoss:
    """Weighted sum, per image (N,), of pixel MSE, pyramid L1 and (1 - SSIM) between images in [-1, 1]."""

    mse: float = 1.0
    pyramid: float = 0.25
    ssim: float = 0.0
    levels: int = 4

    def __post_init__(self):
        weights = tuple(checks.non_negative(name, getattr(self, name)) for name in ("mse", "pyramid", "ssim"))
        self.mse, self.pyramid, self.ssim = weights
        self.levels = checks.integer("levels", self.levels, 1, 16)
        if max(weights) == 0:
            raise InterfaceGANError(
                f"loss weights must be >= 0 with one positive, got mse={self.mse}, pyramid={self.pyramid}, "
                f"ssim={self.ssim}"
            )

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(len(x))
        if self.mse:
            loss = loss + self.mse * mse(x, y)
        if self.pyramid:
            loss = loss + self.pyramid * pyramid_l1(x, y, self.levels)
        if self.ssim:
            loss = loss + self.ssim * (1.0 - ssim(x, y))
        return loss

    def as_dict(self) -> dict:
        return asdict(self)
