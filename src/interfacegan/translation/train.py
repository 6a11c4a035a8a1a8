"""Training the two networks DNI mixes: an identity map, then a copy fine-tuned to map before -> after.

Both stages minimise the L1 distance to the target image with Adam on random minibatches drawn from a seeded
generator (same seed, same weights). Every minibatch is also mirrored left-right at random, with the same flip
for input and target: the edits here (brightness, eyeglasses, smile) are symmetric, so this doubles the data for
free. `train_translator` runs the paper's whole pipeline: pairs -> identity -> fine-tune -> Translator.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from interfacegan import checks
from interfacegan.device import resolve_device
from interfacegan.errors import InterfaceGANError
from interfacegan.inversion.images import check_uint8_images, to_model_tensor
from interfacegan.progress import progress_bar
from interfacegan.translation.network import NetworkConfig, ResidualUNet, build_network

HELD_OUT_SEED_OFFSET = 1_000_003  # held-out pairs come from seed + this offset, never from the training codes
CHECKPOINT_FORMAT = "interfacegan-translator-checkpoint"
CHECKPOINT_VERSION = 1
STEP_SEED_STRIDE = 1_000_003  # minibatch k of seed s draws from the generator seeded (s * stride + k) mod 2**64


@dataclass
class TrainLog:
    """Per-step training losses (steps,) of one stage."""

    losses: list[float] = field(default_factory=list)

    def mean(self, first: int | None = None, last: int | None = None) -> float:
        """Mean loss of the first or last k steps (all steps when neither is given)."""
        values = self.losses[:first] if first else self.losses[-last:] if last else self.losses
        return float(np.mean(values))


def new_network(config: NetworkConfig, seed: int = 0, device=None) -> ResidualUNet:
    """A freshly initialised network (weights from `seed`, global RNG untouched) on `device`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(config)
    return net.to(resolve_device(device))


def _check_pairs(inputs: np.ndarray, targets: np.ndarray, resolution: int) -> None:
    check_uint8_images(inputs, resolution)
    check_uint8_images(targets, resolution)
    if inputs.shape != targets.shape or len(inputs) == 0:
        raise InterfaceGANError(f"inputs {inputs.shape} and targets {targets.shape} must be equal, non-empty stacks")


def check_fit(steps: int = 500, batch_size: int = 16, lr: float = 1e-3, seed: int = 0,
              save_every: int = 50) -> tuple[int, int, float, int, int]:  # fmt: skip
    """(steps, batch_size, lr, seed, save_every) of `fit` checked: steps >= 0, a positive batch size, lr and save
    interval, a valid seed."""
    return (checks.integer("steps", steps, low=0), checks.positive_int("batch_size", batch_size, checks.MAX_BATCH),
            checks.positive("lr", lr), checks.seed(seed), checks.positive_int("save_every", save_every))


def fit(net: ResidualUNet, inputs: np.ndarray, targets: np.ndarray, steps: int = 500, batch_size: int = 16,
        lr: float = 1e-3, seed: int = 0, flip: bool = True, label: str = "training", progress: bool = False,
        resume: dict | None = None, save: Callable[[dict], None] | None = None,
        save_every: int = 50) -> TrainLog:  # fmt: skip
    """Minimise L1(net(inputs), targets) in place: uint8 (N, R, R, 3) pairs, `steps` Adam steps; the loss log.

    Minibatch k is drawn from a generator seeded by (seed, k), so a run continued from `resume` (a state handed to
    `save` every `save_every` steps and on Ctrl-C: {"step", "net", "optimizer", "losses"}) ends bit-identical to
    an uninterrupted one.
    """
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    _check_pairs(inputs, targets, net.config.resolution)
    steps, batch_size, lr, seed, save_every = check_fit(steps, batch_size, lr, seed, save_every)
    device = next(net.parameters()).device
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
    log, start = TrainLog(), 0
    if resume is not None:
        net.load_state_dict(resume["net"])
        optimizer.load_state_dict(resume["optimizer"])
        log.losses, start = [float(x) for x in resume["losses"]], int(resume["step"])

    def state() -> dict:
        weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return {"step": len(log.losses), "net": weights, "optimizer": optimizer.state_dict(), "losses": log.losses}

    net.train().requires_grad_(True)
    try:
        with progress_bar(label, total=steps, completed=start, enabled=progress) as bar:
            for step in range(start, steps):
                rng = torch.Generator().manual_seed((seed * STEP_SEED_STRIDE + step) % 2**64)
                rows = torch.randint(len(inputs), (min(batch_size, len(inputs)),), generator=rng).numpy()
                x, y = to_model_tensor(inputs[rows], device), to_model_tensor(targets[rows], device)
                if flip:
                    mirror = (torch.rand(len(rows), generator=rng) < 0.5).to(device)[:, None, None, None]
                    x, y = torch.where(mirror, x.flip(3), x), torch.where(mirror, y.flip(3), y)
                loss = (net(x) - y).abs().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                log.losses.append(float(loss.detach()))
                if not np.isfinite(log.losses[-1]):
                    raise InterfaceGANError(f"{label} diverged at step {step} (loss {log.losses[-1]}): lower lr")
                bar.advance()
                if save is not None and (step + 1) % save_every == 0 and step + 1 < steps:
                    save(state())
    except KeyboardInterrupt:
        if save is not None and len(log.losses) > start:
            save(state())
        raise
    net.eval().requires_grad_(False)
    return log


