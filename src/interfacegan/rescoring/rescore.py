"""Re-scoring edits: synthesize codes moved along a direction and score the images again.

This is the measurement behind "does this boundary control this attribute" (the paper's re-scoring analysis,
`rescoring.matrix`) and behind naming unsupervised directions (`rescoring.naming`). Codes move as an
`editing.EditPlan` says; work streams in batches of `batch_size` images, so memory stays bounded whatever the
number of codes and steps.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from interfacegan import checks
from interfacegan.editing.plan import as_plan
from interfacegan.editing.stream import edited_batches
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

    `alphas` (S,) are offsets along `direction` (an EditPlan, a Boundary or a plain vector, see
    `editing.plan.as_plan`); with `layers`, codes are W+ and only those layers move. Only scalar outputs of image scorers are kept, unless `vectors` also keeps vector
    outputs such as identity descriptors, as (N, S, k). NaN where a scorer could not tell.
    """
    alphas = checks.finite_array("alphas", np.ravel(alphas), dtype=np.float32)  # named as this function names them
    batches = edited_batches(as_plan(model, direction, space, layers), codes, alphas, batch_size, truncation)
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
