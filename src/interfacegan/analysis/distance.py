"""The distance effect (paper Fig. 6): attribute scores and identity as codes move further along a boundary,
and the distribution of the distances n^T z of the sampled codes themselves (Property 2, see `property2`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from interfacegan.editing.codes import CodeSource
from interfacegan.analysis.property2 import ProjectionStats
from interfacegan.rescoring.matrix import Edit, RescoringResult
from interfacegan.editing.plan import as_plan
from interfacegan.editing.stream import edit_images
from interfacegan.store import SampleStore


def target_curves(results: list[RescoringResult]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(edit labels, normalised change of each edit's own attribute (E, S), its standard error (E, S))."""
    labels = results[0].labels
    change = np.full((len(labels), len(results)), np.nan)
    stderr = np.full_like(change, np.nan)
    for s, result in enumerate(results):
        for i in range(len(labels)):
            j = result.target(i)
            if j is not None:
                change[i, s], stderr[i, s] = result.change[i, j], result.stderr[i, j]
    return labels, change, stderr


def projection_stats(store: SampleStore, space: str, names: Sequence[str], normals: np.ndarray) -> ProjectionStats:
    """Stream all of the run's `space` codes and summarise |n^T x| for each unit normal (k, d)."""
    normals = np.asarray(normals, dtype=np.float64).reshape(len(normals), -1)
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    stats = ProjectionStats(list(names), dim=normals.shape[1])
    array = store.codes_array(space)
    for _, start, stop in store.iter_chunks():
        codes = np.asarray(array[start:stop], dtype=np.float64).reshape(stop - start, -1)
        stats.update(codes @ normals.T)
    return stats


def random_unit(dim: int, seed: int = 0) -> np.ndarray:
    """A reproducible random unit direction (d,): Property 2 holds for every n, this one is the control."""
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def edit_strip(
    model, source: CodeSource, edits: Sequence[Edit], alphas: Sequence[float], row: int = 0
) -> tuple[np.ndarray, list[float]]:
    """Images (E, S + 1, H, W, 3) of one sample edited along each edit, and the steps (alpha 0 included)."""
    steps = sorted(set([0.0, *map(float, alphas)]))
    code = source.read(row, row + 1)
    grids = []
    for edit in edits:
        plan = as_plan(model, np.asarray(edit.direction, np.float32), source.space, edit.layers)
        grids.append(edit_images(plan, code, steps, truncation=source.synthesis_truncation())[0])
    return np.stack(grids), steps
