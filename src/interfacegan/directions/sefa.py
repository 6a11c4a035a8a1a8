"""Closed-form factorization (SeFa): latent directions n maximising |A n| for the first affine weight A.

The top-k unit n are the eigenvectors of A^T A with the k largest eigenvalues (SeFa paper, Eq. 4-7). A is
(out, d) with out >> d (e.g. 8192 x 100 for the embedded DCGAN, ~9216 x 512 for StyleGAN style layers), so we
form the small d x d Gram matrix (one GEMM) and use a symmetric eigensolver on it: O(out d^2 + d^3), never
anything of size out x out.

Defaults reproduce the official release (genforce/sefa `factorize_weight`) for every family: each output unit's
weights (the official (d, out) weight's columns, our rows) are unit-normalised first (`normalize_columns=True`);
the layers are PGGAN's first (z) layer, StyleGAN's style affines of the chosen layers, and for StyleGAN2 (and
StyleGAN3 by the same rule) the conv layers' affines plus the final ToRGB's (`include_torgb='last'`, taken when
its W+ index is among the chosen layers). `normalize_columns=False` is the paper's unnormalised A^T A.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch

from interfacegan import checks
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers


def factorize(weight, k: int | None = None, normalize_columns: bool = True, latent_dim: int | None = None):
    """Top-k eigenvectors of A^T A for A = weight (out, d): (directions (k, d) unit rows, eigenvalues (k,)).

    `latent_dim` is the size d of the codes A acts on: a weight whose second axis is not d is refused (the
    official code's transposed (d, out) layout would otherwise give zero eigenvalues); without it, a weight with
    fewer rows than columns is refused as probably transposed. `normalize_columns` unit-normalises each output
    unit's weights (each row of A) first, as the official code does; False is the paper's plain A^T A.
    Sorted by eigenvalue, largest first; the sign of each direction is fixed (its largest-magnitude entry is
    positive) so results are reproducible. numpy in -> numpy out (float32 directions, float64 eigenvalues);
    torch in -> torch out on the same device.
    """
    as_torch = isinstance(weight, torch.Tensor)
    a = weight.detach() if as_torch else torch.from_numpy(np.asarray(weight))
    if a.ndim != 2 or min(a.shape) == 0:
        raise InterfaceGANError(f"SeFa needs a 2-D weight (out, d), got shape {tuple(a.shape)}")
    _check_orientation(tuple(a.shape), latent_dim)
    if not torch.isfinite(a).all():
        raise InterfaceGANError("the affine weight contains NaN or inf values")
    d = a.shape[1]
    k = d if k is None else checks.integer("k", k)
    if not 1 <= k <= d:
        raise InterfaceGANError(f"k must be between 1 and the latent dimension {d}, got {k}")
    if not a.is_floating_point():
        a = a.to(torch.float32)
    if normalize_columns:
        norms = a.norm(dim=1, keepdim=True)
        if (norms == 0).any():
            raise InterfaceGANError("the affine weight has an all-zero output unit: cannot normalise it")
        a = a / norms
    gram = (a.T @ a).to(torch.float64)  # (d, d); the GEMM runs in the weight's precision (float32: 2x faster)
    gram = (gram + gram.T) / 2
    if gram.device.type == "cpu":
        import scipy.linalg

        # Only the top k eigenpairs (MRRR driver): ~5x faster than a full decomposition for k << d.
        values_np, vectors_np = scipy.linalg.eigh(gram.numpy(), subset_by_index=[d - k, d - 1], driver="evr")
        values, vectors = torch.from_numpy(values_np), torch.from_numpy(vectors_np)
    else:
        values, vectors = torch.linalg.eigh(gram)
        values, vectors = values[d - k :], vectors[:, d - k :]
    values = values.flip(0).clamp_min(0.0)  # largest first
    vectors = vectors.flip(1).T.contiguous()  # (k, d)
    pivot = vectors.abs().argmax(dim=1, keepdim=True)
    vectors = vectors * torch.sign(vectors.gather(1, pivot))
    vectors = vectors / vectors.norm(dim=1, keepdim=True)
    if as_torch:
        return vectors.to(weight.dtype if weight.is_floating_point() else torch.float32), values
    return vectors.cpu().numpy().astype(np.float32), values.cpu().numpy()


def _check_orientation(shape: tuple[int, int], latent_dim: int | None) -> None:
    """One line when the weight is not (out, latent_dim), e.g. the official code's transposed (d, out) layout."""
    rows, cols = shape
    if latent_dim is None:
        if rows < cols:
            raise InterfaceGANError(
                f"the weight of shape {shape} has fewer output units than latent dimensions: it looks transposed "
                f"((d, out), the official layout); pass its transpose, or latent_dim={cols} if it is right"
            )
        return
    if cols != latent_dim:
        fix = "pass its transpose" if rows == latent_dim else "use the weight of the layer that reads the codes"
        raise InterfaceGANError(
            f"the weight of shape {shape} does not act on latent codes of size {latent_dim} (SeFa needs "
            f"(out, {latent_dim})): {fix}"
        )


def sefa_boundaries(
    model,
    k: int = 10,
    layers: str | list[int] | None = None,
    normalize_columns: bool = True,
    **affine_options,
) -> list[Boundary]:
    """SeFa directions of `model` as Boundaries (kind 'sefa', attribute 'sefa_{i}', eigenvalue in metrics).

    Defaults follow the official release (module docstring); `affine_options` go to `model.first_affine` (e.g.
    `include_torgb='none'` to leave the ToRGB affine out). `layers` picks the style layers of style-based models
    (e.g. '0-3'; refused on models with one first layer: `check_layers`); it is stored in the settings so
    edits in W+ default to those layers.
    """
    check_layers(model, layers)
    check_affine_options(model, affine_options)
    space = model.affine_space
    affine_options = {**official_affine_options(model), **affine_options}
    weight = model.first_affine(layers, **affine_options)
    latent_dim = math.prod(model.space_shape(space))
    directions, values = factorize(weight, k, normalize_columns=normalize_columns, latent_dim=latent_dim)
    if isinstance(directions, torch.Tensor):
        directions, values = directions.detach().cpu().numpy(), values.detach().cpu().numpy()
    total = float(values.sum()) if len(values) else 0.0
    num_layers = getattr(model, "num_ws", None)
    layer_text = None
    if layers is not None and num_layers:
        layer_text = format_layers(parse_layers(layers, int(num_layers)))
    info = model.info
    boundaries = []
    for i, (n, value) in enumerate(zip(directions, values)):
        boundaries.append(
            Boundary(
                normal=n,
                intercept=0.0,
                attribute=f"sefa_{i}",
                space=space,
                model=info.spec,
                model_info=info.as_dict(),
                kind="sefa",
                metrics={"eigenvalue": float(value), "rank": i, "share_of_top_k": float(value) / total if total else 0.0},
                settings={
                    "k": int(len(values)),
                    "layers": layer_text,
                    "normalize_columns": bool(normalize_columns),
                    "weight_shape": list(weight.shape),
                    **{key: val for key, val in affine_options.items() if isinstance(val, (str, int, float, bool))},
                },
                code_shape=tuple(model.space_shape(space)),
            )
        )
    return boundaries


def sefa_layer_count(model) -> int:
    """How many layers `model.first_affine` chooses from: BigGAN's `num_affine_layers`, a style model's W+ layers,
    else 1 (the one first layer acting on z of DCGAN, PGGAN and the toy model)."""
    count = getattr(model, "num_affine_layers", None)
    if count is None:
        count = model.num_ws if model.affine_space == "w" and model.num_ws else 1
    return int(count)


def check_layers(model, layers, name: str = "layers") -> None:
    """Refuse a SeFa layer selection on a model with no layers to choose from (it would silently do nothing).
    `name` is the caller's parameter; callers that run SeFa late (analyses, the editor) call this up front."""
    if layers is not None and sefa_layer_count(model) < 2:
        raise InterfaceGANError(
            f"model {model.name!r} has no layers to choose from (SeFa factorizes its first layer, which acts on z): "
            f"leave {name} unset (got {layers!r})"
        )


def check_affine_options(model, options: dict) -> None:
    """One line for a `first_affine` option that `model` does not take (e.g. include_torgb on the embedded DCGAN,
    which has no ToRGB layers): it would be ignored, and the directions would not be what was asked for."""
    parameters = inspect.signature(model.first_affine).parameters
    taken = {name for name, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    unknown = sorted(set(options) - taken)
    if unknown:
        name = unknown[0]
        raise InterfaceGANError(f"{name} does not apply to model {model.name!r} (SeFa factorizes its first layer, "
                                f"which acts on {model.affine_space}): leave {name} unset (got {options[name]!r})")


def official_affine_options(model) -> dict:
    """The official SeFa's `first_affine` options for `model`: the final ToRGB affine where the model has ToRGB
    affines to choose from (StyleGAN2/3: `include_torgb='last'`), nothing for the other families."""
    parameters = inspect.signature(model.first_affine).parameters
    return {"include_torgb": "last"} if "include_torgb" in parameters else {}
