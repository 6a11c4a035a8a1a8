"""Optimisation-based GAN inversion: find the latent code whose image best matches a given image (Adam).

Z-only models (DCGAN, PGGAN) optimise z with a Gaussian-shell prior that keeps ||z||^2 near d, where the
generator was trained and where boundaries were fitted; style models optimise w or W+ starting from w_avg
(W+ optionally pulled toward a single w, which keeps codes editable). The loss is pixel MSE plus an image-pyramid
L1 (`ReconstructionLoss`); nothing is downloaded. Codes start at the mean code, at the best of K random samples
('search'), at a learned encoder's guess ('encoder') or at given codes. The learning rate follows the StyleGAN2
projector's schedule (5% warm-up, cosine ramp-down over the last 25%), and each image keeps its best code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.images import check_uint8_images, to_model_tensor
from interfacegan.inversion.losses import ReconstructionLoss, psnr
from interfacegan.models.base import to_uint8
from interfacegan.progress import progress_bar

INITS = ("auto", "mean", "search", "encoder")
MEAN_SAMPLES = 4096  # mapped samples averaged when a style model has no w_avg
SPREAD_SAMPLES = 1024  # mapped samples that measure the spread of w / W+ codes
MAX_STEPS = 100_000  # Adam steps of one inversion (the default is 300; more only repeats converged steps)


def default_space(model) -> str:
    """The space inverted by default: W+ for style models (best reconstructions), else z."""
    return "wp" if "wp" in model.spaces else "z"


def mean_code(model, space: str) -> np.ndarray:
    """The centre of `space` as one code (*space_shape,) float32: zeros in z, w_avg in w (tiled in W+)."""
    model.check_space(space)
    if space == "z":
        return np.zeros(model.space_shape("z"), np.float32)
    w_avg = getattr(model, "w_avg", None)
    if w_avg is None:
        w_avg = model.map(model.sample(MEAN_SAMPLES, seed=0), "w").mean(0)
    w_avg = np.asarray(w_avg.detach().cpu() if isinstance(w_avg, torch.Tensor) else w_avg, np.float32).reshape(-1)
    return np.broadcast_to(w_avg, model.space_shape(space)).copy() if space == "wp" else w_avg


def code_statistics(model, space: str) -> tuple[np.ndarray, float]:
    """(centre (*space_shape,), scalar spread) of `space`: (0, 1) in z, else `mean_code` and the RMS distance
    of mapped samples from it. Learning rates are given in units of this spread, so one default fits every model."""
    centre = mean_code(model, space)
    if space == "z":
        return centre, 1.0
    codes = model.map(model.sample(SPREAD_SAMPLES, seed=0), space)
    spread = float(np.sqrt(np.mean((codes - centre) ** 2)))
    return centre, spread if spread > 0 else 1.0


def search_codes(model, targets: torch.Tensor, space: str, loss: ReconstructionLoss, num: int, seed: int,
                 batch_size: int = 64) -> torch.Tensor:  # fmt: skip
    """For each target (N, 3, H, W), the best (lowest loss) of `num` random samples as a code (N, *space_shape).

    The samples are drawn and mapped `batch_size` at a time (rows of the seed's z sequence), so memory stays one
    batch whatever `num` is."""
    best_loss = torch.full((len(targets),), float("inf"), device=targets.device)
    best = model.to_tensor(np.zeros((len(targets), *model.space_shape(space)), dtype=np.float32))
    with torch.no_grad():
        for start in range(0, num, batch_size):
            z = model.sample(min(batch_size, num - start), seed=seed, start=start)
            codes = model.to_tensor(z if space == "z" else model.map(z, space))
            images = model.generate(codes, space)
            for i, target in enumerate(targets):
                values = loss(images, target[None].expand_as(images))
                value, index = values.min(0)
                if value < best_loss[i]:
                    best_loss[i], best[i] = value, codes[index]
    return best


def lr_schedule(step: int, steps: int, lr: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """Learning rate at `step` of `steps`: linear warm-up over `rampup`, cosine ramp-down over the last `rampdown`."""
    t = (step + 1) / max(1, steps)
    down = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    factor = 0.5 - 0.5 * math.cos(max(0.0, down) * math.pi)
    if rampup > 0:
        factor *= min(1.0, t / rampup)
    return lr * max(factor, 0.01)


def code_regularizer(codes: torch.Tensor, space: str, prior_weight: float, spread_weight: float) -> torch.Tensor:
    """Per-code penalty (N,): prior_weight (mean(z^2) - 1)^2 in z; spread_weight * variance across W+ layers."""
    if space == "z" and prior_weight:
        return prior_weight * (codes.pow(2).mean(1) - 1.0).pow(2)
    if space == "wp" and spread_weight:
        return spread_weight * (codes - codes.mean(1, keepdim=True)).pow(2).mean((1, 2))
    return codes.new_zeros(len(codes))


@dataclass
class InversionResult:
    """Best codes found per image and how well they reconstruct it.

    codes (N, *space_shape) float32; losses (steps + 1, N): objective at each step (row 0 = initial codes);
    reconstructions (N, H, W, 3) uint8 of `codes`; psnr (N,) dB of the reconstructions against the targets.
    """

    codes: np.ndarray
    space: str
    losses: np.ndarray
    reconstructions: np.ndarray
    psnr: np.ndarray
    init: str
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready description: settings, per-image PSNR and final objective."""
        return {
            "space": self.space,
            "init": self.init,
            "code_shape": list(self.codes.shape[1:]),
            "psnr": [round(float(p), 3) for p in self.psnr],
            "psnr_mean": round(float(np.mean(self.psnr)), 3) if len(self.psnr) else None,
            "final_loss": [float(v) for v in self.losses[-1]] if len(self.losses) else [],
            "initial_loss": [float(v) for v in self.losses[0]] if len(self.losses) else [],
            "settings": self.settings,
        }


def _targets(model, images) -> torch.Tensor:
    """Images as (N, 3, R, R) in [-1, 1] on the model's device, from uint8 (N, R, R, 3) or such a tensor."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise InterfaceGANError(f"image tensors must be (N, 3, H, W) in [-1, 1], got {tuple(images.shape)}")
        targets = images.detach().to(model.device, torch.float32)
    else:
        targets = to_model_tensor(check_uint8_images(images, model.resolution), model.device)
    r = model.resolution
    if targets.shape[-2:] != (r, r):
        raise InterfaceGANError(
            f"images are {targets.shape[-1]}x{targets.shape[-2]} but the model makes {r}x{r}: resize them first"
        )
    if len(targets) == 0:
        raise InterfaceGANError("no images to invert")
    return targets


def _initial_codes(model, targets, space, init, encoder, loss, num_candidates, seed, codes) -> tuple[torch.Tensor, str]:
    if codes is not None:
        return model.to_tensor(codes), "codes"
    if init not in INITS:
        raise InterfaceGANError(f"unknown init {init!r}: use one of {', '.join(INITS)}")
    if init == "auto":
        init = "encoder" if encoder is not None else ("search" if space == "z" else "mean")
    if init == "encoder":
        if encoder is None:
            raise InterfaceGANError("init 'encoder' needs an encoder: give `encoder` (a file written by train-encoder)")
        return encoder.encode_tensor(targets).detach().to(targets.device), init
    if init == "search":
        return search_codes(model, targets, space, loss, num_candidates, seed), init
    mean = model.to_tensor(mean_code(model, space))
    return mean.expand(len(targets), *mean.shape).clone(), init


def resolve_encoder(model, encoder, space: str | None):
    """An `Encoder` (loaded when `encoder` is a path) that fits `model` and `space`, or None."""
    if encoder is None:
        return None
    from interfacegan.inversion.encoder import Encoder

    if not isinstance(encoder, Encoder):
        encoder = Encoder.load(encoder, device=model.device)
    encoder.check_fits(model, space)
    return encoder


def check_inversion(steps: int = checks.UNSET, lr: float = checks.UNSET, prior_weight: float = checks.UNSET,
                    spread_weight: float = checks.UNSET, num_candidates: int = checks.UNSET, seed: int = checks.UNSET,
                    batch_size: int = checks.UNSET) -> tuple:  # fmt: skip
    """The numeric settings of `invert` that are given, checked (one line naming the first bad one), in its order;
    one not given comes back None (the defaults are `invert`'s), so a caller checks what it was given before any
    work. A None given is refused like any other bad value."""

    def given(check, name: str, value):
        return None if value is checks.UNSET else check(name, value)

    def whole_steps(name: str, value) -> int:
        return checks.integer(name, checks.integer(name, value, low=0), high=MAX_STEPS)

    def seed_of(name: str, value) -> int:
        return checks.seed(value, name)

    return (given(whole_steps, "steps", steps), given(checks.positive, "lr", lr),
            given(checks.non_negative, "prior_weight", prior_weight),
            given(checks.non_negative, "spread_weight", spread_weight),
            given(checks.positive_int, "num_candidates", num_candidates), given(seed_of, "seed", seed),
            given(checks.positive_int, "batch_size", batch_size))  # fmt: skip


def invert(
    model,
    images,
    space: str | None = None,
    steps: int = 300,
    lr: float = 0.4,
    loss: ReconstructionLoss | None = None,
    prior_weight: float = 0.5,
    spread_weight: float = 0.0,
    init: str = "auto",
    num_candidates: int = 256,
    encoder=None,
    codes: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = False,
) -> InversionResult:
    """Invert `images` (uint8 (N, R, R, 3), or (N, 3, R, R) in [-1, 1]) into `space` codes of `model`.

    `init`: 'auto' (encoder if given, else 'search' in z and 'mean' in w/W+), 'mean', 'search' (best of
    `num_candidates` samples of `seed`) or 'encoder' (`encoder`: an Encoder or its file); `codes` (N, *shape)
    overrides it. `lr` is in units of the codes' spread (`code_statistics`). `prior_weight` keeps ||z||^2 near
    d; `spread_weight` pulls W+ layers toward one w. Images are independent problems solved `batch_size` at a
    time; the result is deterministic for a seed.
    """
    steps, lr, prior_weight, spread_weight, num_candidates, seed, batch_size = check_inversion(
        steps, lr, prior_weight, spread_weight, num_candidates, seed, batch_size)  # fmt: skip
    encoder = resolve_encoder(model, encoder, space)
    if space is None:
        space = encoder.space if encoder is not None else default_space(model)
    model.check_space(space)
    loss = loss or ReconstructionLoss()
    targets = _targets(model, images)
    n = len(targets)
    if codes is not None:
        codes = checks.finite_array("codes", np.asarray(codes, np.float32))
        model.check_codes(codes, space)
        if len(codes) != n:
            raise InterfaceGANError(f"{len(codes)} initial codes for {n} images: give one code per image")
    step_size = lr * code_statistics(model, space)[1]
    chosen = init
    out_codes, out_images, out_losses = [], [], []
    with progress_bar("inverting", total=n * max(steps, 1), enabled=progress) as bar:
        for start in range(0, n, batch_size):
            batch = targets[start : start + batch_size]
            given = None if codes is None else codes[start : start + batch_size]
            init_codes, chosen = _initial_codes(model, batch, space, init, encoder, loss, num_candidates, seed, given)
            best, images_best, history = _optimise(model, batch, init_codes, space, steps, step_size, loss,
                                                   prior_weight, spread_weight,
                                                   lambda k=len(batch): bar.advance(k))  # fmt: skip
            out_codes.append(best)
            out_images.append(images_best)
            out_losses.append(history)
    reconstructions = torch.cat(out_images)
    settings = {"steps": steps, "lr": lr, "loss": loss.as_dict(), "prior_weight": prior_weight,
                "spread_weight": spread_weight, "num_candidates": num_candidates, "seed": seed}  # fmt: skip
    return InversionResult(
        codes=torch.cat(out_codes).cpu().numpy().astype(np.float32),
        space=space,
        losses=np.concatenate(out_losses, axis=1),
        reconstructions=to_uint8(reconstructions),
        psnr=psnr(reconstructions, targets).cpu().numpy(),
        init=chosen,
        settings=settings,
    )


def _optimise(model, targets, init_codes, space, steps, step_size, loss, prior_weight, spread_weight, advance):
    """(best codes, their images, objective history (steps + 1, B)) of Adam on the codes of one batch."""
    codes = init_codes.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([codes], lr=step_size)
    best_loss = torch.full((len(targets),), float("inf"), device=targets.device)
    best_codes = codes.detach().clone()
    best_images = torch.zeros_like(targets)
    history = np.zeros((steps + 1, len(targets)), np.float32)
    for step in range(steps + 1):
        last = step == steps
        with torch.set_grad_enabled(not last):
            images = model.generate(codes, space)
            objective = loss(images, targets) + code_regularizer(codes, space, prior_weight, spread_weight)
        values = objective.detach()
        history[step] = values.cpu().numpy()
        better = values < best_loss
        best_loss = torch.where(better, values, best_loss)
        best_codes[better] = codes.detach()[better]
        best_images[better] = images.detach()[better]
        if last:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_schedule(step, steps, step_size)
        optimizer.zero_grad(set_to_none=True)
        objective.sum().backward()
        optimizer.step()
        advance()
    return best_codes, best_images, history
