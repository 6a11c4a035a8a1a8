"""Closed-form factorization (SeFa): latent directions n maximising |A n| for the first affine weight A.

The top-k unit n are the eigenvectors of A^T A with the k largest eigenvalues (SeFa paper, Eq. 4-7). A is
(out, d) with out >> d (e.g. 8192 x 100 for the embedded DCGAN, ~9216 x 512 for StyleGAN style layers), so we
form the small d x d Gram matrix (one GEMM) and use a symmetric eigensolver on it: O(out d^2 + d^3), never
anything of size out x out. The official code's column normalisation (its weight is A^T, so its columns are
our rows: each output unit's weights) is available as `normalize_columns`.
"""

from __future__ import annotations

import numpy as np
import torch

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers


def factorize(weight, k: int | None = None, normalize_columns: bool = False):
    """Top-k eigenvectors of A^T A for A = weight (out, d): (directions (k, d) unit rows, eigenvalues (k,)).

    Sorted by eigenvalue, largest first; the sign of each direction is fixed (its largest-magnitude entry is
    positive) so results are reproducible. numpy in -> numpy out (float32 directions, float64 eigenvalues);
    torch in -> torch out on the same device.
    """
    as_torch = isinstance(weight, torch.Tensor)
    a = weight.detach() if as_torch else torch.from_numpy(np.asarray(weight))
    if a.ndim != 2 or min(a.shape) == 0:
        raise InterfaceGANError(f"SeFa needs a 2-D weight (out, d), got shape {tuple(a.shape)}")
    if not torch.isfinite(a).all():
        raise InterfaceGANError("the affine weight contains NaN or inf values")
    d = a.shape[1]
    k = d if k is None else int(k)
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


def sefa_boundaries(
    model,
    k: int = 10,
    layers: str | list[int] | None = None,
    normalize_columns: bool = False,
    **affine_options,
) -> list[Boundary]:
    """SeFa directions of `model` as Boundaries (kind 'sefa', attribute 'sefa_{i}', eigenvalue in metrics).

    `layers` picks the style layers of style-based models (e.g. '0-3'); it is stored in the settings so edits
    in W+ default to those layers.
    """
    space = model.affine_space
    weight = model.first_affine(layers, **affine_options)
    directions, values = factorize(weight, k, normalize_columns=normalize_columns)
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
