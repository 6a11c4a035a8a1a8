"""What the analyses work with besides the run: the scorers that re-score edits and the boundaries analysed.

Scorers. A run's score metadata names the scorer that made each score; that name is provenance only. Re-scoring
uses the scorers the caller names (`scorers`, any spec) or, when none are named, those of the run's scorers whose
names are in RUN_SCORERS, the built-in scorers; nothing else a run names (`module:function`, `onnx:`, `csv:`,
entry points) is ever imported or called. Face scorers are bound to the run's face framing (`bind_run`), as
`score_store` binds them, so a calibrated run is re-scored with its own framing.

Boundaries. The given ones (files, folders, `PATH:I` items or Boundary objects); else those of a boundaries
folder (`boundaries_dir`, by default the folder `train-boundary` writes beside the run, `RUN-boundaries/`);
else trained here with `learning.train_boundaries` (in memory; saved to OUT/boundaries/ when the analysis runs).
Every boundary must fit the model (`editing.plan.check_fits`, as `edit` checks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from interfacegan.directions.boundary import Boundary
from interfacegan.directions.files import read_directions
from interfacegan.editing.plan import check_fits
from interfacegan.errors import InterfaceGANError
from interfacegan.learning import boundary_path, default_boundary_dir, train_boundaries
from interfacegan.report import plural
from interfacegan.storage import is_url

# The scorer names a run may name that re-scoring loads on its own: the built-in scorers (scoring._BUILTIN), by
# exact name. Any other scorer (a Python callable, an ONNX or CSV file, a plugin) must be named by the caller.
RUN_SCORERS = ("face", "identity", "gender", "age", "toy")
AUTO = "auto"


# ==== scorers ===================================================================================================


@dataclass
class ScorerChoice:
    """The scorers that re-score edits, and one sentence on the run's scorers that are not used ('' if none)."""

    scorers: list = field(default_factory=list)
    note: str = ""


def rescoring_scorers(store, given: Sequence | None, attributes: Sequence[str]) -> ScorerChoice:
    """The image scorers that re-score edits of `store`: `given` (specs or instances), else the built-in scorers
    (RUN_SCORERS) that made the run's scores of `attributes`; each bound to the run (module docstring)."""
    from interfacegan.scoring import load_scorer
    from interfacegan.scoring.base import bind_run

    notes = []
    if given is not None:
        loaded = [load_scorer(s) for s in given]
    else:
        named = list(dict.fromkeys(store.score_info(a).get("scorer") for a in attributes))
        named = [n for n in named if n]
        refused = [n for n in named if n not in RUN_SCORERS]
        if refused:
            which = "which is" if len(refused) == 1 else "which are"
            notes.append(f"the run's scores were made by {', '.join(map(repr, refused))}, {which} not loaded from a "
                         f"run (only the built-in {', '.join(RUN_SCORERS)} are): name the scorers to re-score with "
                         "(`scorers`)")  # fmt: skip
        loaded = [load_scorer(n) for n in named if n in RUN_SCORERS]
    usable = []
    for scorer in loaded:
        if getattr(scorer, "needs_images", True) and scorer.attributes:
            usable.append(bind_run(scorer, store))
        else:
            notes.append(f"scorer {scorer.name!r} does not read images (labels): it cannot re-score edits")
    return ScorerChoice(usable, "; ".join(notes))


def identity_scorer(spec, scorers: Sequence, store):
    """(scorer, '') for the identity analyses, or (None, why not): `spec` 'auto' (dlib identity when the run was
    scored by face scorers), a scorer spec or instance with a vector output, or None."""
    from interfacegan.scoring import load_scorer
    from interfacegan.scoring.base import bind_run

    if spec is None:
        return None, "no identity scorer given (give `identity_scorer`, e.g. 'identity')"
    if spec == AUTO:
        if not any(getattr(s, "name", "") == "face" for s in scorers):
            return None, ("identity needs a face-identity scorer and the run's scorers are not face scorers "
                          "(give `identity_scorer`)")  # fmt: skip
        spec = "identity"
    return bind_run(load_scorer(spec), store), ""


# ==== boundaries ================================================================================================


@dataclass
class BoundarySet:
    """The boundaries analysed: those loaded (given, or from `folder`) and those `trained` here (their settings
    record the ratio they were trained with)."""

    loaded: list[Boundary] = field(default_factory=list)
    trained: list[Boundary] = field(default_factory=list)
    folder: Path | None = None

    @property
    def boundaries(self) -> list[Boundary]:
        return [*self.loaded, *self.trained]

    def save_trained(self, out: Path) -> list[Path]:
        """Write the boundaries trained here to `out/{attribute}_{space}.npz` (the `train_boundaries` naming)."""
        return [b.save(boundary_path(out, b.attribute, b.space)) for b in self.trained]

    def describe(self) -> str:
        """One readable line: where the boundaries come from, and the ratio and counts of the trained ones."""
        parts = []
        if self.loaded:
            where = f"from {self.folder}" if self.folder else "given"
            parts.append(f"{plural(len(self.loaded), 'boundary', 'boundaries')} {where}{_training(self.loaded)}")
        if self.trained:
            parts.append(f"{plural(len(self.trained), 'boundary', 'boundaries')} trained here on this run"
                         f"{_training(self.trained)}")  # fmt: skip
        return "; ".join(parts) or "none"


