"""Device choice in one place: CUDA when present, else CPU; never hard-coded elsewhere."""

from __future__ import annotations

import torch

from interfacegan.errors import InterfaceGANError


class CudaUnavailableError(InterfaceGANError):
    """CUDA was asked for where torch sees none (e.g. a Ray worker given no GPU): callers may add where to get one."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device for `device` ('auto'/None picks CUDA when available, else CPU)."""
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InterfaceGANError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CudaUnavailableError(f"`device` {device!r} requested but CUDA is not available: use 'cpu' or 'auto'")
    return resolved
