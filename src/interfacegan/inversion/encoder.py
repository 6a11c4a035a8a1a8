"""A learned encoder image -> latent code, trained on the generator's own samples (whose codes are known).

One forward pass gives a code close to what optimisation would find, so `invert(..., init='encoder')` needs far
fewer steps. Training draws z from the model's reproducible Gaussian sequence (rows [step*B, (step+1)*B) at step
`step`), so an interrupted run resumes bit-exactly from its checkpoint. The loss is code MSE (in units of the
codes' spread) plus the reconstruction loss of the re-synthesised images. Files hold a state dict and a JSON config
and are read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.images import check_uint8_images, to_model_tensor
from interfacegan.inversion.losses import ReconstructionLoss, psnr
from interfacegan.inversion.optimize import code_statistics, default_space
from interfacegan.models.base import gaussian_codes
from interfacegan.models.weights import (
    build_checked,
    load_state_checked,
    read_json_config,
    read_tagged_file,
    write_tagged_file,
)
from interfacegan.progress import progress_bar

ENCODER_FORMAT = "interfacegan-encoder"
CHECKPOINT_FORMAT = "interfacegan-encoder-checkpoint"
FORMAT_VERSION = 1
HELD_OUT_SEED_OFFSET = 1_000_003  # held-out samples come from seed + this offset, never from training rows
HELD_OUT_NUM = 64
FIX = "train the encoder again"
# field -> (types, low, high, required): what an encoder config may hold, checked before any network is built
CONFIG_FIELDS = {
    "model": ((str,), 0, 4096, True), "resolution": ((int,), 1, 4096, True), "space": ((str,), 1, 8, True),
    "code_shape": ((list,), 1, 1 << 16, True), "width": ((int,), 1, 4096, False), "max_width": ((int,), 1, 4096, False),
    "hidden": ((int,), 1, 1 << 16, False), "training": ((dict,), 0, 1000, False), "metrics": ((dict,), 0, 1000, False),
}  # fmt: skip


class ConvEncoder(nn.Module):
    """Images (N, 3, R, R) in [-1, 1] -> normalised codes (N, code_size): stride-2 convs down to 4x4, then an MLP.

    Channels start at `width` (at half resolution) and double per halving up to `max_width`; GroupNorm keeps
    train and eval identical.
    The code is `center + scale * output`, with `center` and `scale` buffers saved in the state dict.
    """

    def __init__(self, resolution: int, code_size: int, width: int = 32, max_width: int = 256, hidden: int = 512):
        super().__init__()
        layers: list[nn.Module] = []
        channels, out, side = 3, width, resolution
        while side > 4 and side % 2 == 0:
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.GroupNorm(min(8, out), out),
                       nn.LeakyReLU(0.2)]  # fmt: skip
            channels, out, side = out, min(out * 2, max_width), side // 2
        if not layers:  # images of 4 px or less: one full-resolution convolution
            layers = [nn.Conv2d(3, width, 3, padding=1), nn.LeakyReLU(0.2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, code_size))  # fmt: skip
        self.register_buffer("center", torch.zeros(code_size))
        self.register_buffer("scale", torch.ones(()))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised codes (N, code_size); `decode` turns them into codes."""
        return self.head(self.features(images))

    def decode(self, normalised: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * normalised

    def normalise(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes.flatten(1) - self.center) / self.scale


@dataclass
class EncoderConfig:
    """What an encoder inverts (model spec, resolution, space, code shape), its architecture and its training."""

    model: str
    resolution: int
    space: str
    code_shape: list[int]
    width: int = 32
    max_width: int = 256
    hidden: int = 512
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @property
    def code_size(self) -> int:
        return int(np.prod(self.code_shape))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> "EncoderConfig":
        """The config stored in an encoder file, every field type- and range-checked (one line otherwise)."""
        return cls(**read_json_config(text, CONFIG_FIELDS, source, "encoder", FIX))


class Encoder:
    """A trained `ConvEncoder` with its config: `encode(images)` gives codes (N, *code_shape) of `config.space`."""

    def __init__(self, net: ConvEncoder, config: EncoderConfig, device=None):
        from interfacegan.device import resolve_device

        self.device = resolve_device(device)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.config = config

    @property
    def space(self) -> str:
        return self.config.space

    @property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(self.config.code_shape)

    def encode_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """Codes (N, *code_shape) on the encoder's device from images (N, 3, R, R) in [-1, 1] (no gradients)."""
        with torch.no_grad():
            images = images.to(self.device, torch.float32)
            return self.net.decode(self.net(images)).reshape(len(images), *self.code_shape)

    def encode(self, images, batch_size: int = 64) -> np.ndarray:
        """Codes (N, *code_shape) float32 from uint8 images (N, R, R, 3) or a (N, 3, R, R) tensor in [-1, 1]."""
        if not isinstance(images, torch.Tensor):
            images = to_model_tensor(check_uint8_images(images, self.config.resolution), self.device)
        out = [self.encode_tensor(images[i : i + batch_size]).cpu().numpy() for i in range(0, len(images), batch_size)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, *self.code_shape), np.float32)

    def check_fits(self, model, space: str | None = None) -> None:
        """One-line error unless this encoder inverts `model` into `space` (None: the encoder's own space)."""
        cfg = self.config
        spec = getattr(model, "spec", "") or model.name
        fix = f"train one with `interfacegan train-encoder --model {spec}`"
        if cfg.model and spec and cfg.model != spec:
            raise InterfaceGANError(f"this encoder was trained on model {cfg.model!r}, not {spec!r}: {fix}")
        if space is not None and space != cfg.space:
            raise InterfaceGANError(
                f"this encoder predicts {cfg.space!r} codes, not {space!r}: "
                f"use `space` {cfg.space!r}, or train one with `interfacegan train-encoder --model {spec} "
                f"--space {space}`"
            )
        if cfg.resolution != model.resolution or tuple(cfg.code_shape) != model.space_shape(cfg.space):
            raise InterfaceGANError(
                f"this encoder expects {cfg.resolution}px images and {cfg.space!r} codes {tuple(cfg.code_shape)}, "
                f"model {model.name!r} has {model.resolution}px and {model.space_shape(cfg.space)}: {fix}"
            )

    def save(self, path: str | Path) -> Path:
        """Write the state dict and JSON config to `path` atomically (a torch file readable with weights_only)."""
        state = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        return write_tagged_file(path, ENCODER_FORMAT, FORMAT_VERSION, {"config": self.config.to_json(),
                                                                         "state_dict": state})  # fmt: skip

    @staticmethod
    def read_config(path: str | Path) -> EncoderConfig:
        """The config of the encoder file at `path` (which model, space, training), without building the net."""
        return EncoderConfig.from_json(_load_torch(path, ENCODER_FORMAT).get("config"), str(path))

    @classmethod
    def load(cls, path: str | Path, device=None) -> "Encoder":
        """Read an encoder written by `save` (never executes code from the file); the network its config describes
        is checked against the stored weights on the meta device before it is allocated."""
        payload = _load_torch(path, ENCODER_FORMAT)
        config = EncoderConfig.from_json(payload.get("config"), str(path))
        state = _state_dict(payload, path)
        problem = f"weights do not fit the encoder config ({FIX})"
        net = build_checked(lambda: build_net(config), state, str(path), problem)
        return cls(net, config, device)