def train_identity(net: ResidualUNet, images: np.ndarray, steps: int = 300, **options) -> TrainLog:
    """Train `net` in place to reproduce `images` (N, R, R, 3) uint8 (the DNI starting point); the loss log."""
    return fit(net, images, images, steps, label="identity network", **options)


def finetune(identity: ResidualUNet, before: np.ndarray, after: np.ndarray, steps: int = 600,
             **options) -> tuple[ResidualUNet, TrainLog]:  # fmt: skip
    """A copy of `identity` fine-tuned to map `before` -> `after` (uint8 (N, R, R, 3)); (network, loss log)."""
    edited = copy.deepcopy(identity)
    return edited, fit(edited, before, after, steps, label="edit network", **options)


@torch.no_grad()
def l1_error(translate, inputs: np.ndarray, targets: np.ndarray, batch_size: int = 64) -> float:
    """Mean absolute error in [0, 255] units between `translate(inputs)` (uint8 -> uint8) and `targets`."""
    total = 0.0
    for i in range(0, len(inputs), batch_size):
        out = translate(inputs[i : i + batch_size]).astype(np.float64)
        total += float(np.abs(out - targets[i : i + batch_size]).sum())
    return total / float(np.prod(targets.shape))


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of uint8 image stacks (N, H, W, 3) against each other: (N,)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def train_translator(model, direction, alpha: float = 3.0, num: int = 1000, keep: float = 1.0, scorer=None,
                     attribute: str | None = None, identity_steps: int = 300, steps: int = 600,
                     batch_size: int = 16, lr: float = 1e-3, width: int = 32, seed: int = 0, held_out: int = 64,
                     space: str = "z", flip: bool = True, progress: bool = False,
                     checkpoint: str | Path | None = None, checkpoint_every: int = 50):  # fmt: skip
    """The paper's pipeline: `num` pairs along `direction` (top `keep` by score change with a scorer), an
    identity network trained on all their images, a copy fine-tuned before -> after, held-out PSNR; a Translator.

    `space` is the latent space the direction edits; `held_out` pairs of another seed measure PSNR to the target;
    `flip` mirrors minibatches at random (turn it off for edits that are not left-right symmetric). With
    `checkpoint`, both stages save their progress there (atomically, every `checkpoint_every` steps and on Ctrl-C);
    a call with the same settings continues from it, bit-identical to an uninterrupted run, and deletes it at the end.
    """
    from interfacegan.directions.boundary import Boundary
    from interfacegan.translation.checkpoint import CONFIG_FIELDS
    from interfacegan.translation.dni import Translator
    from interfacegan.editing.plan import as_plan
    from interfacegan.translation.pairs import check_pairs, make_pairs

    alpha, num, keep, seed = check_pairs(alpha, num, keep, seed, scorer)
    identity_steps = checks.integer("identity_steps", identity_steps, low=0)
    steps, batch_size, lr, seed, _ = check_fit(steps, batch_size, lr, seed)
    checkpoint_every = checks.positive_int("checkpoint_every", checkpoint_every)
    width = checks.integer("width", width, *CONFIG_FIELDS["width"][1:3])  # what a translator file may hold
    held_out = checks.integer("held_out", held_out, low=0)

    name = attribute or (direction.attribute if isinstance(direction, Boundary) else "edit")
    training = {"alpha": alpha, "num": num, "keep": keep, "identity_steps": identity_steps, "steps": steps,
                "batch_size": batch_size, "lr": lr, "seed": seed, "flip": flip,
                "scorer": None if scorer is None else str(getattr(scorer, "name", scorer)), "attribute": attribute}  # fmt: skip
    vector = as_plan(model, direction, space).vector if checkpoint is not None else None
    settings = json.dumps({**training, "width": width, "space": space, "model": getattr(model, "spec", "") or model.name,
                           "direction": None if vector is None else hashlib.sha256(
                               np.ascontiguousarray(vector, np.float32).tobytes()).hexdigest()}, sort_keys=True)  # fmt: skip
    saved = read_checkpoint(checkpoint, settings) if checkpoint is not None else None

    pairs = make_pairs(model, direction, alpha, num, seed, keep, scorer, attribute, space, progress=progress)
    config = NetworkConfig(model.resolution, width=width)
    net = new_network(config, seed, model.device)
    options = {"batch_size": batch_size, "lr": lr, "seed": seed, "flip": flip, "progress": progress,
               "save_every": checkpoint_every}  # fmt: skip

    def saver(stage: str, identity: dict | None = None, identity_losses: list | None = None):
        if checkpoint is None:
            return None
        return lambda state: write_checkpoint(checkpoint, settings, stage, state, identity, identity_losses)

    if saved is not None and saved["stage"] == "edit":
        net.load_state_dict(saved["identity"])
        net.eval().requires_grad_(False)
        id_log = TrainLog([float(x) for x in saved["identity_losses"]])
    else:
        id_log = train_identity(net, np.concatenate([pairs.before, pairs.after]), identity_steps,
                                resume=saved, save=saver("identity"), **options)  # fmt: skip
    identity_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    resume_edit = saved if saved is not None and saved["stage"] == "edit" else None
    edited, edit_log = finetune(net, pairs.before, pairs.after, steps, resume=resume_edit,
                                save=saver("edit", identity_state, id_log.losses), **options)  # fmt: skip
    training.update({"pairs": len(pairs),
                     "identity_loss": [id_log.mean(first=10), id_log.mean(last=10)] if identity_steps >= 10 else None,
                     "edit_loss": [edit_log.mean(first=10), edit_log.mean(last=10)] if steps >= 10 else None})  # fmt: skip
    translator = Translator(config, net.state_dict(), edited.state_dict(), attribute=name,
                            model=getattr(model, "spec", "") or model.name, training=training,
                            device=model.device)  # fmt: skip
    if held_out:
        test = make_pairs(model, direction, alpha, held_out, seed + HELD_OUT_SEED_OFFSET, space=space)
        output = translator.translate(test.before, [1.0])[:, 0]
        translator.metrics = {"held_out": held_out, "psnr": float(psnr_uint8(output, test.after).mean()),
                              "psnr_unedited": float(psnr_uint8(test.before, test.after).mean())}  # fmt: skip
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return translator


