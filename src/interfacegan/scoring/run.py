"""Score every sample of a store with a scorer, chunk by chunk, resumably (what `interfacegan score` runs).

Images come from the store when it holds them at full resolution, otherwise they are re-synthesized from the
stored z codes with the run's model (same truncation), which is cheaper than storing them for most models.
Scalar outputs go to `scores/<name>`, vector outputs to `features/<name>`, each tagged with the scorer's name
and version; the work of a chunk is a `ScoreJob` run by an executor (`interfacegan.execution`), which flags a
chunk done only after all its outputs are written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.execution import ChunkJob, Executor, run_job
from interfacegan.models import Generator, load_model
from interfacegan.progress import ProgressOption
from interfacegan.sampling import check_shard
from interfacegan.scoring import load_scorer
from interfacegan.scoring.base import Scorer, bind_run
from interfacegan.store import SAMPLE_TASK, SampleStore


MAX_OUTPUTS = 1024  # arrays one scorer may add to a run (the paper's attributes: 5; a 1000-class model: 1000)
# A prefix starts the stored names (`scores/PREFIXNAME`, and files like PREFIXNAME_z.npz): a plain name, so it can
# neither nest arrays ('/' makes groups that `info` and `train-boundary` then stumble on) nor hide them ('.', '__').
PREFIX_RULE = "letters, digits, '_', '-' and '.', starting with a letter or digit (e.g. v2_)"
_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.-]*)?")


def check_prefix(prefix: str, what: str = "prefix") -> str:
    """`prefix` when it is empty or follows PREFIX_RULE; else one line (naming it `what`: a prefix, a score name)."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InterfaceGANError(f"{what} {prefix!r} is not a plain name: use {PREFIX_RULE}")
    return prefix


def _check_output_names(scorer: Scorer, prefix: str) -> None:
    """Each stored name one array name: not empty, no '/' or '\\' (which would nest groups), not hidden; and at most
    MAX_OUTPUTS of them (one array each: an ONNX model giving 100,000 scores per image created arrays for hours)."""
    if len(scorer.outputs) > MAX_OUTPUTS:
        raise InterfaceGANError(f"scorer {scorer.name!r} gives {len(scorer.outputs):,} outputs, more than the "
                                f"{MAX_OUTPUTS:,} a run stores (one array each): give it fewer outputs")  # fmt: skip
    for output in scorer.outputs:
        name = f"{prefix}{output}"
        if not name or "/" in name or "\\" in name or name.startswith((".", "__")):
            raise InterfaceGANError(f"scorer {scorer.name!r} names an output {output!r}, which cannot be stored as "
                                    "one array: rename it (no '/' or '\\', not starting with '.' or '__')")  # fmt: skip


def score_task(scorer: Scorer, prefix: str = "") -> str:
    return f"score-{prefix}{scorer.name}"


def _prepare_outputs(store: SampleStore, scorer: Scorer, prefix: str, overwrite: bool) -> dict[str, str]:
    """Create (or check) one array per scorer output; returns {output: array path}."""
    _check_output_names(scorer, prefix)
    paths = {}
    for output, tail in scorer.outputs.items():
        group = "scores" if tail == () else "features"
        path = f"{group}/{prefix}{output}"
        if store.has(path):
            info = store.score_info(prefix + output)
            if overwrite:
                store.delete(path)
            elif (info.get("scorer"), info.get("version")) != (scorer.name, scorer.version):
                raise InterfaceGANError(
                    f"{store.path} already has {path!r} from scorer {info.get('scorer')} v{info.get('version')}: "
                    "use overwrite to replace it, or a prefix to keep both"
                )
        attrs = {"scorer": scorer.name, "version": scorer.version, "output": output}
        store.ensure_array(path, tuple(tail), "float32", attrs=attrs)
        paths[output] = path
    return paths


class ImageSource:
    """Images of store rows: read from the store, or synthesized from its z codes with its model."""

    def __init__(self, store: SampleStore, model: Generator | None = None, batch_size: int = 128, device=None):
        self.store = store
        self.batch_size = batch_size
        meta = store.meta
        self.from_store = store.has_images and meta.get("image_size") == meta["model_info"]["resolution"]
        self.model = model
        if not self.from_store and self.model is None:
            if meta["model"] == "unknown":
                raise InterfaceGANError(
                    f"{store.path} has no images and no model to synthesize them: re-import it naming its model"
                )
            self.model = load_model(meta["model"], device=device)
        self.truncation = store.truncation

    def images(self, start: int, stop: int) -> np.ndarray:
        if self.from_store:
            return self.store.images(slice(start, stop))
        z = self.store.codes("z", slice(start, stop))
        return self.model.synthesize(z, "z", batch_size=self.batch_size, truncation=self.truncation)


