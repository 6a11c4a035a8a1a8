"""The linear SVM a boundary is fitted with: x (n, d), labels y in {0, 1} -> hyperplane w.x + b = 0.

Solvers: 'liblinear' (default) is scikit-learn's LinearSVC(dual=False): the squared-hinge primal solved by
liblinear's trust-region Newton method, on centred codes (liblinear regularises the bias, centring makes that
harmless). 'official' is the official InterFaceGAN solver, sklearn's SVC(kernel='linear') (hinge loss, dual,
cost O(n^2)). 'tron' is our own primal trust-region Newton solver (`primal_l2svm`, torch BLAS products).
Every fit reports its iteration count and whether it converged; a solver that stops at `max_iter` says so with
a ConvergenceWarning (never silenced).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from interfacegan.errors import InterfaceGANError

SOLVERS = ("auto", "liblinear", "official", "tron")
OFFICIAL_MAX_ROWS = 3000  # auto: the official SVC up to this many training rows, LinearSVC above
ALIASES = {"svc": "official"}  # the name the command line used before


@dataclass
class SVMFit:
    """A fitted hyperplane w.x + b = 0 in the caller's (uncentred) coordinates and how the solver got there."""

    coef: np.ndarray
    intercept: float
    n_iter: int
    converged: bool
    seconds: float


def solver_name(solver: str) -> str:
    """The canonical name of `solver` (one of SOLVERS, or an alias), else a one-line error."""
    name = ALIASES.get(solver, solver)
    if name not in SOLVERS:
        raise InterfaceGANError(f"unknown solver {solver!r}: use one of {', '.join(SOLVERS)}")
    return name