def _training(boundaries: Sequence[Boundary]) -> str:
    """' (ratio 0.02: 56 training and 24 validation samples; 3 imported)': how SVM boundaries were selected (as
    they record it) and how many of each other kind there are."""
    recorded = [b.kind == "svm" and b.metrics.get("num_train") is not None for b in boundaries]
    svm = [b for b, r in zip(boundaries, recorded) if r]
    others = Counter(b.kind for b, r in zip(boundaries, recorded) if not r)
    parts = []
    if svm:
        share = sorted({_share(b.settings) for b in svm})
        train = sorted({int(b.metrics["num_train"]) for b in svm})
        val = sorted({int(b.metrics["num_val"]) for b in svm})
        parts.append(f"{' / '.join(share)}: {_span(train)} training and {_span(val)} validation samples")
    parts += [f"{n} {kind}" for kind, n in sorted(others.items())]  # e.g. '3 imported', '1 sefa'
    return f" ({'; '.join(parts)})" if parts else ""


def _share(settings: dict) -> str:
    if settings.get("count") is not None:
        return f"{settings['count']} per side"
    return f"ratio {settings.get('ratio')}" if settings.get("ratio") is not None else "selection not recorded"


def _span(values: list[int]) -> str:
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def resolve_boundaries(store, model, given, boundaries_dir, attributes: Sequence[str], spaces: Sequence[str],
                       explicit: bool, ratio: float, progress: bool) -> BoundarySet:  # fmt: skip
    """The boundaries to analyse (module docstring). `explicit`: `attributes`/`spaces` were asked for by name, so
    pairs a folder lacks are trained here; otherwise a folder's boundaries are used as they are."""
    if given:
        if boundaries_dir not in (None, AUTO):
            raise InterfaceGANError("give `boundaries` or `boundaries_dir`, not both (a folder may be one of the "
                                    "`boundaries`)")  # fmt: skip
        items = [b for b in given if not isinstance(b, Boundary)]
        loaded = [b for b in given if isinstance(b, Boundary)] + read_directions(items, model=model)
        return BoundarySet(_fitting(model, loaded))
    folder = _folder(store, boundaries_dir)
    if folder is None:
        return BoundarySet(trained=_train(store, [(a, s) for s in spaces for a in attributes], ratio, progress))
    loaded = [b for b in _fitting(model, read_directions([folder], model=model))
              if not explicit or (b.attribute in attributes and b.space in spaces)]  # fmt: skip
    have = {(b.attribute, b.space) for b in loaded}
    missing = [(a, s) for s in spaces for a in attributes if (a, s) not in have] if explicit else []
    if not loaded and not missing:
        raise InterfaceGANError(f"{folder} holds no boundaries to analyse: give `boundaries_dir` a folder written by "
                                "train-boundary, or no folder to train them here")  # fmt: skip
    trained = _train(store, missing, ratio, progress)
    return BoundarySet(loaded, trained, folder)


def _folder(store, boundaries_dir) -> Path | None:
    """The boundaries folder to read: the one given, the default one beside the run when it exists ('auto')."""
    if boundaries_dir is None:
        return None
    if boundaries_dir == AUTO:
        if is_url(store.path):
            return None  # a URL has no folder beside it (train-boundary writes a URL run's boundaries to --out)
        beside = default_boundary_dir(store.path)
        return beside if beside.is_dir() and any(beside.glob("*.np[yz]")) else None
    folder = Path(boundaries_dir)
    if not folder.is_dir():
        raise InterfaceGANError(f"boundaries_dir {folder} is not a folder: give the folder train-boundary wrote")
    return folder


def _fitting(model, boundaries: list[Boundary]) -> list[Boundary]:
    for b in boundaries:
        check_fits(model, b)  # the model it was made for, its space and dimension, as `edit` checks
    return boundaries


def _train(store, pairs: list[tuple[str, str]], ratio: float, progress: bool) -> list[Boundary]:
    """Boundaries of (attribute, space) pairs trained on `store` with `ratio`, in memory (one trainer for all)."""
    trained = []
    for space in dict.fromkeys(s for _, s in pairs):
        attributes = [a for a, s in pairs if s == space]
        trained += train_boundaries(store, attributes, [space], out=None, progress=progress, ratio=ratio)
    return trained


@dataclass
class AnalysisInputs:
    """What the caller chose besides the settings (see `analyze_run`): None means the default."""

    boundaries: Sequence | None = None  # boundary files, folders, PATH:I items or Boundary objects
    boundaries_dir: str | Path | None = AUTO  # a train-boundary folder; 'auto': RUN-boundaries/ if it exists
    attributes: Sequence[str] | None = None  # default: every score of the run
    spaces: Sequence[str] | None = None  # spaces to train boundaries in; default: the run's, except W+
    scorers: Sequence | None = None  # default: the run's built-in scorers (RUN_SCORERS)
    identity_scorer: object = AUTO
    real_scores: str | Path | dict | None = None
