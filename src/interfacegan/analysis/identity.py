"""Identity discrepancy (paper Tab. 5): cosine distance between identity descriptors before and after an edit.

Descriptors are expensive (dlib: ~90 ms per face), so this runs on its own, smaller number of samples, and the
descriptors of the unedited images are computed once (or read from the run when it stores them) and reused
for every edit and step. Edited images are made and scored by `interfacegan.rescoring.rescore`, which keeps the
descriptors (vector outputs) when asked to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from interfacegan.editing.codes import CodeSource
from interfacegan.rescoring.matrix import Edit, mean_and_stderr
from interfacegan.errors import InterfaceGANError
from interfacegan.progress import progress_bar
from interfacegan.report import plural
from interfacegan.rescoring.rescore import rescore
from interfacegan.scoring import load_scorer
from interfacegan.scoring.identity import identity_distance


def feature_output(scorer) -> str:
    """The name of the scorer's (first) vector output, e.g. 'identity'."""
    vectors = [name for name, shape in scorer.outputs.items() if len(shape) == 1]
    if not vectors:
        raise InterfaceGANError(f"scorer {scorer.name!r} has no vector output: use an identity scorer such as 'identity'")
    return vectors[0]


def edited_features(
    model,
    codes: np.ndarray,
    space: str,
    direction,
    alphas: Sequence[float],
    scorer,
    layers: str | None = None,
    batch_size: int = 64,
    truncation=None,
) -> np.ndarray:
    """Vector features (N, S, k) of the images of codes (N, *space_shape) edited by each alpha (S,)."""
    scorer = load_scorer(scorer)
    output = feature_output(scorer)
    return rescore(model, codes, space, direction, alphas, [scorer], batch_size=batch_size, layers=layers,
                   truncation=truncation, vectors=True)[output]  # fmt: skip


def has_stored_features(store, scorer) -> bool:
    """True when the run stores this scorer's (same name and version) descriptors of its images."""
    scorer = load_scorer(scorer)
    output = feature_output(scorer)
    if not store.has(f"features/{output}"):
        return False
    info = store.score_info(output)
    return (info.get("scorer"), info.get("version")) == (scorer.name, scorer.version)


def unedited_features(store, source: CodeSource, scorer, batch_size: int = 64) -> np.ndarray:
    """Descriptors (M, k) of the unedited images: the run's stored features when it has them, else computed."""
    scorer = load_scorer(scorer)
    if has_stored_features(store, scorer):
        return np.asarray(store.array(f"features/{feature_output(scorer)}")[: source.num], dtype=np.float32)
    zero = np.zeros(source.model.space_shape(source.space), np.float32)
    parts = [
        edited_features(source.model, source.read(a, b), source.space, zero, [0.0], scorer, batch_size=batch_size,
                        truncation=source.synthesis_truncation())[:, 0]  # fmt: skip
        for a, b in source.blocks()
    ]
    return np.concatenate(parts)


@dataclass
class IdentityResult:
    """Mean cosine distance (E, S) per edit and alpha, with the number of faces measured both times."""

    edits: list[Edit]
    alphas: list[float]
    distance: np.ndarray  # (E, S)
    stderr: np.ndarray  # (E, S)
    valid: np.ndarray  # (E, S) int
    num: int


def identity_block(model, codes: np.ndarray, space: str, before: np.ndarray, edit: Edit, alphas: Sequence[float],
                   scorer, batch_size: int = 64, truncation=None) -> np.ndarray:  # fmt: skip
    """Running sums (3, S) of one block and one edit: sum and sum of squares of the cosine distances between the
    descriptors of codes (n, ...) edited by each alpha and `before` (n, k), and how many were finite. Plain
    inputs (model, codes, a direction array, scorer), so an executor can map it over blocks and edits."""
    after = edited_features(model, codes, space, edit.direction, alphas, scorer, layers=edit.layers,
                            batch_size=batch_size, truncation=truncation)  # fmt: skip
    dist = identity_distance(before[:, None, :], after).astype(np.float64)  # (n, S)
    ok = np.isfinite(dist)
    return np.stack([np.where(ok, dist, 0).sum(0), np.where(ok, dist**2, 0).sum(0), ok.sum(0)])


def identity_discrepancy(
    model,
    source: CodeSource,
    before: np.ndarray,
    edits: Sequence[Edit],
    alphas: Sequence[float],
    scorer,
    batch_size: int = 64,
    progress: bool = True,
) -> IdentityResult:
    """Mean 1 - cos(descriptor before, descriptor after) over `source` rows, for every edit and alpha."""
    edits, alphas = list(edits), [float(a) for a in alphas]
    scorer = load_scorer(scorer)
    sums = np.zeros((len(edits), 3, len(alphas)))
    total = source.num * len(edits) * len(alphas)
    with progress_bar(f"identity ({source.space}, {plural(len(edits), 'edit')})", total=total, enabled=progress) as bar:
        for start, stop in source.blocks():
            codes = source.read(start, stop)
            for i, edit in enumerate(edits):
                sums[i] += identity_block(model, codes, source.space, before[start:stop], edit, alphas, scorer,
                                          batch_size, source.synthesis_truncation())  # fmt: skip
                bar.advance((stop - start) * len(alphas))
    count = sums[:, 2].astype(np.int64)
    mean, stderr = mean_and_stderr(sums[:, 0], sums[:, 1], count)
    return IdentityResult(edits, alphas, mean, stderr, count, source.num)