@dataclass
class ScoreJob(ChunkJob):
    """Scores of rows [start, stop) of the run at `store_path` by `scorer` (see ChunkJob).

    Images are prefetched (read or synthesized for chunk k+1 while chunk k is scored). Pickled, the job carries
    the scorer (scorers load their weights lazily, so they pickle small) and the store (which reopens by its
    location), and rebuilds the image source once per worker: it loads `model_spec`, or the run's own model when
    None.
    """

    task: str
    store: SampleStore
    scorer: Scorer
    paths: dict[str, str]  # scorer output -> array path in the store
    model_spec: str | None = None
    batch_size: int = 128
    device: str | None = None
    source: ImageSource | None = field(default=None, repr=False, compare=False)
    live_fields: ClassVar[tuple[str, ...]] = ("source",)

    def setup(self) -> None:
        if self.source is None and self.scorer.needs_images:
            model = load_model(self.model_spec, device=self.device) if self.model_spec else None
            self.source = ImageSource(self.store, model, self.batch_size, self.device)

    def array_names(self) -> list[str]:
        return list(self.paths.values())

    @property
    def prefers_processes(self) -> bool:
        """Image scorers hold the GIL (landmarks, chips, image statistics); workers rebuild the images' model from
        its spec, so a model given without one keeps the job in this process."""
        model = self.source.model if self.source is not None else None
        return self.scorer.needs_images and (model is None or bool(model.spec))

    def prefetch(self, start: int, stop: int) -> np.ndarray | None:
        return self.source.images(start, stop) if self.source is not None else None

    def compute(self, start: int, stop: int, prefetched: np.ndarray | None = None) -> dict[str, np.ndarray]:
        result = self.scorer.score(prefetched, np.arange(start, stop))
        _check_result(self.scorer, result, stop - start)
        return {path: np.asarray(result[output], dtype=np.float32) for output, path in self.paths.items()}


def score_store(
    store: SampleStore,
    scorer: Scorer | str,
    model: Generator | None = None,
    prefix: str = "",
    overwrite: bool = False,
    batch_size: int = 128,
    shard: tuple[int, int] = (0, 1),
    device=None,
    progress: ProgressOption = True,
    executor: Executor | str | None = "auto",
) -> list[str]:
    """Add `scorer`'s outputs (a Scorer or a spec) for every sample of `store`; resumes where a previous call stopped.

    Returns the names of the scalar scores written. `model` overrides the run's model (e.g. already loaded);
    `device` is where the run's model loads, here and on workers (default: where `model` was asked to be, else
    'auto', resolved on each worker); `executor` runs the chunks ('auto': worker processes for image scorers on
    several cores, else local threads; None: local threads); `progress` is True (bar), False or a callable.
    """
    prefix, batch_size = check_prefix(prefix), checks.positive_int("batch_size", batch_size)
    scorer = load_scorer(scorer)
    if not store.is_complete(SAMPLE_TASK):
        raise InterfaceGANError(f"{store.path} is not completely sampled: finish sampling it first")
    check_shard(shard)
    if device is None and model is not None:
        device = model.requested_device  # workers load the model again where it was asked to be
    task = score_task(scorer, prefix)
    if overwrite:
        store.delete(f"progress/{task}")
    source = ImageSource(store, model, batch_size, device) if scorer.needs_images else None
    # Hook, once per run: the scorer bound to run-specific settings (a face scorer's framing; scoring/framed.py).
    scorer = bind_run(scorer, store, source.images if source is not None else None)
    paths = _prepare_outputs(store, scorer, prefix, overwrite)
    job = ScoreJob(task, store, scorer, paths, model_spec=model.spec if model is not None else None,
                   batch_size=batch_size, device=device, source=source)  # fmt: skip
    run_job(store, job, shard, executor, progress, f"scoring ({scorer.name})")
    return [f"{prefix}{name}" for name in scorer.attributes]


def _check_result(scorer: Scorer, result: dict[str, np.ndarray], rows: int) -> None:
    for output, tail in scorer.outputs.items():
        if output not in result:
            raise InterfaceGANError(f"scorer {scorer.name!r} returned no {output!r} output")
        shape = tuple(np.shape(result[output]))
        if shape != (rows, *tail):
            raise InterfaceGANError(
                f"scorer {scorer.name!r} returned {output!r} of shape {shape}, expected {(rows, *tail)}"
            )
