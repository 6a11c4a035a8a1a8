"""Base class of the face scorers (face, identity, gender, age): the face framing they run on.

The framing is an option, `framing=NAME` (a preset of `framing.py`) or `box=L,T,R,B` (fractions of the image
side), given in code or in the scorer spec (`face?framing=ffhq`, `gender?box=0.2,0.3,0.8,0.9`). Without one
(`auto`) a scorer uses the framing of the run it scores, which `score_store` hands it once through `for_run`
(recorded, named by the run's model, or calibrated on the run's first samples: `calibration.run_framing`),
and the embedded GAN's framing on images from anywhere else. Scorers hold plain options only (models load
lazily, per process), so they pickle, and `spec` rebuilds an equal one with `load_scorer(spec)`.
"""

from __future__ import annotations

import copy

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import Scorer
from interfacegan.scoring.framing import DEFAULT_FRAMING, FRAMINGS, Framing, parse_box, resolve_framing

AUTO = "auto"


class FramedScorer(Scorer):
    """A scorer of aligned faces that needs to know where the face sits in the image (module docstring)."""

    base_version = "1"

    def __init__(self, framing: str | Framing = AUTO, box: str | None = None):
        if box is not None:
            if framing != AUTO:
                raise InterfaceGANError(f"scorer {self.name!r}: give framing= or box=, not both")
            framing = Framing("custom", parse_box(box) if isinstance(box, str) else tuple(box))
        self.framing_option: Framing | str = AUTO if framing == AUTO else resolve_framing(framing)

    @property
    def framing(self) -> Framing:
        """The framing in use: the given one, else the embedded GAN's (until `for_run` binds the run's)."""
        return DEFAULT_FRAMING if self.framing_option == AUTO else self.framing_option

    @property
    def version(self) -> str:
        """`base_version`, plus the framing unless it is the embedded GAN's (scores of two framings differ)."""
        framing = self.framing
        return self.base_version if framing == DEFAULT_FRAMING else f"{self.base_version}+{framing.key}"

    @property
    def spec(self) -> str:
        """A scorer spec that `load_scorer` turns into an equal scorer (for worker processes)."""
        if self.framing_option == AUTO:
            return self.name
        framing = self.framing
        if FRAMINGS.get(framing.name) == framing:
            return f"{self.name}?framing={framing.name}"
        return f"{self.name}?box=" + ",".join(f"{v:.6g}" for v in framing.box)

    def with_framing(self, framing: str | Framing) -> FramedScorer:
        """A copy of this scorer bound to `framing`."""
        bound = copy.copy(self)
        bound.framing_option = resolve_framing(framing)
        return bound

    def for_run(self, store, images=None) -> FramedScorer:
        """This scorer bound to the run's framing, unless a framing was given (see module docstring)."""
        if self.framing_option != AUTO:
            return self
        from interfacegan.scoring.calibration import run_framing

        return self.with_framing(run_framing(store, images))
