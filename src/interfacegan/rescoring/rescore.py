"""Re-scoring edits: synthesize codes moved along a direction and score the images again.

This is the measurement behind "does this boundary control this attribute" (the paper's re-scoring analysis)
and behind naming unsupervised directions (which attribute does SeFa direction i move most?). Work streams in
batches of `batch_size` images, so memory stays bounded whatever the number of codes and steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from interfacegan.editing.stream import edit_codes_for, edited_batches
from interfacegan.errors import InterfaceGANError
from interfacegan.progress import progress_bar


def image_scorers(scorers, vectors: bool = False) -> list:
    """Load scorer specs/instances, keeping those that read images and have scalar outputs (any outputs with
    `vectors`, e.g. identity descriptors)."""
    from interfacegan.scoring import load_scorer

    if isinstance(scorers, (str,)) or not isinstance(scorers, Sequence):
        scorers = [scorers]
    loaded = [load_scorer(s) for s in scorers]
    usable = [s for s in loaded if getattr(s, "needs_images", True) and _kept_outputs(s, vectors)]
    if not usable:
        names = ", ".join(getattr(s, "name", str(s)) for s in loaded)
        wanted = "scalar or vector" if vectors else "scalar"
        raise InterfaceGANError(f"no usable scorer among {names}: re-scoring needs image scorers with {wanted} outputs")
    return usable


def _kept_outputs(scorer, vectors: bool) -> list[str]:
    """The outputs of `scorer` that re-scoring keeps: its scalar attributes, or every output with `vectors`."""
    return list(scorer.outputs) if vectors else scorer.attributes


def _output_names(scorers: list, vectors: bool = False) -> dict[tuple[int, str], str]:
    """(scorer index, output) -> result name; outputs that two scorers share get 'scorer/output'."""
    kept = [_kept_outputs(s, vectors) for s in scorers]
    seen: dict[str, int] = {}
    for outputs in kept:
        for a in outputs:
            seen[a] = seen.get(a, 0) + 1
    return {(i, a): a if seen[a] == 1 else f"{s.name}/{a}" for i, s in enumerate(scorers) for a in kept[i]}


def rescore(
    model,
    codes: np.ndarray,
    space: str,
    direction,
    alphas: Sequence[float],
    scorers,
    batch_size: int = 64,
    layers: str | Sequence[int] | None = None,
    progress: bool = False,
    truncation=None,
    vectors: bool = False,
) -> dict[str, np.ndarray]:
    """Scores of the images of codes (N, *space_shape) edited by x + alpha*direction: {attribute: (N, S)} float32.

    `alphas` (S,) are offsets along `direction` (array or Boundary); with `layers`, codes are W+ and only those
    layers move (`edit_layers`). Only scalar outputs of image scorers are kept, unless `vectors` also keeps vector
    outputs such as identity descriptors, as (N, S, k). NaN where a scorer could not tell.
    """
    codes = np.asarray(codes, dtype=np.float32)
    alphas = np.asarray(alphas, dtype=np.float32).reshape(-1)
    batches = edited_batches(model, codes, space, direction, alphas, batch_size, layers, truncation)
    scorers = image_scorers(scorers, vectors)
    names = _output_names(scorers, vectors)
    n, s = len(codes), len(alphas)
    result = {
        names[(i, output)]: np.full((n, s, *scorer.outputs[output]), np.nan, dtype=np.float32)
        for i, scorer in enumerate(scorers)
        for output in _kept_outputs(scorer, vectors)
    }
    with progress_bar("re-scoring", total=n * s, enabled=progress) as bar:
        for start, stop, images in batches:
            for i, scorer in enumerate(scorers):
                out = scorer.score(images)
                for output in _kept_outputs(scorer, vectors):
                    values = np.asarray(out[output], dtype=np.float32)
                    result[names[(i, output)]][start:stop] = values.reshape(stop - start, s, *scorer.outputs[output])
            bar.advance((stop - start) * s)
    return result


@dataclass
class AttributeEffect:
    """How one attribute responds to moving codes from -alpha to +alpha along a direction."""

    attribute: str
    change_std: float  # mean of s(+alpha) - s(-alpha), in std units of s over the unedited codes
    mean_change: float  # the same in the attribute's own units
    fraction_increased: float  # share of codes whose score rose (codes without both scores skipped)
    num_valid: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def direction_effects(
    model,
    codes: np.ndarray,
    space: str,
    direction,
    scorers,
    alpha: float = 3.0,
    batch_size: int = 64,
    layers=None,
    progress: bool = False,
    truncation=None,
) -> dict[str, AttributeEffect]:
    """{attribute: AttributeEffect} of editing codes from -alpha to +alpha (unedited codes give the std)."""
    if alpha <= 0:
        raise InterfaceGANError(f"alpha must be positive, got {alpha}")
    scores = rescore(model, codes, space, direction, [-alpha, 0.0, alpha], scorers, batch_size=batch_size,
                     layers=layers, progress=progress, truncation=truncation)  # fmt: skip
    effects = {}
    for name, values in scores.items():
        lo, mid, hi = values[:, 0].astype(np.float64), values[:, 1].astype(np.float64), values[:, 2].astype(np.float64)
        ok = np.isfinite(lo) & np.isfinite(hi)
        std = float(np.nanstd(mid)) if np.isfinite(mid).sum() > 1 else float("nan")
        change = float(np.mean(hi[ok] - lo[ok])) if ok.any() else float("nan")
        effects[name] = AttributeEffect(
            attribute=name,
            change_std=change / std if std and np.isfinite(std) and std > 0 else float("nan"),
            mean_change=change,
            fraction_increased=float(np.mean(hi[ok] > lo[ok])) if ok.any() else float("nan"),
            num_valid=int(ok.sum()),
        )
    return effects


@dataclass
class DirectionName:
    """The attribute a direction moves most (by |change_std|), with the effects on every attribute."""

    direction: str
    attribute: str | None
    sign: int
    change_std: float
    effects: dict[str, AttributeEffect] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.attribute is None:
            return "(no attribute moves)"
        return f"{'+' if self.sign >= 0 else '-'}{self.attribute}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "attribute": self.attribute,
            "sign": self.sign,
            "label": self.label,
            "change_std": self.change_std,
            "effects": {k: v.as_dict() for k, v in self.effects.items()},
        }


def name_directions(
    model,
    boundaries: Sequence,
    scorers,
    num: int = 64,
    alpha: float = 3.0,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    truncation=None,
) -> list[DirectionName]:
    """For each boundary/direction, the attribute it moves most when `num` samples go from -alpha to +alpha."""
    if num < 2:
        raise InterfaceGANError(f"naming needs at least 2 samples, got {num}")
    scorers = image_scorers(scorers)
    names = []
    for boundary in boundaries:
        codes, space, layers = edit_codes_for(model, boundary, num, seed, truncation)
        direction = boundary if layers is None else boundary.normal
        effects = direction_effects(model, codes, space, direction, scorers, alpha=alpha, batch_size=batch_size,
                                    layers=layers, progress=progress, truncation=truncation)  # fmt: skip
        finite = {k: v for k, v in effects.items() if np.isfinite(v.change_std)}
        if finite:
            best = max(finite.values(), key=lambda e: abs(e.change_std))
            names.append(DirectionName(boundary.attribute, best.attribute, int(np.sign(best.change_std) or 1),
                                       best.change_std, effects))  # fmt: skip
        else:
            names.append(DirectionName(boundary.attribute, None, 0, float("nan"), effects))
    return names
