"""Options and option-value parsers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfacegan import DEFAULT_MODEL  # noqa: F401  (re-exported for the commands; the API holds the default)
from interfacegan.errors import InterfaceGANError

DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/K' -> (I, K): this process does the chunks k with k % K == I."""
    try:
        index, count = (int(p) for p in text.split("/"))
    except ValueError:
        raise InterfaceGANError(f"bad --shard {text!r}: use I/K, e.g. 0/4 for the first of four workers") from None
    if not (count >= 1 and 0 <= index < count):
        raise InterfaceGANError(f"bad --shard {text!r}: need 0 <= I < K")
    return index, count


def make_truncation(psi: float, cutoff: int | None):
    """Validated `Truncation` from the --truncation-psi / --truncation-cutoff options."""
    from interfacegan.models import Truncation

    if not 0.0 <= psi <= 1.0:
        raise InterfaceGANError(f"--truncation-psi must be in [0, 1], got {psi}")
    if cutoff is not None and cutoff < 0:
        raise InterfaceGANError(f"--truncation-cutoff must be >= 0, got {cutoff}")
    return Truncation(psi=psi, cutoff=cutoff)


def parse_named_paths(items: list[str], what: str) -> dict[str, str]:
    """['yaw=a.npy', ...] -> {'yaw': 'a.npy'}."""
    result = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InterfaceGANError(f"bad {what} {item!r}: use NAME=PATH, e.g. z=z.npy")
        result[name] = path
    return result


def training_checkpoint(out: Path, force: bool, checkpoint_every: int, what: str) -> Path:
    """OUT.ckpt, the resumable progress of a training command writing `out` (a `what`), after checking that `out`
    is not overwritten without --force (unless a checkpoint says the run is being resumed) and the interval."""
    checkpoint = out.with_name(out.name + ".ckpt")
    if out.exists() and not checkpoint.exists() and not force:
        raise InterfaceGANError(f"{out} exists: pass --force to train a new {what} over it, or choose another --out")
    if checkpoint_every <= 0:
        raise InterfaceGANError(f"--checkpoint-every must be positive, got {checkpoint_every}")
    return checkpoint