def fit_linear_svm(x, y, solver: str = "liblinear", C: float = 1.0, tol: float = 1e-4, max_iter: int = 1000,
                   device=None) -> SVMFit:  # fmt: skip
    """Fit the SVM of `solver` (module docstring) on x (n, d) and y (n,) in {0, 1}."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import SVC, LinearSVC

    solver = solver_name(solver)
    if solver == "auto":
        solver = "official" if len(x) <= OFFICIAL_MAX_ROWS else "liblinear"
    if solver == "tron":
        import torch  # noqa: F401  (imported before the clock starts, like sklearn above)

        start = time.perf_counter()
        w, b, n_iter = primal_l2svm(x, y, C=C, tol=tol, max_iter=max_iter, device=device)
        seconds, converged = time.perf_counter() - start, n_iter < max_iter
        if not converged:
            warnings.warn(f"the tron solver stopped at max_iter={max_iter} without converging", ConvergenceWarning,
                          stacklevel=2)  # fmt: skip
        return SVMFit(w, b, n_iter, converged, seconds)
    x = np.asarray(x, dtype=np.float64)
    start = time.perf_counter()
    if solver == "official":
        clf = SVC(kernel="linear", C=C).fit(x, y)  # as the official train_boundary (no iteration limit)
        w = clf.coef_.ravel().astype(np.float64)
        return SVMFit(w, float(clf.intercept_[0]), int(np.max(clf.n_iter_)), True, time.perf_counter() - start)
    mean = x.mean(axis=0)
    clf = LinearSVC(C=C, dual=False, tol=tol, max_iter=max_iter).fit(x - mean, y)  # warns when max_iter is hit
    w = clf.coef_.ravel().astype(np.float64)
    n_iter = int(np.max(clf.n_iter_))
    return SVMFit(w, float(clf.intercept_[0] - w @ mean), n_iter, n_iter < max_iter, time.perf_counter() - start)


def primal_l2svm(x, y, C: float = 1.0, tol: float = 1e-4, max_iter: int = 1000, device=None):
    """Linear L2-SVM in the primal: min_w,b 0.5|w|^2 + C sum_i max(0, 1 - y_i (x_i.w + b))^2, b unregularised.

    x (n, d), y (n,) in {0, 1} -> (w (d,) float64, b, outer iterations). Trust-region Newton (the algorithm of
    Lin & More as used by liblinear): each step solves the Newton system by conjugate gradients inside a trust
    region, with Hessian-vector products H v = v_w + 2C X_A^T (X_A v) over the active rows A (y f(x) < 1) done
    as float32 BLAS products in torch. Cost per step O(|A| d) per CG iteration: nothing of size n x n, no
    kernel matrix. Codes are centred (better conditioning for the free bias); stops when
    |grad| <= tol * |grad at 0|.
    """
    import torch

    from interfacegan.device import resolve_device

    dev = resolve_device(device or "cpu")
    x = np.asarray(x)
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64)
    aug = np.empty((n, d + 1), dtype=np.float32)  # [x - mean, 1]: the last coefficient is the bias
    aug[:, :d] = x - mean
    aug[:, d] = 1.0
    xt = torch.from_numpy(aug).to(dev)
    sign = np.where(np.asarray(y) > 0, 1.0, -1.0)

    def matvec(rows, v: np.ndarray) -> np.ndarray:
        return (rows @ torch.from_numpy(v.astype(np.float32)).to(dev)).double().cpu().numpy()

    def rmatvec(rows, v: np.ndarray) -> np.ndarray:
        return (rows.T @ torch.from_numpy(v.astype(np.float32)).to(dev)).double().cpu().numpy()

    def objective(theta, out):
        slack = np.maximum(0.0, 1.0 - sign * out)
        return 0.5 * theta[:d] @ theta[:d] + C * (slack @ slack)

    def gradient(theta, out, active):
        residual = np.where(active, out - sign, 0.0)
        g = 2 * C * rmatvec(xt, residual)
        g[:d] += theta[:d]
        return g

    theta, out = np.zeros(d + 1), np.zeros(n)
    active = sign * out < 1
    rows = xt
    f, g = objective(theta, out), gradient(theta, out, active)
    gnorm0 = np.linalg.norm(g)
    radius = gnorm0
    iterations = 0
    while iterations < max_iter and np.linalg.norm(g) > tol * gnorm0:
        step, residual = _trust_region_cg(g, radius, lambda v: _hessian_vector(rows, v, C, d, matvec, rmatvec))
        out_new = out + matvec(xt, step)
        f_new = objective(theta + step, out_new)
        actual, predicted = f - f_new, -0.5 * (g @ step - step @ residual)
        radius = _update_radius(radius, np.linalg.norm(step), g @ step, f, f_new, actual, predicted, iterations == 0)
        if actual > 1e-4 * predicted:  # accept the step
            iterations += 1
            theta, out, f = theta + step, out_new, f_new
            active = sign * out < 1
            rows = xt[torch.from_numpy(np.flatnonzero(active)).to(dev)]
            g = gradient(theta, out, active)
        if abs(actual) <= 1e-12 * abs(f) and abs(predicted) <= 1e-12 * abs(f):
            break
    w = theta[:d]
    return w, float(theta[d] - w @ mean), iterations


def _hessian_vector(rows, v, C, d, matvec, rmatvec):
    hv = 2 * C * rmatvec(rows, matvec(rows, v))
    hv[:d] += v[:d]
    return hv


def _trust_region_cg(g: np.ndarray, radius: float, hess_vec) -> tuple[np.ndarray, np.ndarray]:
    """Steihaug CG for H s = -g within |s| <= radius, to relative residual 0.1; returns (s, final residual)."""
    s = np.zeros_like(g)
    r = -g
    p = r.copy()
    rr = r @ r
    stop = 0.1 * np.sqrt(rr)
    while np.sqrt(rr) > stop:
        hp = hess_vec(p)
        curvature = p @ hp
        if curvature <= 0:
            break
        alpha = rr / curvature
        if np.linalg.norm(s + alpha * p) > radius:  # go to the trust-region boundary and stop
            sp, ss, pp = s @ p, s @ s, p @ p
            root = np.sqrt(sp * sp + pp * (radius * radius - ss))
            tau = (radius * radius - ss) / (sp + root) if sp >= 0 else (root - sp) / pp
            return s + tau * p, r - tau * hp
        s = s + alpha * p
        r = r - alpha * hp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return s, r


def _update_radius(radius, step_norm, gs, f, f_new, actual, predicted, first) -> float:
    """The classic trust-region radius update (Lin & More 1999)."""
    if first:
        radius = min(radius, step_norm)
    denom = f_new - f - gs
    alpha = 4.0 if denom <= 0 else max(0.25, -0.5 * (gs / denom))
    if actual < 1e-4 * predicted:
        return min(max(alpha, 0.25) * step_norm, 0.5 * radius)
    if actual < 0.25 * predicted:
        return max(0.25 * radius, min(alpha * step_norm, 0.5 * radius))
    if actual < 0.75 * predicted:
        return max(0.25 * radius, min(alpha * step_norm, 4.0 * radius))
    return max(radius, min(alpha * step_norm, 4.0 * radius))


