"""Learning boundaries from scored samples: `BoundaryTrainer` (one attribute, one space) and `train_boundaries`
(every attribute and space of a run, saved with the one file-naming convention `{attribute}_{space}.npz`).

The trainer selects samples (`learning.selection`), fits the linear SVM (`learning.solver`) on the training part
and measures accuracy on the validation part and on the remaining (middle) samples. The normal is always in the
original code space (the solver's centring only moves b); codes are not scaled per dimension, which would change
the max-margin geometry and so the normal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from interfacegan import checks
from interfacegan.atomic import check_output, staged_dir
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.learning.selection import Selection, check_selection, select_samples
from interfacegan.learning.solver import fit_linear_svm, solver_name

logger = logging.getLogger(__name__)


def boundary_path(out: str | Path, attribute: str, space: str) -> Path:
    """Where `train_boundaries` saves a boundary: `out/{attribute}_{space}.npz` (e.g. smile_z.npz), the one naming
    convention, or `out` itself when it names one `.npz` file."""
    out = Path(out)
    return out if out.suffix == ".npz" else out / f"{attribute}_{space}.npz"


def default_boundary_dir(run: str | Path) -> Path:
    """The folder `train-boundary` writes a run's boundaries to, and `analyze` looks in: `RUN-boundaries/` beside
    the run (not inside it: extra folders in a zarr group make zarr warn on every listing)."""
    run = Path(run)
    return run.parent / f"{run.name}-boundaries"


class BoundaryTrainer:
    """Fit a Boundary from codes (N, *code_shape) and scores (N,), scikit-learn style.

    `ratio`/`count`, `split`, `seed`, `threshold`: the selection (`select_samples`). `solver`, `C`, `tol`,
    `max_iter`: the SVM (`fit_linear_svm`: 'auto' by default, 'official' for the official SVC, 'liblinear').
    The solver that ran, its iteration count and convergence are in the boundary's metrics (`solver`, `n_iter`,
    `converged`); the iteration count is also `n_iter_`, as in scikit-learn.
    """

    def __init__(
        self,
        ratio: float | None = 0.02,
        count: int | None = None,
        split: float = 0.7,
        seed: int = 0,
        C: float = 1.0,
        solver: str = "auto",
        threshold: str | float = "edges",
        tol: float = 1e-4,
        max_iter: int = 1000,
    ):
        self.ratio, self.count, self.split, self.seed, self.C = ratio, count, split, seed, C
        self.solver, self.threshold, self.tol, self.max_iter = solver, threshold, tol, max_iter
        self.boundary_: Boundary | None = None
        self.selection_: Selection | None = None
        self.n_iter_: int | None = None

    def settings(self) -> dict[str, Any]:
        """The parameters that decide the boundary, as stored in its settings."""
        return {
            "ratio": None if self.count is not None else self.ratio,
            "count": self.count,
            "split": self.split,
            "seed": self.seed,
            "C": self.C,
            "solver": solver_name(self.solver),
            "threshold": self.threshold,
            "max_iter": self.max_iter,
        }

    def check_params(self) -> None:
        """One line unless every parameter is usable (called by `fit`, and by `train_boundaries` before any work)."""
        solver_name(self.solver)
        check_selection(self.ratio, self.count, self.split, self.seed, self.threshold)
        checks.positive("C", self.C)
        checks.positive("tol", self.tol)
        checks.positive_int("max_iter", self.max_iter)

    def fit(
        self,
        codes,
        scores,
        attribute: str = "attribute",
        space: str = "z",
        model: str | None = None,
        model_info: dict | None = None,
    ) -> "BoundaryTrainer":
        """Select, split, fit and evaluate; the result is in `boundary_` (and its `metrics`)."""
        codes = np.asarray(codes)
        scores = np.asarray(scores).reshape(-1)
        if len(codes) != len(scores):
            raise InterfaceGANError(f"{len(codes)} codes but {len(scores)} scores: they must match row for row")
        return self._fit(lambda rows: codes[rows], codes.shape[1:], scores, _remaining_from_array(codes, scores),
                         attribute, space, model, model_info, {})  # fmt: skip

    def fit_store(self, store, attribute: str, space: str = "z") -> "BoundaryTrainer":
        """Fit from a SampleStore, reading only the selected codes and streaming the rest chunk by chunk."""
        scores = store.scores([attribute])[attribute]
        meta = store.meta
        array = store.codes_array(space)
        remaining = _remaining_from_store(store, space, scores)
        return self._fit(lambda rows: store.codes(space, rows=rows), tuple(array.shape[1:]), scores, remaining,
                         attribute, space, meta.get("model"), meta.get("model_info"),
                         {"run": str(store.path)})  # fmt: skip

    def _fit(self, read_rows, code_shape, scores, remaining_accuracy, attribute, space, model, model_info, extra):
        from interfacegan.store import utc_now

        self.check_params()
        sel = select_samples(scores, self.ratio, self.count, self.split, self.seed, self.threshold, attribute)
        train_rows, y_train = sel.train
        val_rows, y_val = sel.val
        x_train = read_rows(train_rows).reshape(len(train_rows), -1)
        x_val = read_rows(val_rows).reshape(len(val_rows), -1)
        if not (np.isfinite(x_train).all() and np.isfinite(x_val).all()):
            raise InterfaceGANError(f"codes in space {space!r} contain NaN or inf: resample the run")
        fit = fit_linear_svm(x_train, y_train, self.solver, C=self.C, tol=self.tol, max_iter=self.max_iter)
        if not fit.converged:
            logger.warning("boundary %r (%s): the %s solver stopped at max_iter=%d without converging; "
                           "raise max_iter or lower C", attribute, space, fit.solver, self.max_iter)  # fmt: skip
        norm = float(np.linalg.norm(fit.coef))
        if norm == 0.0 or not np.isfinite(norm):
            raise InterfaceGANError(f"the SVM for {attribute!r} found no direction: the scores may be constant")
        n, b = fit.coef / norm, fit.intercept / norm

        def accuracy(x, y):
            return float(np.mean(((x.astype(np.float64) @ n + b) >= 0) == (y == 1)))

        rem_correct, rem_total = remaining_accuracy(sel, n, b)
        metrics = {
            "train_accuracy": accuracy(x_train, y_train),
            "val_accuracy": accuracy(x_val, y_val),
            "remaining_accuracy": rem_correct / rem_total if rem_total else None,
            "num_train": int(len(train_rows)),
            "num_val": int(len(val_rows)),
            "num_remaining": int(rem_total),
            "num_valid": sel.num_valid,
            "num_dropped": sel.num_dropped,
            "threshold": sel.threshold,
            "fit_seconds": fit.seconds,
            "solver": fit.solver,
            "n_iter": fit.n_iter,
            "converged": fit.converged,
        }
        self.selection_, self.n_iter_ = sel, fit.n_iter
        self.boundary_ = Boundary(
            normal=n, intercept=b, attribute=attribute, space=space, model=model, model_info=model_info,
            kind="svm", metrics=metrics, settings={**self.settings(), **extra, "created": utc_now()},
            code_shape=tuple(int(s) for s in code_shape),
        )  # fmt: skip
        return self

    @property
    def metrics_(self) -> dict[str, Any]:
        if self.boundary_ is None:
            raise InterfaceGANError("the trainer is not fitted yet: call fit(codes, scores) first")
        return self.boundary_.metrics

    def score(self, codes, scores) -> float:
        """Accuracy of the fitted boundary on (codes, scores) labelled by the fitted threshold (NaNs skipped)."""
        if self.boundary_ is None:
            raise InterfaceGANError("the trainer is not fitted yet: call fit(codes, scores) first")
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        ok = np.isfinite(scores)
        labels = scores[ok] >= self.selection_.threshold
        return float(np.mean((self.boundary_.distance(np.asarray(codes)[ok]) >= 0) == labels))


def train_boundaries(
    store,
    attributes: Sequence[str],
    spaces: Sequence[str] = ("z",),
    out: str | Path | None = None,
    official: bool = False,
    progress: bool = False,
    **settings,
) -> list[Boundary]:
    """One boundary per attribute and space of `store` (`BoundaryTrainer(**settings).fit_store`), all fitted
    before any is written, saved at `boundary_path(out, attribute, space)`: `out/{attribute}_{space}.npz`, or `out`
    itself when it ends in `.npz` and one boundary is trained. `official` also writes the official (1, d) `.npy`
    next to each. Settings and `out` are checked before any work; every file is written, or none. Nothing is
    written when `out` is None."""
    from interfacegan.progress import progress_bar

    attributes, spaces = list(dict.fromkeys(attributes)), list(dict.fromkeys(spaces))
    if not attributes or not spaces:
        raise InterfaceGANError("train_boundaries needs at least one attribute and one space")
    BoundaryTrainer(**settings).check_params()
    jobs = [(a, s) for s in spaces for a in attributes]
    out = Path(out) if out is not None else None
    if out is not None and out.suffix == ".npz" and len(jobs) > 1:
        raise InterfaceGANError(f"out {out} is one .npz file but {len(jobs)} boundaries are trained: give a folder")
    folder = None if out is None else (out.parent if out.suffix == ".npz" else out)
    if out is not None:
        check_output(out, "file" if out.suffix == ".npz" else "dir")
    for space in spaces:
        store.codes_array(space)  # a clear error for a missing space before any work
    store.scores(attributes, rows=slice(0, 0))  # and for a missing score
    trained = []
    with progress_bar("training boundaries", total=len(jobs), enabled=progress) as bar:
        for attribute, space in jobs:
            trained.append(BoundaryTrainer(**settings).fit_store(store, attribute, space).boundary_)
            bar.advance()
    if folder is not None:
        with staged_dir(folder) as stage:  # every boundary (and official .npy) or none
            for b in trained:
                path = b.save(stage / boundary_path(out, b.attribute, b.space).name)
                if official:
                    b.to_official_npy(path.with_suffix(".npy"))
    return trained


def _remaining_from_array(codes: np.ndarray, scores: np.ndarray):
    def evaluate(sel: Selection, n: np.ndarray, b: float) -> tuple[int, int]:
        rows = sel.remaining
        correct = 0
        for i in range(0, len(rows), 8192):
            part = rows[i : i + 8192]
            x = codes[part].reshape(len(part), -1).astype(np.float64)
            correct += int(np.sum(((x @ n + b) >= 0) == (scores[part] >= sel.threshold)))
        return correct, len(rows)

    return evaluate


def _remaining_from_store(store, space: str, scores: np.ndarray):
    def evaluate(sel: Selection, n: np.ndarray, b: float) -> tuple[int, int]:
        mask = np.zeros(len(scores), dtype=bool)
        mask[sel.remaining] = True
        correct = 0
        array = store.codes_array(space)
        for _, start, stop in store.iter_chunks():
            m = mask[start:stop]
            if not m.any():
                continue
            x = array[start:stop].reshape(stop - start, -1)[m].astype(np.float64)
            correct += int(np.sum(((x @ n + b) >= 0) == (scores[start:stop][m] >= sel.threshold)))
        return correct, len(sel.remaining)

    return evaluate
