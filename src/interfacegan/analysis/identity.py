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
from interfacegan.execution.base import map_blocks
from interfacegan.report import plural
from interfacegan.rescoring.jobs import BaselineJob, CodeBlocksJob
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


def unedited_features(store, source: CodeSource, scorer, batch_size: int = 64, executor=None,
                      progress: bool = False) -> np.ndarray:  # fmt: skip
    """Descriptors (M, k) of the unedited images: the run's stored features when it has them, else computed (the
    blocks on `executor`, an Executor or its name; None: local)."""
    scorer = load_scorer(scorer)
    output = feature_output(scorer)
    if has_stored_features(store, scorer):
        return np.asarray(store.array(f"features/{output}")[: source.num], dtype=np.float32)
    job = BaselineJob(source.model, source, [scorer], batch_size, vectors=True)
    parts = map_blocks(job, job.blocks(), executor, progress, f"identity descriptors ({source.space})")
    return np.concatenate([p[output] for p in parts])


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


@dataclass
class IdentitySumsJob(CodeBlocksJob):
    """Per block, `identity_block` sums (E, 3, S) of every edit against `before` (M, k): a job executors map."""

    edits: Sequence = ()
    alphas: Sequence[float] = ()
    before: np.ndarray | None = None

    def compute(self, start: int, stop: int, prefetched: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self.source.read(start, stop) if prefetched is None else prefetched
        sums = [identity_block(self.model, codes, self.source.space, self.before[start:stop], edit, self.alphas,
                               self.scorers[0], self.batch_size, self.source.synthesis_truncation())
                for edit in self.edits]  # fmt: skip
        return {"sums": np.stack(sums)}


def identity_discrepancy(
    model,
    source: CodeSource,
    before: np.ndarray,
    edits: Sequence[Edit],
    alphas: Sequence[float],
    scorer,
    batch_size: int = 64,
    progress: bool = True,
    executor=None,
) -> IdentityResult:
    """Mean 1 - cos(descriptor before, descriptor after) over `source` rows, for every edit and alpha; the blocks
    of rows run on `executor` (an Executor or its name; None: local threads), their sums added in block order."""
    edits, alphas = list(edits), [float(a) for a in alphas]
    job = IdentitySumsJob(model, source, [load_scorer(scorer)], batch_size, edits=edits, alphas=alphas,
                          before=np.asarray(before))  # fmt: skip
    sums = np.zeros((len(edits), 3, len(alphas)))
    description = f"identity ({source.space}, {plural(len(edits), 'edit')})"
    for part in map_blocks(job, job.blocks(), executor, progress, description, units_per_row=len(edits) * len(alphas)):
        sums += part["sums"]
    count = sums[:, 2].astype(np.int64)
    mean, stderr = mean_and_stderr(sums[:, 0], sums[:, 1], count)
    return IdentityResult(edits, alphas, mean, stderr, count, source.num)
