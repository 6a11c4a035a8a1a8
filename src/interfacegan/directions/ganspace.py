"""GANSpace (Härkönen et al., NeurIPS 2020): latent directions from PCA of sampled codes or first-layer activations.

What it computes, following the paper and its public code (harskish/ganspace, `decomposition.py`):
- in W (style models, `space='w'`): PCA of w = mapping(z) for `num` sampled z; the directions are the principal
  components themselves (unit, orthogonal, in W). GANSpace's `--use_w`.
- in Z (`space='z'`; DCGAN, PGGAN, BigGAN, the toy model, or a style model's Z): PCA of the first layer's
  activations y = G1(z) (`Generator.first_layer_activations`), then the regression back to z. The first layer is
  BigGAN's `gen_z` output (GANSpace's default layer), PGGAN's first block (GANSpace's ProGAN 'layer1'), a style
  model's w (its 'style' layer) and the toy's linear read-out; where "layer" could be read two ways (DCGAN), it is
  the first block with its normalisation and activation, as ProGAN's 'layer1' is: ConvTranspose + BatchNorm + ReLU.
  The regression: on `regression_num` further samples (GANSpace: max(10,000, num)), the PCA coordinates
  a = V^T (y - mean) / stdev (stdev = sqrt(explained variance)) and the codes z give M = argmin_M sum
  ||M^T a - z||^2 (least squares, no intercept, as GANSpace's `scipy.linalg.lstsq(A, Z)`); row i of M,
  unit-normalised, is direction i in Z. We accumulate the normal equations A^T A (k x k) and A^T Z (k x d) block by
  block and solve them (the same minimiser; A^T A is close to num * I as PCA coordinates are decorrelated), so no
  pass holds all samples. For a linear first layer y = A z this gives the top right singular vectors of A
  (unnormalised SeFa of that layer).
PCA is scikit-learn's `IncrementalPCA`, fed by `partial_fit` with blocks of `block_size` rows drawn from the
model's reproducible code stream (rows [0, num) of `seed`; the regression uses rows [num, num + regression_num)):
memory is bounded by one block of activations whatever `num` is; a single block is exact (full) PCA. Unlike
GANSpace, IncrementalPCA keeps `n_oversamples` (default 2k) components beyond the k reported: truncated at k it
loses the last of them on flat spectra (the embedded DCGAN's 8,192 activations, 10,000 samples: |cos| with full PCA
0.56-0.85 for components 8-10 of 10, >= 0.9997 keeping 30; `n_oversamples=0` is GANSpace's own estimator).
Order: explained variance, largest first. Sign: each activation component's largest-magnitude entry is positive
(so W directions follow SeFa's rule); a Z direction keeps the sign that raises its component's coordinate.
`lat_stdev` of the GANSpace export is sqrt(explained variance) in W and 1 in Z, as GANSpace writes it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import IncrementalPCA
from threadpoolctl import threadpool_limits

from interfacegan import checks
from interfacegan.atomic import atomic_path
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers
from interfacegan.progress import ProgressOption, progress_bar

logger = logging.getLogger(__name__)

GANSPACE_K = 10
GANSPACE_NUM = 20_000
REGRESSION_MIN = 10_000  # GANSpace regresses on max(10,000, num) samples
# Rows per block: as many as fit in BLOCK_BYTES of float32 features, at most BLOCK_ROWS, at least the components kept
# (IncrementalPCA's first block needs that many). Its SVD costs ~ (rows + kept)^2 * features per block, so wide
# activations get short blocks (the embedded DCGAN's 8,192: 256 rows) and W long ones (512: 4,096 rows).
BLOCK_ROWS = 4096
BLOCK_BYTES = 8 << 20
# IncrementalPCA's many small SVDs run in one BLAS thread (torch keeps its own): on 2 shared cores, one thread did
# the SVD of a (266, 8192) block in 0.38-0.41 s vs 0.86-1.9 s with two, of (4126, 512) in 0.31-0.34 s vs 1.1-2.0 s.
BLAS_THREADS = 1
RANDOM_DIRECTIONS_SEED = 2  # the export's `random_stdevs`: spread along random unit directions (GANSpace's baseline)


class GANSpace:
    """PCA directions of a generator (module docstring), scikit-learn style: parameters here, `fit(model)` learns.

    After `fit`: `directions_` (k, d) unit rows in `space_`, `components_` (k, features) activation components,
    `mean_` (features,), `explained_variance_` (k,), `explained_variance_ratio_` (k,), `feature_shape_`,
    `latent_mean_` (d,), `random_stdevs_` (k,), `n_samples_seen_`, `n_components_kept_`, `block_size_`,
    `regression_num_`.
    """

    def __init__(self, k: int = GANSPACE_K, num: int = GANSPACE_NUM, space: str | None = None, seed: int = 0,
                 block_size: int | None = None, regression_num: int | None = None,
                 n_oversamples: int | None = None):  # fmt: skip
        self.k, self.num, self.space, self.seed = k, num, space, seed
        self.block_size, self.regression_num, self.n_oversamples = block_size, regression_num, n_oversamples

    def fit(self, model, progress: ProgressOption = False) -> "GANSpace":
        """Sample, run PCA block by block and (in Z) regress back to z; `progress` as `interfacegan.progress`."""
        self._settle(model)
        logger.info("GANSpace on %s in %s: PCA of %s features x %d samples, blocks of %d rows, %d components kept",
                    model.name, self.space_, math.prod(self.feature_shape_), self.num, self.block_size_,
                    self.n_components_kept_)  # fmt: skip
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            self._fit_pca(model, progress)
            if self.space_ == "z":
                self._regress(model, progress)
        if self.space_ == "w":
            self.directions_ = self.components_.astype(np.float32)
            self.latent_mean_ = self.mean_.astype(np.float32)
        return self

    def check_params(self) -> "GANSpace":
        """Check the parameters that do not depend on a model (one line naming the first bad one); `fit` does, and a
        caller that loads a model first can call this before, to refuse bad values before any work."""
        if self.space not in (None, "w", "z"):
            raise InterfaceGANError(f"space must be 'w' or 'z' (GANSpace directions), got {self.space!r}")
        checks.positive_int("k", self.k), checks.positive_int("num", self.num), checks.seed(self.seed)
        for name in ("block_size", "regression_num"):
            if getattr(self, name) is not None:
                checks.positive_int(name, getattr(self, name))
        if self.n_oversamples is not None:
            checks.integer("n_oversamples", self.n_oversamples, low=0)
        return self

    def _settle(self, model) -> None:
        """Check the parameters against `model` (one-line errors naming them) and set space_, feature_shape_,
        n_components_kept_, block_size_ and regression_num_."""
        self.check_params()
        space = self.space or default_space(model)
        model.check_space(space)
        k, num = int(self.k), int(self.num)
        feature_shape = _features(model, space, model.sample(1, self.seed)).shape[1:]
        feature_dim, latent_dim = math.prod(feature_shape), math.prod(model.space_shape(space))
        if not 1 <= k <= min(feature_dim, latent_dim):
            raise InterfaceGANError(f"k must be between 1 and {min(feature_dim, latent_dim)} for GANSpace in "
                                    f"{space!r} of model {model.name!r}, got {k}")  # fmt: skip
        if num < k:
            raise InterfaceGANError(f"num must be at least k = {k} (PCA needs a sample per direction), got {num}")
        extra = 2 * k if self.n_oversamples is None else int(self.n_oversamples)
        kept = min(k + extra, feature_dim, num)
        block = self.block_size
        if block is None:
            block = max(kept, min(BLOCK_ROWS, BLOCK_BYTES // (4 * feature_dim)))
        if min(block, num) < kept:
            raise InterfaceGANError(f"block_size must be at least {kept} (the components IncrementalPCA keeps: "
                                    f"k + n_oversamples), got {block}")  # fmt: skip
        regression = self.regression_num if self.regression_num is not None else max(REGRESSION_MIN, num)
        if space == "z" and regression < k:
            raise InterfaceGANError(f"regression_num must be at least k = {k}, got {regression}")
        self.space_, self.feature_shape_, self.n_components_kept_ = space, tuple(feature_shape), int(kept)
        self.block_size_, self.regression_num_ = int(block), int(regression) if space == "z" else None

    def _fit_pca(self, model, progress: ProgressOption) -> None:
        """IncrementalPCA over blocks of rows [0, num); the top k components, sign-fixed, and their variances."""
        pca = IncrementalPCA(n_components=self.n_components_kept_, copy=False)
        rng = np.random.default_rng(RANDOM_DIRECTIONS_SEED)
        with progress_bar("GANSpace: PCA", self.num, enabled=progress) as bar:
            for i, (start, stop) in enumerate(_blocks(self.num, self.block_size_)):
                z = model.sample(stop - start, self.seed, start)
                x = _features(model, self.space_, z).reshape(stop - start, -1)
                if i == 0:
                    directions = rng.standard_normal((self.k, x.shape[1]))
                    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
                    self.random_stdevs_ = (x @ directions.T.astype(np.float32)).std(axis=0).astype(np.float32)
                pca.partial_fit(x)
                bar.advance(stop - start)
        components = pca.components_[: self.k].astype(np.float64)
        pivot = np.abs(components).argmax(axis=1)
        components *= np.sign(components[np.arange(len(components)), pivot])[:, None]
        self.components_ = components
        self.mean_ = pca.mean_.astype(np.float64)
        self.explained_variance_ = pca.explained_variance_[: self.k].astype(np.float64)
        self.explained_variance_ratio_ = pca.explained_variance_ratio_[: self.k].astype(np.float64)
        self.n_samples_seen_ = int(pca.n_samples_seen_)

    def _regress(self, model, progress: ProgressOption) -> None:
        """Least squares z ~ M^T a over fresh samples (normal equations accumulated per block)."""
        stdev = np.sqrt(np.maximum(self.explained_variance_, np.finfo(np.float64).tiny))
        if not (self.explained_variance_ > 1e-10 * self.explained_variance_[0]).all():
            raise InterfaceGANError(f"the first layer's activations vary in fewer than k = {self.k} directions: "
                                    "lower k")  # fmt: skip
        projection = (self.components_ / stdev[:, None]).T.astype(np.float32)  # a = (y - mean) @ projection
        mean = self.mean_.astype(np.float32)
        gram, cross = np.zeros((self.k, self.k)), np.zeros((self.k, model.z_dim))
        z_sum = np.zeros(model.z_dim)
        with progress_bar("GANSpace: regression to z", self.regression_num_, enabled=progress) as bar:
            for start, stop in _blocks(self.regression_num_, self.block_size_):
                z = model.sample(stop - start, self.seed, self.num + start)
                a = ((_features(model, "z", z).reshape(len(z), -1) - mean) @ projection).astype(np.float64)
                z = z.astype(np.float64)
                gram += a.T @ a
                cross += a.T @ z
                z_sum += z.sum(axis=0)
                bar.advance(stop - start)
        weights = np.linalg.solve(gram, cross)  # (k, z_dim): row i is direction i
        self.directions_ = (weights / np.linalg.norm(weights, axis=1, keepdims=True)).astype(np.float32)
        self.latent_mean_ = (z_sum / self.regression_num_).astype(np.float32)

    def boundaries(self, model, layers: str | list[int] | None = None) -> list[Boundary]:
        """The fitted directions as Boundaries (kind 'ganspace', attribute 'ganspace_{i}', explained variance in
        metrics). `layers` (style models, W only) is stored so W+ edits default to those layers, as SeFa's."""
        _check_fitted(self)
        layer_text = check_ganspace_layers(model, self.space_, layers)
        info, total = model.info, float(self.explained_variance_.sum())
        settings = {"method": "ganspace", "k": int(self.k), "num": int(self.num), "seed": int(self.seed),
                    "layers": layer_text, "pca_on": "w" if self.space_ == "w" else "first_layer_activations",
                    "feature_shape": list(self.feature_shape_), "block_size": self.block_size_,
                    "components_kept": self.n_components_kept_,
                    "regression_num": self.regression_num_, "estimator": "sklearn IncrementalPCA"}  # fmt: skip
        return [
            Boundary(normal=n, intercept=0.0, attribute=f"ganspace_{i}", space=self.space_, model=info.spec,
                     model_info=info.as_dict(), kind="ganspace",
                     metrics={"explained_variance": float(var), "explained_variance_ratio": float(ratio), "rank": i,
                              "share_of_top_k": float(var) / total if total else 0.0},
                     settings=dict(settings), code_shape=tuple(model.space_shape(self.space_)))  # fmt: skip
            for i, (n, var, ratio) in enumerate(
                zip(self.directions_, self.explained_variance_, self.explained_variance_ratio_)
            )
        ]

    def save_official(self, path: str | Path) -> Path:
        """Write GANSpace's own `.npz` layout (`decomposition.py`'s keys), atomically: `lat_comp` (k, 1, d) the
        directions, `lat_mean` (1, d), `lat_stdev` (k,), `act_comp` (k, 1, *features), `act_mean` (1, *features),
        `act_stdev` (k,), `var_ratio` (k,), `random_stdevs` (k,); float32. Read back by `read_directions`."""
        _check_fitted(self)
        path = Path(path)
        if path.suffix != ".npz":
            raise InterfaceGANError(f"GANSpace files end in .npz, got {path}: use e.g. {path.with_suffix('.npz')}")
        stdev = np.sqrt(self.explained_variance_)
        shape = (1, *self.feature_shape_)
        arrays = {
            "act_comp": self.components_.reshape(-1, *shape), "act_mean": self.mean_.reshape(shape),
            "act_stdev": stdev, "lat_comp": self.directions_[:, None, :], "lat_mean": self.latent_mean_[None, :],
            "lat_stdev": stdev if self.space_ == "w" else np.ones_like(stdev),
            "var_ratio": self.explained_variance_ratio_, "random_stdevs": self.random_stdevs_,
        }  # fmt: skip
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{key: np.asarray(value, np.float32) for key, value in arrays.items()})
        return path


