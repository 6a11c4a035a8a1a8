"""Separability of the latent space (paper Fig. 3): accuracy of each boundary on the validation set and on all
remaining (middle) samples, per attribute and latent space.

Boundaries trained on this run carry these accuracies in `metrics` (`BoundaryTrainer`). A boundary brought from
elsewhere (imported, or trained on another run) is evaluated here instead: the run's samples are selected as the
trainer would (top/bottom `ratio`, `select_samples`) and the boundary classifies all selected samples (it never
saw them, so all count as validation) and the remaining ones, streaming the codes chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interfacegan.directions.boundary import Boundary
from interfacegan.learning.selection import select_samples
from interfacegan.store import SampleStore


@dataclass
class SeparabilityRow:
    attribute: str
    space: str
    val_accuracy: float
    remaining_accuracy: float
    num_val: int
    num_remaining: int
    source: str  # 'training split' or 'evaluated on this run'


def evaluate_on_run(store: SampleStore, boundary: Boundary, ratio: float = 0.02) -> SeparabilityRow:
    """Accuracy of a boundary not trained on `store` on its top/bottom `ratio` samples and on the rest."""
    scores = store.scores([boundary.attribute])[boundary.attribute]
    sel = select_samples(scores, ratio=ratio, split=0.5)
    selected = np.zeros(len(scores), dtype=bool)
    selected[np.concatenate([sel.pos_train, sel.pos_val, sel.neg_train, sel.neg_val])] = True
    remaining = np.zeros(len(scores), dtype=bool)
    remaining[sel.remaining] = True
    labels = scores >= sel.threshold
    correct = {"val": 0, "rest": 0}
    array = store.codes_array(boundary.space)
    for _, start, stop in store.iter_chunks():
        codes = np.asarray(array[start:stop]).reshape(stop - start, -1)
        hit = (boundary.distance(codes) >= 0) == labels[start:stop]
        correct["val"] += int(hit[selected[start:stop]].sum())
        correct["rest"] += int(hit[remaining[start:stop]].sum())
    n_val, n_rest = int(selected.sum()), int(remaining.sum())
    return SeparabilityRow(boundary.attribute, boundary.space, correct["val"] / max(n_val, 1),
                           correct["rest"] / n_rest if n_rest else float("nan"), n_val, n_rest,
                           "evaluated on this run")  # fmt: skip


def separability_row(store: SampleStore, boundary: Boundary, ratio: float = 0.02) -> SeparabilityRow | None:
    """The row of one boundary: its own training metrics when trained on this run, else evaluated here.
    None when the run has no scores for the boundary's attribute or no codes in its space."""
    metrics = boundary.metrics or {}
    run = boundary.settings.get("run")
    trained_here = boundary.kind == "svm" and metrics.get("val_accuracy") is not None and (
        run is None or Path(run).resolve() == Path(store.path).resolve()  # the same run, however it was named
    )
    if trained_here:
        rem = metrics.get("remaining_accuracy")
        return SeparabilityRow(boundary.attribute, boundary.space, float(metrics["val_accuracy"]),
                               float(rem) if rem is not None else float("nan"), int(metrics.get("num_val", 0)),
                               int(metrics.get("num_remaining", 0)), "training split")  # fmt: skip
    if boundary.attribute not in store.score_names or boundary.space not in store.spaces:
        return None
    return evaluate_on_run(store, boundary, ratio)