def write_checkpoint(path, settings: str, stage: str, state: dict, identity: dict | None = None,
                     identity_losses: list | None = None) -> None:  # fmt: skip
    """Save training progress of `stage` ("identity" or "edit") atomically; `identity` is the finished identity
    network's weights once the edit stage runs."""
    from interfacegan.models.weights import write_tagged_file

    write_tagged_file(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, {"settings": settings, "stage": stage, **state,
                      "identity": identity, "identity_losses": list(identity_losses or [])})  # fmt: skip


def read_checkpoint(path, settings: str) -> dict | None:
    """The saved progress at `path` (None when there is none); one-line errors for a foreign file or a checkpoint
    of other settings (the user deletes it or reruns with its settings)."""
    from interfacegan.models.weights import read_tagged_file

    if not Path(path).exists():
        return None
    payload = read_tagged_file(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "translator checkpoint",
                               "delete it to start over")  # fmt: skip
    if payload.get("settings") != settings:
        raise InterfaceGANError(
            f"checkpoint {path} was made with other settings: rerun with the same options or delete it to start over"
        )
    if payload.get("stage") not in ("identity", "edit") or (payload["stage"] == "edit" and not payload.get("identity")):
        raise InterfaceGANError(f"checkpoint {path} is damaged: delete it to start over")
    return payload
