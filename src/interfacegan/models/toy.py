"""A tiny generator whose true semantic directions are known, for tests, benchmarks and docs.

Images are small grey squares. Pixel k of the first row encodes attribute k as tanh(n_k . z / scale) with
n_k the known unit normal in Z (`normals`); the remaining pixels are a fixed random linear read-out of z.
It offers Z, W (w = B z with B known and well conditioned, so the W-space normal is B^-T n, see
`true_normal`) and W+ (num_ws copies of w). In W+ each image row is driven by one layer only, so layer-wise
edits have a visible, checkable footprint. The `toy` scorer (interfacegan.scoring.toy) reads attributes back.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from interfacegan.models.base import Generator, Truncation

TOY_SCALE = 4.0


class ToyGenerator(Generator):
    spaces = ("z", "w", "wp")
    affine_space = "z"  # its first_affine is the z read-out, although it also offers W

    def __init__(
        self,
        z_dim: int = 16,
        normals: np.ndarray | None = None,
        num_attributes: int = 3,
        num_ws: int = 4,
        resolution: int = 8,
        seed: int = 0,
        device=None,
    ):
        super().__init__(device)
        # `load_model("toy")` rebuilds only the default toy; any other has no spec, so executors ship it whole
        given = dict(z_dim=z_dim, num_attributes=num_attributes, num_ws=num_ws, resolution=resolution, seed=seed)
        signature = inspect.signature(ToyGenerator.__init__).parameters
        default = normals is None and all(value == signature[name].default for name, value in given.items())
        rng = np.random.default_rng(seed)
        if normals is None:
            normals = rng.standard_normal((num_attributes, z_dim))
        normals = np.asarray(normals, dtype=np.float64)
        self.normals = (normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32)
        self.z_dim = self.w_dim = z_dim
        self.num_ws = num_ws
        self.resolution = resolution
        self.name = "toy"
        self.spec = "toy" if default else ""
        readout = rng.standard_normal((resolution * resolution, z_dim)) / np.sqrt(z_dim)
        readout[: len(self.normals)] = self.normals
        q, _ = np.linalg.qr(rng.standard_normal((z_dim, z_dim)))
        mapping = q * np.linspace(1.0, 2.0, z_dim)  # w = mapping @ z, singular values 1..2
        self.readout = readout.astype(np.float32)  # image pixels = readout @ z
        self.mapping = mapping.astype(np.float32)
        self.w_avg = np.zeros(z_dim, np.float32)
        w_readout = readout @ np.linalg.inv(mapping)  # image pixels = w_readout @ w
        self._z_readout = torch.from_numpy(self.readout).to(self.device)
        self._w_readout = torch.from_numpy(w_readout.astype(np.float32)).to(self.device)
        self._mapping = torch.from_numpy(self.mapping).to(self.device)
        self._row_layer = torch.arange(resolution, device=self.device) * num_ws // resolution

    def true_normal(self, attribute: int, space: str = "z") -> np.ndarray:
        """The exact unit normal of attribute k in `space` ('z' or 'w'; for 'wp' use 'w' per layer)."""
        n = self.normals[attribute].astype(np.float64)
        if space != "z":
            n = np.linalg.solve(self.mapping.astype(np.float64).T, n)  # B^-T n
        return (n / np.linalg.norm(n)).astype(np.float32)

    def _map(self, z: torch.Tensor, space: str, truncation: Truncation) -> torch.Tensor:
        w = z @ self._mapping.T
        if space == "w":
            return truncation.psi * w if truncation.active else w  # w_avg is 0
        wp = w[:, None, :].repeat(1, self.num_ws, 1)
        if truncation.active:
            cutoff = self.num_ws if truncation.cutoff is None else truncation.cutoff
            wp[:, :cutoff] *= truncation.psi
        return wp

    def _synthesize(self, codes: torch.Tensor, space: str) -> torch.Tensor:
        r = self.resolution
        if space == "z":
            values = (codes @ self._z_readout.T).reshape(len(codes), r, r)
        elif space == "w":
            values = (codes @ self._w_readout.T).reshape(len(codes), r, r)
        else:
            per_layer = torch.einsum("nld,pd->nlp", codes, self._w_readout).reshape(len(codes), -1, r, r)
            rows = torch.arange(r, device=codes.device)
            values = per_layer[:, self._row_layer, rows, :]  # image row i comes from its own layer
        image = torch.tanh(values / TOY_SCALE)
        return image[:, None].expand(-1, 3, -1, -1).contiguous()

    def first_affine(self, layers=None, **options) -> torch.Tensor:
        return self._z_readout.detach().cpu().clone()

    def first_layer_activations(self, z: torch.Tensor) -> torch.Tensor:
        """The z read-out before tanh (N, resolution**2): its one linear layer, `first_affine` applied to z."""
        return z @ self._z_readout.T
