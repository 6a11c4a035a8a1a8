"""Editing math on latent codes: pure functions, numpy in -> numpy out, torch in -> torch out.

Two edit semantics the official code mixes up are kept apart:
  - `edit_offset`:      x' = x + alpha * n             (move every code by the same amount alpha)
  - `edit_to_distance`: x' = x + (t - d(x)) / (n.m) * m  (move along m, default n, until d(x') = n.x' + b = t)
Conditional directions remove from n its projection onto the span of condition normals, so an edit along the
result leaves every condition's distance unchanged (the paper's conditional manipulation, any number of them).
`edit_layers` applies a w-space direction to chosen W+ layers only (style-based models).

Shapes: codes are a batch (N, *code_shape) or one code (*code_shape). The shape of one code is `code_shape` when
given, else the direction's own shape (a flat direction fits codes of any shape holding as many values). The W+
rule: a W+ code always carries its layer axis, (L, w_dim). A w-space direction (w_dim,) edits W+ codes only when
told so, with code_shape=(L, w_dim) (every layer moves alike; the distance of a W+ code is the mean over its
layers of n.w_l + b) or with `edit_layers` (chosen layers); without code_shape, (L, w_dim) with a (w_dim,)
direction is a batch of L w codes.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
import torch

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers

MAX_STEPS = 1000  # values of one edit range: each is a grid column or an animation frame


def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _vector(direction) -> np.ndarray | torch.Tensor:
    """An array/tensor from a direction given as array, tensor or Boundary (its unit normal)."""
    from interfacegan.directions.boundary import Boundary

    if isinstance(direction, Boundary):
        return direction.normal
    return direction if _is_torch(direction) else np.asarray(direction)


def _float64(x) -> np.ndarray:
    """A float64 numpy copy of an array or tensor (any device)."""
    return x.detach().cpu().double().numpy() if _is_torch(x) else np.asarray(x, dtype=np.float64)


def _like(values, ref):
    """`values` (array/tensor/list) converted to the library, device and float dtype of `ref`."""
    if _is_torch(ref):
        dtype = ref.dtype if ref.is_floating_point() else torch.float32
        if _is_torch(values):
            return values.to(device=ref.device, dtype=dtype)
        return torch.as_tensor(np.asarray(values, dtype=np.float64), device=ref.device, dtype=dtype)
    dtype = ref.dtype if np.issubdtype(np.asarray(ref).dtype, np.floating) else np.float32
    if _is_torch(values):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def linspace_steps(lo: float, hi: float, steps: int) -> np.ndarray:
    """`steps` (2 to MAX_STEPS) evenly spaced values from lo to hi inclusive, float32 (steps,); lo < hi (a
    reversed or empty range draws nothing new: negate the direction instead). One step would draw lo alone and
    silently drop the rest of the range, so it is refused as well."""
    steps = checks.integer("steps", steps, low=2, high=MAX_STEPS)
    if not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in (lo, hi)):
        raise InterfaceGANError(f"the edit range must be finite, got {lo} .. {hi}")
    if not lo < hi:
        raise InterfaceGANError(f"the edit range must go from a lower to a higher value: lo < hi, got {lo:g} .. {hi:g}")
    return np.linspace(lo, hi, steps, dtype=np.float64).astype(np.float32)


def _numel(x) -> int:
    return int(x.numel()) if _is_torch(x) else int(np.asarray(x).size)


def _codes_and_direction(codes, direction, code_shape=None):
    """(codes as a batch (N, *shape), shape, single?, direction shaped like one code, layer copies k).

    See the module docstring for the shape rules; k > 1 when a (w_dim,) direction is broadcast over the k layers
    of W+ codes (code_shape (k, w_dim)). One-line errors when codes and direction do not fit.
    """
    vector = _vector(direction)
    size = _numel(vector)
    shape = tuple(codes.shape)
    if code_shape is None:
        if len(shape) >= 2 and math.prod(shape[1:]) == size:
            batch, one, single = codes, shape[1:], False
        elif math.prod(shape) == size:
            batch, one, single = codes[None], shape, True
        else:
            raise InterfaceGANError(
                f"codes of shape {shape} do not fit a direction of {size} values: "
                "the direction was made for another model or latent space"
            )
        return batch, one, single, _like(vector, codes).reshape(one), 1
    one = tuple(int(s) for s in code_shape)
    if shape == one:
        batch, single = codes[None], True
    elif shape[1:] == one:
        batch, single = codes, False
    else:
        raise InterfaceGANError(f"codes of shape {shape} are neither one code of shape {one} nor a batch (N, *{one})")
    d = _like(vector, codes)
    if size == math.prod(one):
        return batch, one, single, d.reshape(one), 1
    if len(one) == 2 and size == one[1]:  # the W+ rule: a w direction moves every layer alike
        d = d.reshape(1, one[1])
        d = d.expand(one[0], -1) if _is_torch(d) else np.broadcast_to(d, one)
        return batch, one, single, d, one[0]
    raise InterfaceGANError(f"a direction of {size} values does not fit codes of shape {one}")


def _hyperplane(codes, direction, code_shape=None):
    """(codes as a batch, code shape, single?, n flat like one code, |n| of one copy, layer copies k); a zero n is
    an error."""
    batch, shape, single, d, k = _codes_and_direction(codes, direction, code_shape)
    flat = d.reshape(-1)
    norm = float(flat.norm()) if _is_torch(flat) else float(np.linalg.norm(flat))
    norm /= math.sqrt(k)
    if norm == 0.0 or not math.isfinite(norm):
        raise InterfaceGANError("the direction is the zero vector or not finite: it defines no hyperplane")
    return batch, shape, single, flat, norm, k


def _finite(values, name: str):
    """`values` (array or tensor), after a one-line error if any is NaN or inf."""
    ok = bool(torch.isfinite(values).all()) if _is_torch(values) else bool(np.isfinite(values).all())
    if not ok:
        raise InterfaceGANError(f"{name} must be finite, got NaN or inf")
    return values


def _alphas_matrix(alphas, n: int, ref):
    """Edit amounts as (N, S) (broadcasting (S,) over samples)."""
    a = _finite(_like(alphas, ref), "alphas")
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim == 1:
        a = a[None].expand(n, -1) if _is_torch(a) else np.broadcast_to(a[None], (n, len(a)))
    if a.ndim != 2 or a.shape[0] != n:
        raise InterfaceGANError(f"alphas must have shape (S,) or (N={n}, S), got {tuple(a.shape)}")
    return a


def _apply(codes, direction, alphas_ns):
    """codes (N, *shape) + alphas (N, S) * direction (*shape) -> (N, S, *shape)."""
    extra = (None,) * (codes.ndim - 1)
    return codes[:, None] + alphas_ns[(slice(None), slice(None), *extra)] * direction[None, None]


def edit_offset(codes, direction, alphas, code_shape=None):
    """x + alpha * direction for each alpha: codes (N, *code_shape) -> (N, S, *code_shape).

    One code (*code_shape) gives (S, *code_shape). `direction` (d,) or (*code_shape,) is used as given (boundaries
    are unit, so alpha is in unit-normal lengths); alphas (S,) or per sample (N, S). `code_shape` is the shape of
    one code (default: the direction's); W+ codes with a (w_dim,) direction need code_shape=(L, w_dim).
    """
    batch, _, single, d, _ = _codes_and_direction(codes, direction, code_shape)
    out = _apply(batch, d, _alphas_matrix(alphas, len(batch), codes))
    return out[0] if single else out


def signed_distance(codes, direction, intercept: float = 0.0, code_shape=None):
    """n.x + b for codes (N, *code_shape) with the unit n = direction/|direction| (and b scaled alike): (N,).

    For W+ codes with a (w_dim,) direction (code_shape=(L, w_dim)) it is the mean over the layers.
    """
    batch, _, single, d, norm, k = _hyperplane(codes, direction, code_shape)
    dist = (batch.reshape(len(batch), -1) @ d / k + checks.finite("intercept", intercept)) / norm
    return dist[0] if single else dist


def edit_to_distance(codes, direction, intercept: float | None = None, distances=(0.0,), along=None,
                     code_shape=None):  # fmt: skip
    """Move each code until its signed distance n.x' + b to the hyperplane equals each target distance.

    codes (N, *code_shape) -> (N, S, *code_shape) for distances (S,). The move is along `along` (default n;
    e.g. a conditional direction, which then also keeps every condition's distance). `direction` may be a
    Boundary, whose intercept is used when `intercept` is None. A non-unit n is normalised with b alike.
    W+ codes with a (w_dim,) direction (code_shape=(L, w_dim)) move every layer by the same step, so the mean
    distance over the layers lands on the target.
    """
    from interfacegan.directions.boundary import Boundary

    if intercept is None:
        intercept = direction.intercept if isinstance(direction, Boundary) else 0.0
    batch, shape, single, n_flat, norm, k = _hyperplane(codes, direction, code_shape)
    n_unit, b = n_flat / norm, checks.finite("intercept", intercept) / norm
    if along is None:
        m = n_unit
    else:
        _, _, _, m, _ = _codes_and_direction(batch, along, shape)
        m = m.reshape(-1)
    rate = float(m @ n_unit) / k  # distance gained per unit step along m
    if abs(rate) < 1e-8:
        raise InterfaceGANError("the edit direction is parallel to the hyperplane: it cannot change the distance")
    current = batch.reshape(len(batch), -1) @ n_unit / k + b  # (N,)
    targets = _finite(_like(distances, codes).reshape(-1), "distances")
    steps = (targets[None, :] - current[:, None]) / rate  # (N, S)
    out = _apply(batch, m.reshape(shape), steps)
    return out[0] if single else out


def conditional_direction(direction, conditions, tol: float = 1e-6):
    """Unit direction closest to `direction` (max cosine) that is orthogonal to every condition normal.

    conditions: (k, d) array/tensor, or a list of vectors/Boundaries. They are orthonormalised by Gram-Schmidt
    (twice, for stability); a zero condition, one in the span of the others, or a direction in their span is
    a one-line error. Same library as `direction` in and out, shape of `direction` kept.
    """
    n = _vector(direction)
    as_torch = _is_torch(n)
    n64 = _float64(n).reshape(-1)
    conds = _condition_rows(conditions, n64.size)
    basis: list[np.ndarray] = []
    for i, c in enumerate(conds):
        norm = np.linalg.norm(c)
        if norm == 0 or not np.isfinite(norm):
            raise InterfaceGANError(f"condition {i} is a zero or non-finite vector: drop it")
        r = _reject(c / norm, basis)
        if np.linalg.norm(r) < tol:
            raise InterfaceGANError(
                f"condition {i} lies in the span of the conditions before it (degenerate): drop it"
            )
        basis.append(r / np.linalg.norm(r))
    norm_n = np.linalg.norm(n64)
    if norm_n == 0:
        raise InterfaceGANError("the primal direction is the zero vector")
    r = _reject(n64 / norm_n, basis)
    if np.linalg.norm(r) < tol:
        raise InterfaceGANError(
            "the primal direction lies in the span of the conditions: nothing is left to edit; drop a condition"
        )
    r = (r / np.linalg.norm(r)).reshape(tuple(n.shape))
    if as_torch:
        return torch.as_tensor(r, dtype=n.dtype if n.is_floating_point() else torch.float32, device=n.device)
    return r.astype(n.dtype if np.issubdtype(n.dtype, np.floating) else np.float32)


def _reject(r: np.ndarray, basis: list[np.ndarray]) -> np.ndarray:
    """r minus its projection onto the span of the orthonormal `basis` (Gram-Schmidt, twice for stability)."""
    for _ in range(2):
        for q in basis:
            r = r - (q @ r) * q
    return r


def _condition_rows(conditions, d: int) -> list[np.ndarray]:
    from interfacegan.directions.boundary import Boundary

    if isinstance(conditions, (np.ndarray, torch.Tensor)):
        arr = _float64(conditions)
        rows = [arr.reshape(-1)] if arr.size == d and arr.ndim <= 1 else list(arr.reshape(len(arr), -1))
    else:
        rows = []
        for c in conditions:
            rows.append(_float64(c.normal if isinstance(c, Boundary) else c).reshape(-1))
    for i, row in enumerate(rows):
        if row.size != d:
            raise InterfaceGANError(f"condition {i} has {row.size} values but the direction has {d}: same space needed")
    return rows


def edit_layers(wp_codes, direction, alphas, layers: str | Sequence[int] | None = None):
    """Edit W+ codes (N, L, w_dim) only on the selected layers: -> (N, S, L, w_dim); other layers bit-identical.

    direction: (w_dim,) applied to each selected layer, or (L, w_dim) / (L*w_dim,) per layer (e.g. a boundary
    fitted on flattened W+). `layers` is a selection like '0-3,6' (None/'all' = every layer). One code (L, w_dim)
    gives (S, L, w_dim).
    """
    single = wp_codes.ndim == 2
    batch = wp_codes[None] if single else wp_codes
    if batch.ndim != 3:
        raise InterfaceGANError(f"W+ codes must have shape (N, layers, w_dim), got {tuple(wp_codes.shape)}")
    _, num_layers, w_dim = batch.shape
    d = _like(_vector(direction), batch)
    size = d.numel() if _is_torch(d) else d.size
    if size == w_dim:
        d = d.reshape(1, w_dim)
        d = d.expand(num_layers, -1) if _is_torch(d) else np.broadcast_to(d, (num_layers, w_dim))
    elif size == num_layers * w_dim:
        d = d.reshape(num_layers, w_dim)
    else:
        raise InterfaceGANError(
            f"a direction of {tuple(d.shape)} does not fit W+ codes with {num_layers} layers of {w_dim}: "
            f"expected ({w_dim},) or ({num_layers}, {w_dim})"
        )
    chosen = list(parse_layers(layers, num_layers))
    alphas_ns = _alphas_matrix(alphas, len(batch), batch)
    if _is_torch(batch):
        out = batch[:, None].expand(-1, alphas_ns.shape[1], -1, -1).clone()
    else:
        out = np.repeat(batch[:, None], alphas_ns.shape[1], axis=1)
    out[:, :, chosen] = out[:, :, chosen] + alphas_ns[:, :, None, None] * d[chosen][None, None]
    return out[0] if single else out