def encode(encoder: Encoder, images, batch_size: int = 64) -> np.ndarray:
    """Codes (N, *code_shape) of images (uint8 (N, R, R, 3) or (N, 3, R, R) in [-1, 1]) predicted by `encoder`."""
    return encoder.encode(images, batch_size)


def build_net(config: EncoderConfig) -> ConvEncoder:
    return ConvEncoder(config.resolution, config.code_size, config.width, config.max_width, config.hidden)


def _state_dict(payload: dict, path) -> dict:
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InterfaceGANError(f"{path} has no usable encoder weights: {FIX}")
    return state


def _load_torch(path: str | Path, expected: str) -> dict:
    return read_tagged_file(path, expected, FORMAT_VERSION, "encoder",
                            "give a file written by `interfacegan train-encoder`")  # fmt: skip


def _training_codes(model, space: str, seed: int, start: int, stop: int) -> torch.Tensor:
    """Codes (stop - start, *space_shape) on the model device: rows of the seed's z sequence, mapped to `space`."""
    z = gaussian_codes(seed, start, stop, model.z_dim)
    return model.to_tensor(z if space == "z" else model.map(z, space))


def _lr(step: int, steps: int, lr: float) -> float:
    """Constant, then cosine decay to 5% over the last 30% of training."""
    t = step / max(1, steps)
    if t < 0.7:
        return lr
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (t - 0.7) / 0.3)))