def ganspace_boundaries(
    model,
    k: int = GANSPACE_K,
    num: int = GANSPACE_NUM,
    space: str | None = None,
    layers: str | list[int] | None = None,
    seed: int = 0,
    block_size: int | None = None,
    regression_num: int | None = None,
    n_oversamples: int | None = None,
    progress: ProgressOption = False,
) -> list[Boundary]:
    """GANSpace directions of `model` as Boundaries (module docstring); `space` None is 'w' where the model has W,
    else 'z'. `layers` (W+ layers, style models in W) is checked first, before any sampling."""
    check_ganspace_layers(model, space or default_space(model), layers)
    fitted = GANSpace(k, num, space, seed, block_size, regression_num, n_oversamples).fit(model, progress=progress)
    return fitted.boundaries(model, layers)


def default_space(model) -> str:
    """GANSpace's space when none is given: 'w' where the model has W (GANSpace's `--use_w`), else 'z'."""
    return "w" if "w" in model.spaces else "z"


def check_ganspace_layers(model, space: str, layers, name: str = "layers") -> str | None:
    """The W+ layer selection as text ('0-3'), or None; refused where edits have no layers to choose: a model
    without W+, or directions in Z (they move the whole code). `name` is the caller's parameter."""
    if layers is None:
        return None
    if "wp" not in model.spaces or not model.num_ws:
        raise InterfaceGANError(f"model {model.name!r} has no W+ layers (its spaces: {', '.join(model.spaces)}): "
                                f"leave {name} unset (got {layers!r})")  # fmt: skip
    if space != "w":
        raise InterfaceGANError(f"{name} pick the W+ layers that W directions edit: use space 'w', or drop {name} "
                                f"for directions in {space!r}")  # fmt: skip
    return format_layers(parse_layers(layers, int(model.num_ws)))


def _blocks(total: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) row ranges of at most `size` rows covering [0, total)."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]


@torch.no_grad()
def _features(model, space: str, z: np.ndarray) -> np.ndarray:
    """What the PCA runs on for codes z (N, z_dim): w in W, the first layer's activations in Z; float32 numpy."""
    if space == "w":
        return model.map(z, "w")
    return model.first_layer_activations(model.to_tensor(z)).float().cpu().numpy()


def _check_fitted(estimator: GANSpace) -> None:
    if not hasattr(estimator, "directions_"):
        raise InterfaceGANError("this GANSpace is not fitted yet: call fit(model) first")
