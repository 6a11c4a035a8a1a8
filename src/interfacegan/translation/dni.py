"""Deep network interpolation (DNI, Wang et al. CVPR 2019): gradual edits by mixing two networks' weights.

theta(t) = (1 - t) * theta_identity + t * theta_edited, where the edited network was fine-tuned from the identity
one, so both lie in one basin and every t gives a working network: t = 0 returns the input (up to the identity
network's error), t = 1 the full learned edit. `Translator` holds both weight sets and renders any strength t in
[-1, 2]; values outside [0, 1] extrapolate (weaker than none / stronger than trained), which DNI allows but which
leaves what the network was trained on, so quality drops as |t| grows past 1. `save_translations` writes the
edited images of `translate` (one PNG per image and strength, a strip per image), all or none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from interfacegan.device import resolve_device
from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.images import check_uint8_images, to_model_tensor
from interfacegan.models.base import to_uint8
from interfacegan.translation.network import NetworkConfig, ResidualUNet, build_network

STRENGTH_RANGE = (-1.0, 2.0)

StateDict = dict[str, torch.Tensor]


def check_same_architecture(a: StateDict, b: StateDict) -> None:
    """One-line error unless the two state dicts have the same keys, shapes and dtypes."""
    if a.keys() != b.keys():
        missing = sorted(set(a) ^ set(b))
        raise InterfaceGANError(
            f"the two networks have different architectures ({len(missing)} parameter names differ, e.g. "
            f"{missing[0]!r}): interpolate an identity network with one fine-tuned from it"
        )
    for key in a:
        if a[key].shape != b[key].shape or a[key].dtype != b[key].dtype:
            raise InterfaceGANError(
                f"the two networks have different architectures ({key!r} is {tuple(a[key].shape)} {a[key].dtype} vs "
                f"{tuple(b[key].shape)} {b[key].dtype}): interpolate an identity network with one fine-tuned from it"
            )


def interpolate_state_dicts(identity: StateDict, edited: StateDict, t: float) -> StateDict:
    """(1 - t) * identity + t * edited for every floating tensor; other tensors must be equal and are copied."""
    check_same_architecture(identity, edited)
    t = float(t)
    if not math.isfinite(t):
        raise InterfaceGANError(f"the interpolation strength must be finite, got {t}")
    out = {}
    for key, a in identity.items():
        b = edited[key]
        if a.is_floating_point():
            out[key] = torch.lerp(a, b.to(a.device), t) if t not in (0.0, 1.0) else (a if t == 0.0 else b).clone()
        elif torch.equal(a, b.to(a.device)):
            out[key] = a.clone()
        else:
            raise InterfaceGANError(f"non-float tensor {key!r} differs between the networks: they cannot be mixed")
    return out


def check_strengths(strengths) -> np.ndarray:
    """Strengths as float32 (S,), each finite and in STRENGTH_RANGE; a one-line error otherwise."""
    values = np.asarray(strengths, dtype=np.float64).reshape(-1)
    lo, hi = STRENGTH_RANGE
    if values.size == 0:
        raise InterfaceGANError("give at least one strength, e.g. 0,0.5,1")
    bad = values[~np.isfinite(values) | (values < lo) | (values > hi)]
    if bad.size:
        raise InterfaceGANError(
            f"strength {bad[0]:g} is outside [{lo:g}, {hi:g}]: 0 keeps the image, 1 is the trained edit"
        )
    return values.astype(np.float32)


class Translator:
    """An identity and an edited `ResidualUNet` of one config; `translate(images, strengths)` edits by DNI.

    `attribute` and `model` say what the edit is and which generator's images it was trained on.
    """

    def __init__(self, config: NetworkConfig, identity: StateDict, edited: StateDict, attribute: str = "edit",
                 model: str = "", metrics: dict | None = None, training: dict | None = None, device=None):  # fmt: skip
        check_same_architecture(identity, edited)
        self.config = config
        self.device = resolve_device(device)
        self.identity = {k: v.detach().to(self.device).clone() for k, v in identity.items()}
        self.edited = {k: v.detach().to(self.device).clone() for k, v in edited.items()}
        self.attribute, self.model = attribute, model
        self.metrics, self.training = dict(metrics or {}), dict(training or {})
        self._net = build_network(config).to(self.device).eval().requires_grad_(False)
        self._loaded: float | None = None
        self.network(0.0)  # a state dict that does not fit the config fails here, once

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def network(self, t: float) -> ResidualUNet:
        """The network with weights theta(t) (eval mode, no gradients); reused, so use it before the next call."""
        if self._loaded != float(t):
            weights = interpolate_state_dicts(self.identity, self.edited, t)
            try:
                self._net.load_state_dict(weights)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise InterfaceGANError(f"the weights do not fit the network config ({first}): train again") from None
            self._loaded = float(t)
        return self._net

    @torch.no_grad()
    def translate_tensor(self, images: torch.Tensor, t: float) -> torch.Tensor:
        """Images (N, 3, R, R) in [-1, 1] edited at strength t, same shape (not clamped)."""
        return self.network(t)(images.to(self.device, torch.float32))

    def translate(self, images: np.ndarray, strengths: Sequence[float] = (1.0,), batch_size: int = 64) -> np.ndarray:
        """uint8 images (N, R, R, 3) edited at each strength: uint8 (N, S, R, R, 3)."""
        images = check_uint8_images(images, self.resolution)
        values = check_strengths(strengths)
        out = np.empty((len(images), len(values), *images.shape[1:]), np.uint8)
        for s, t in enumerate(values):
            for i in range(0, len(images), batch_size):
                x = to_model_tensor(np.array(images[i : i + batch_size]), self.device)  # a writable copy
                out[i : i + batch_size, s] = to_uint8(self.translate_tensor(x, float(t)))
        return out

    def save(self, path):
        """Write identity + edited weights, config, attribute and model to one torch file, atomically."""
        from interfacegan.translation.checkpoint import save_translator

        return save_translator(self, path)

    @classmethod
    def load(cls, path, device=None) -> "Translator":
        """Read a file written by `save` (torch.load with weights_only=True: no code from the file runs)."""
        from interfacegan.translation.checkpoint import load_translator

        return load_translator(path, device)


def save_translations(edited: np.ndarray, names: Sequence[str], strengths, out: str | Path,
                      scale: int = 2) -> list[Path]:  # fmt: skip
    """Write translated images uint8 (N, S, R, R, 3) of the inputs `names` (N,) at `strengths` (S,) into the folder
    `out`: `NNN_name_tT.png` per image and strength and a strip `NNN_name_strip.png` per image; all or none."""
    from interfacegan.atomic import staged_dir
    from interfacegan.editing.render import check_render, save_grid, save_image
    from interfacegan.inversion.files import safe_stem

    scale = check_render(scale=scale)[1]
    values = check_strengths(strengths)
    edited = np.asarray(edited)
    if edited.ndim != 5 or edited.shape[:2] != (len(names), len(values)):
        raise InterfaceGANError(f"translations of shape {edited.shape} do not fit {len(names)} images x "
                                f"{len(values)} strengths")  # fmt: skip
    labels = [f"{t:g}" for t in values] if edited.shape[3] * scale >= 32 else None
    written = []
    with staged_dir(out) as stage:
        for i, (name, row) in enumerate(zip(names, edited)):
            stem = f"{i:03d}_{safe_stem(name)}"
            written += [save_image(image, stage / f"{stem}_t{t:g}.png").name for t, image in zip(values, row)]
            written.append(save_grid(row[None], stage / f"{stem}_strip.png", col_labels=labels, scale=scale).name)
    return [Path(out) / name for name in written]
