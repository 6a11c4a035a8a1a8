"""The generator protocol every model plugin implements.

A generator offers one or more latent spaces ('z' always; 'w' and 'wp' for style-based models), samples
reproducible Gaussian codes in Z, maps Z to its other spaces, and synthesizes images from codes in any of its
spaces. Subclasses implement three small methods (`_map`, `_synthesize`, `first_affine`); batching, devices,
dtype handling and uint8 conversion live here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from interfacegan import checks
from interfacegan.device import resolve_device
from interfacegan.errors import InterfaceGANError

# Codes are drawn in fixed blocks, each from its own seeded stream, so rows [a, b) are identical whatever
# batch or chunk size produced them (this is what makes an interrupted sampling run resumable bit-exactly).
RNG_BLOCK_ROWS = 1024


def gaussian_codes(seed: int, start: int, stop: int, dim: int) -> np.ndarray:
    """Rows [start, stop) of the infinite N(0, I_dim) float32 sequence defined by `seed`."""
    return _block_codes(seed, start, stop, dim, lambda rng: rng.standard_normal((RNG_BLOCK_ROWS, dim), np.float32))


def truncated_gaussian_codes(seed: int, start: int, stop: int, dim: int, bound: float = 2.0) -> np.ndarray:
    """Rows [start, stop) of the N(0, I_dim) sequence of `seed` truncated to [-bound, bound] (BigGAN's z prior).

    Each block is drawn like `gaussian_codes` and every entry outside the bound is redrawn from the same stream
    until none is left (rejection sampling), so rows are reproducible and independent of chunking.
    """

    def draw(rng: np.random.Generator) -> np.ndarray:
        block = rng.standard_normal((RNG_BLOCK_ROWS, dim), np.float32)
        outside = np.abs(block) > bound
        while outside.any():
            block[outside] = rng.standard_normal(int(outside.sum()), np.float32)
            outside = np.abs(block) > bound
        return block

    if not bound > 0:
        raise InterfaceGANError(f"the truncation bound must be positive, got {bound}")
    return _block_codes(seed, start, stop, dim, draw)


def _block_codes(seed: int, start: int, stop: int, dim: int, draw) -> np.ndarray:
    """Rows [start, stop) of the sequence whose block b is `draw(rng)` for the stream (seed, b)."""
    seed = checks.seed(seed)  # one line for a negative, huge or fractional seed, whichever sequence is drawn
    if stop <= start:
        return np.zeros((0, dim), dtype=np.float32)
    first, last = start // RNG_BLOCK_ROWS, (stop - 1) // RNG_BLOCK_ROWS
    blocks = []
    for block in range(first, last + 1):
        blocks.append(draw(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))))
    offset = first * RNG_BLOCK_ROWS
    return np.concatenate(blocks)[start - offset : stop - offset]


@dataclass(frozen=True)
class Truncation:
    """W-space truncation w' = w_avg + psi (w - w_avg), applied to the first `cutoff` layers (None = all)."""

    psi: float = 1.0
    cutoff: int | None = None

    @property
    def active(self) -> bool:
        return self.psi != 1.0

    def as_dict(self) -> dict:
        return {"psi": self.psi, "cutoff": self.cutoff}

    def apply(self, codes: torch.Tensor, w_avg: torch.Tensor) -> torch.Tensor:
        """Truncated codes: all of w (N, w_dim), or the first `cutoff` layers of W+ (N, L, w_dim), pulled to w_avg."""
        if not self.active:
            return codes
        if codes.ndim == 2:
            return torch.lerp(w_avg, codes, self.psi)
        cutoff = codes.shape[1] if self.cutoff is None else min(int(self.cutoff), codes.shape[1])
        out = codes.clone()
        out[:, :cutoff] = torch.lerp(w_avg, codes[:, :cutoff], self.psi)
        return out


@dataclass
class ModelInfo:
    """What a model is, for metadata and for checking that a boundary belongs to a model."""

    name: str
    spec: str
    z_dim: int
    resolution: int
    spaces: tuple[str, ...]
    space_shapes: dict[str, tuple[int, ...]]
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "spec": self.spec,
            "z_dim": self.z_dim,
            "resolution": self.resolution,
            "spaces": list(self.spaces),
            "space_shapes": {k: list(v) for k, v in self.space_shapes.items()},
            **self.extra,
        }


