"""The linear SVM a boundary is fitted with: x (n, d), labels y in {0, 1} -> hyperplane w.x + b = 0.

Solvers, all scikit-learn's: 'official' is the official InterFaceGAN solver, SVC(kernel='linear') (hinge loss,
libsvm's dual SMO, no iteration limit). 'liblinear' is LinearSVC(dual=False): the squared-hinge primal solved by
liblinear's trust-region Newton method, on centred codes (liblinear regularises the bias; centring makes that
harmless). 'auto' (the default) takes 'official' for training sets of at most OFFICIAL_MAX_ROWS rows and
'liblinear' above: measured by benchmarks/boundary.py, SVC is as fast as any linear solver on the official
selection sizes (2 x 400 to 2 x 2,000 of d <= 512; LinearSVC is 1.7-5.6x slower there and less accurate on
nearly separable selections) and gives the official normal, while its cost explodes on larger selections
(2.5-109 s at 7,000 x 512) where liblinear takes 0.8-1.0 s with the same or a higher cosine to the true normal.
(Our own hand-written trust-region solver was slower than one of the two in every regime measured and was
removed; 'tron' is kept as a name for liblinear's, the same algorithm.)
Every fit reports its iteration count and whether it converged; liblinear warns with a ConvergenceWarning when
it stops at `max_iter` (never silenced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from interfacegan.errors import InterfaceGANError

SOLVERS = ("auto", "liblinear", "official")
ALIASES = {"svc": "official", "tron": "liblinear"}  # names the command line used before
OFFICIAL_MAX_ROWS = 3000  # 'auto': the official SVC up to this many training rows, LinearSVC above


@dataclass
class SVMFit:
    """A fitted hyperplane w.x + b = 0 in the caller's (uncentred) coordinates and how the solver got there."""

    coef: np.ndarray
    intercept: float
    n_iter: int
    converged: bool
    seconds: float
    solver: str  # the one that ran ('official' or 'liblinear')


def solver_name(solver: str) -> str:
    """The canonical name of `solver` (one of SOLVERS, or an alias), else a one-line error."""
    name = ALIASES.get(solver, solver)
    if name not in SOLVERS:
        raise InterfaceGANError(f"unknown solver {solver!r}: use one of {', '.join(SOLVERS)}")
    return name


def fit_linear_svm(x, y, solver: str = "auto", C: float = 1.0, tol: float = 1e-4, max_iter: int = 1000) -> SVMFit:
    """Fit the SVM of `solver` (module docstring) on x (n, d) and y (n,) in {0, 1}; `tol` and `max_iter` are
    liblinear's (the official SVC runs to its own tolerance, without an iteration limit, as the official code)."""
    from sklearn.svm import SVC, LinearSVC

    solver = solver_name(solver)
    if solver == "auto":
        solver = "official" if len(x) <= OFFICIAL_MAX_ROWS else "liblinear"
    x = np.asarray(x, dtype=np.float64)
    start = time.perf_counter()
    if solver == "official":
        clf = SVC(kernel="linear", C=C).fit(x, y)
        w = clf.coef_.ravel().astype(np.float64)
        n_iter = int(np.max(clf.n_iter_))
        return SVMFit(w, float(clf.intercept_[0]), n_iter, True, time.perf_counter() - start, solver)
    mean = x.mean(axis=0)
    clf = LinearSVC(C=C, dual=False, tol=tol, max_iter=max_iter).fit(x - mean, y)  # warns when max_iter is hit
    w = clf.coef_.ravel().astype(np.float64)
    n_iter = int(np.max(clf.n_iter_))
    seconds = time.perf_counter() - start
    return SVMFit(w, float(clf.intercept_[0] - w @ mean), n_iter, n_iter < max_iter, seconds, solver)