def train_encoder(
    model,
    steps: int = 1000,
    batch_size: int = 32,
    lr: float = 1e-3,
    space: str | None = None,
    width: int = 32,
    max_width: int = 256,
    hidden: int = 512,
    code_weight: float = 1.0,
    image_weight: float = 1.0,
    loss: ReconstructionLoss | None = None,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    progress: bool = False,
) -> Encoder:
    """Train an encoder for `model` on `steps` batches of its own samples and return it.

    With `checkpoint`, state is saved there every `checkpoint_every` steps (atomically) and on Ctrl-C, and a run
    with the same settings resumes from it; it is deleted when training ends. Held-out metrics (code error,
    re-synthesis PSNR on samples of seed + HELD_OUT_SEED_OFFSET) go to `config.metrics`.
    """
    steps, batch_size = checks.positive_int("steps", steps), checks.positive_int("batch_size", batch_size, checks.MAX_BATCH)
    checkpoint_every = checks.positive_int("checkpoint_every", checkpoint_every)
    width, max_width, hidden = (checks.integer(name, value, *CONFIG_FIELDS[name][1:3])  # what a file may hold
                                for name, value in (("width", width), ("max_width", max_width), ("hidden", hidden)))
    lr, seed = checks.positive("lr", lr), checks.seed(seed)
    code_weight = checks.non_negative("code_weight", code_weight)
    image_weight = checks.non_negative("image_weight", image_weight)
    if code_weight + image_weight == 0:
        raise InterfaceGANError("code_weight and image_weight are both 0: make one positive")
    space = space or default_space(model)
    model.check_space(space)
    loss = loss or ReconstructionLoss()
    training = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "code_weight": code_weight,
                "image_weight": image_weight, "loss": loss.as_dict()}  # fmt: skip
    config = EncoderConfig(model=getattr(model, "spec", "") or model.name, resolution=model.resolution, space=space,
                           code_shape=list(model.space_shape(space)), width=width, max_width=max_width,
                           hidden=hidden, training=training)  # fmt: skip
    with torch.random.fork_rng(devices=[]):  # initial weights from the seed, without touching the global RNG
        torch.manual_seed(seed)
        net = build_net(config).to(model.device)
    centre, spread = code_statistics(model, space)
    net.center.copy_(torch.from_numpy(centre.reshape(-1)))
    net.scale.fill_(spread)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    start = _resume(checkpoint, config, net, optimizer) if checkpoint is not None else 0
    net.train()
    done = start
    try:
        with progress_bar("training encoder", total=steps, completed=start, enabled=progress) as bar:
            for step in range(start, steps):
                for group in optimizer.param_groups:
                    group["lr"] = _lr(step, steps, lr)
                codes = _training_codes(model, space, seed, step * batch_size, (step + 1) * batch_size)
                with torch.no_grad():
                    images = model.generate(codes, space)
                predicted = net(images)
                objective = code_weight * (predicted - net.normalise(codes)).pow(2).mean()
                if image_weight:
                    decoded = net.decode(predicted).reshape(codes.shape)
                    objective = objective + image_weight * loss(model.generate(decoded, space), images).mean()
                if not torch.isfinite(objective):
                    value = float(objective.detach())
                    raise InterfaceGANError(f"training diverged at step {step} (loss {value}): lower lr")
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                done = step + 1
                bar.advance()
                if checkpoint is not None and done % checkpoint_every == 0 and done < steps:
                    _save_checkpoint(checkpoint, config, net, optimizer, done)
    except KeyboardInterrupt:
        if checkpoint is not None and done > start:
            _save_checkpoint(checkpoint, config, net, optimizer, done)
        raise
    encoder = Encoder(net, config, model.device)
    config.metrics = held_out_metrics(encoder, model, seed)
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return encoder


def held_out_metrics(encoder: Encoder, model, seed: int = 0, num: int = HELD_OUT_NUM) -> dict:
    """Code RMSE (in units of the codes' spread) and re-synthesis PSNR of `num` samples never used in training."""
    codes = _training_codes(model, encoder.space, seed + HELD_OUT_SEED_OFFSET, 0, num)
    with torch.no_grad():
        images = model.generate(codes, encoder.space)
        predicted = encoder.encode_tensor(images)
        rebuilt = model.generate(predicted, encoder.space)
        scale = float(encoder.net.scale)
        rmse = float((predicted - codes).pow(2).mean().sqrt()) / scale
        return {"held_out": num, "code_rmse": round(rmse, 4), "psnr": round(float(psnr(rebuilt, images).mean()), 3)}


def _checkpoint_settings(config: EncoderConfig) -> str:
    data = asdict(config)
    data.pop("metrics")
    return json.dumps(data, sort_keys=True)


def _save_checkpoint(path, config: EncoderConfig, net: ConvEncoder, optimizer, step: int) -> None:
    write_tagged_file(path, CHECKPOINT_FORMAT, FORMAT_VERSION, {
        "config": _checkpoint_settings(config), "step": int(step), "optimizer": optimizer.state_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}})  # fmt: skip


def _resume(path, config: EncoderConfig, net: ConvEncoder, optimizer) -> int:
    """The step to continue from (0 without a checkpoint); loads weights and optimizer state into place."""
    path = Path(path)
    if not path.exists():
        return 0
    fix = "delete it to start over, or choose another output"
    payload = read_tagged_file(path, CHECKPOINT_FORMAT, FORMAT_VERSION, "encoder checkpoint", fix)
    if payload.get("config") != _checkpoint_settings(config):
        saved = read_json_config(payload.get("config"), CONFIG_FIELDS, str(path), "encoder checkpoint", fix)
        raise InterfaceGANError(
            f"checkpoint {path} was made with other settings (model {saved.get('model')!r}, space "
            f"{saved.get('space')!r}, training {saved.get('training')}): rerun with those settings or delete it"
        )
    step = payload.get("step")
    if not isinstance(step, int) or step < 0 or not isinstance(payload.get("optimizer"), dict):
        raise InterfaceGANError(f"checkpoint {path} lacks its step or optimizer state: {fix}")
    load_state_checked(net, _state_dict(payload, path), str(path), f"weights do not fit the encoder config ({fix})")
    try:
        optimizer.load_state_dict(payload["optimizer"])
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        reason = f"a broken optimizer state ({type(exc).__name__})"
        raise InterfaceGANError(f"checkpoint {path} has {reason}: {fix}") from None
    return step