class Generator(ABC):
    """A pretrained generator behind a small interface (see module docstring).

    Attributes set by subclasses: `name`, `z_dim`, `resolution`, `spaces`, and for style models `w_dim` and
    `num_ws` (number of W+ layers). `spec` is the string that loads this model again (e.g. 'dcgan-digiface' or
    'stylegan2:/path/ffhq.pkl'); `requested_device` the device it was asked for, which workers that load it again
    from `spec` ask for too ('auto' resolves on each worker: CUDA where it has a GPU, e.g. a Ray worker given one).
    """

    name: str = "generator"
    spec: str = ""
    z_dim: int
    resolution: int
    spaces: tuple[str, ...] = ("z",)
    w_dim: int | None = None
    num_ws: int | None = None
    requested_device: str = "auto"

    def __init__(self, device: str | torch.device | None = None):
        self.device = resolve_device(device)
        self.requested_device = "auto" if device is None else str(device)

    # ---- to implement -------------------------------------------------------------------------------------
    @abstractmethod
    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        """Images (N, 3, H, W) float in [-1, 1] from codes on self.device in `space`; differentiable."""

    def _map(self, z: torch.Tensor, space: str, truncation: Truncation) -> torch.Tensor:
        """Codes in `space` from z (N, z_dim). Non-style models only have 'z'."""
        return z

    @abstractmethod
    def first_affine(self, layers: str | list[int] | None = None, **options) -> torch.Tensor:
        """Weight A (out_features, latent_dim) of the first affine map(s) acting on the latent code (for SeFa).

        Style models concatenate the chosen layers' style affines along the first axis.
        """

    def modules(self) -> list[torch.nn.Module]:
        """The torch modules holding this model's weights (moved to the device, put in eval mode)."""
        return []

    def first_layer_activations(self, z: torch.Tensor) -> torch.Tensor:
        """The first layer's output (N, ...) for z (N, z_dim) on self.device: what GANSpace's PCA in z runs on.

        Style models: w, the mapping's output (GANSpace's 'style' layer). Models without W override this with their
        first layer (DCGAN, PGGAN, BigGAN, the toy model); others get a one-line error.
        """
        if "w" in self.spaces:
            return self._map(z, "w", Truncation())
        raise InterfaceGANError(
            f"model {self.name!r} does not expose its first layer's activations, which GANSpace in z needs: "
            "implement first_layer_activations(z) on the model"
        )

    # ---- provided ---------------------------------------------------------------------------------------
    @property
    def affine_space(self) -> str:
        """The space `first_affine` acts on (for SeFa): 'w' for style-based models, else 'z'."""
        return "w" if "w" in self.spaces else "z"

    def space_shape(self, space: str) -> tuple[int, ...]:
        """Shape of one code in `space`: ('z',) -> (z_dim,), ('w',) -> (w_dim,), ('wp',) -> (num_ws, w_dim)."""
        self.check_space(space)
        if space == "z":
            return (self.z_dim,)
        if space == "w":
            return (int(self.w_dim),)
        if space == "wp":
            return (int(self.num_ws), int(self.w_dim))
        raise InterfaceGANError(f"space {space!r} has no known shape")

    def check_space(self, space: str) -> None:
        if space not in self.spaces:
            raise InterfaceGANError(
                f"model {self.name!r} has no latent space {space!r}: choose one of {', '.join(self.spaces)}"
            )

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            spec=self.spec or self.name,
            z_dim=self.z_dim,
            resolution=self.resolution,
            spaces=tuple(self.spaces),
            space_shapes={s: self.space_shape(s) for s in self.spaces},
        )

    def sample(self, n: int, seed: int = 0, start: int = 0) -> np.ndarray:
        """Rows [start, start+n) of the reproducible Gaussian z sequence for `seed`, float32 (n, z_dim)."""
        if n < 0:
            raise InterfaceGANError(f"number of samples must be >= 0, got {n}")
        return gaussian_codes(seed, start, start + n, self.z_dim)

    def to_tensor(self, codes: np.ndarray | torch.Tensor) -> torch.Tensor:
        if isinstance(codes, np.ndarray):
            codes = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
        return codes.to(self.device, torch.float32)

    def check_truncation(self, truncation: Truncation | None) -> None:
        """Raise a one-line error when this model cannot honour `truncation` (callers check before writing): W
        truncation on a model without W would be a silent no-op."""
        if truncation is not None and truncation.active and "w" not in self.spaces:
            raise InterfaceGANError(
                f"model {self.name!r} has no W space (its spaces: {', '.join(self.spaces)}): W truncation "
                f"(psi {truncation.psi:g}) would change nothing, leave the truncation psi at 1"
            )

    def check_codes(self, codes: np.ndarray | torch.Tensor, space: str) -> None:
        """Raise a clear error unless codes have shape (N, *space_shape)."""
        shape = self.space_shape(space)
        if tuple(codes.shape[1:]) != shape:
            raise InterfaceGANError(
                f"codes of shape {tuple(codes.shape)} do not fit space {space!r} of model {self.name!r}: "
                f"expected (N, {', '.join(map(str, shape))})"
            )

    @torch.no_grad()
    def map(
        self,
        z: np.ndarray | torch.Tensor,
        space: str,
        truncation: Truncation | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Map z codes (N, z_dim) to `space`, in batches, returning float32 numpy."""
        self.check_space(space)
        self.check_codes(z, "z")
        truncation = truncation or Truncation()
        if space == "z":
            return np.asarray(z.cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float32)
        out = [
            self._map(self.to_tensor(z[i : i + batch_size]), space, truncation).float().cpu().numpy()
            for i in range(0, len(z), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, *self.space_shape(space)), np.float32)

    def generate(self, codes: torch.Tensor, space: str = "z") -> torch.Tensor:
        """Differentiable synthesis: images (N, 3, H, W) in [-1, 1] (for inversion and training)."""
        self.check_space(space)
        self.check_codes(codes, space)
        return self._synthesize(self.to_tensor(codes), space)

    @torch.no_grad()
    def synthesize(
        self,
        codes: np.ndarray | torch.Tensor,
        space: str = "z",
        batch_size: int = 64,
        truncation: Truncation | None = None,
    ) -> np.ndarray:
        """Images (N, H, W, 3) uint8 from codes in `space`, computed in batches on self.device.

        `truncation` applies to z codes of style models (they are mapped to truncated W+ first).
        """
        self.check_space(space)
        self.check_codes(codes, space)
        truncate = space == "z" and truncation is not None and truncation.active and "wp" in self.spaces
        out = []
        for i in range(0, len(codes), batch_size):
            batch = self.to_tensor(codes[i : i + batch_size])
            if truncate:
                images = self._synthesize(self._map(batch, "wp", truncation), "wp")
            else:
                images = self._synthesize(batch, space)
            out.append(to_uint8(images))
        if not out:
            return np.zeros((0, self.resolution, self.resolution, 3), np.uint8)
        return np.concatenate(out)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] -> (N, H, W, 3) uint8, rounding to nearest."""
    images = (images.detach().float() * 127.5 + 128.0).clamp_(0, 255).to(torch.uint8)
    return images.permute(0, 2, 3, 1).cpu().numpy()
