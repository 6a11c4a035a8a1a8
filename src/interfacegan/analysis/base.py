"""What an analysis is: a small class that says when it applies, what work it plans, and how it runs.

Each analysis lives in its own module under `analysis/steps/` and is listed by one line in `analysis/registry.py`.
It reads everything through the typed `AnalysisContext` (the run, model, scorers, boundaries per space, baselines,
re-scoring results, identity features: computed on first use and shared) and writes through a `SectionWriter`
(CSV tables, PNG plots and its report section). A new analysis subclasses `Analysis`:

    class MyAnalysis(Analysis):
        name = "mine"                                   # `interfacegan analyze mine RUN`
        title = "My measurement (paper Fig. 9)"          # its report section
        description = "One line for the command's help."
        def skip_reason(self, ctx): return "" if ctx.supervised() else ctx.no_boundaries
        def work(self, ctx): return Work(samples=..., directions=..., images=...)
        def run(self, ctx, out): out.table(...); out.plot(...)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from interfacegan.analysis.context import AnalysisContext
    from interfacegan.analysis.outputs import SectionWriter


@dataclass
class Work:
    """The work an analysis plans, for the plan printed before it starts and the time estimate.

    `images` are synthesized and scored by the re-scoring scorers, `identity_images` synthesized and described
    by the identity scorer, for this analysis alone. Computations other analyses reuse (a space's re-scoring
    matrix, identity distances) are in `shared` under one key each, and the unedited rows each space scores are in
    `baselines`: the plan counts each once.
    """

    samples: int = 0  # M: rows of the run edited (0 when nothing is edited)
    directions: int = 0  # directions measured
    images: int = 0
    identity_images: int = 0
    shared: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (images, identity images)
    baselines: dict[str, int] = field(default_factory=dict)  # space -> unedited rows scored
    detail: str = ""  # one line on what is measured, e.g. 'Z: 6 directions + 3 conditional'


class Analysis(ABC):
    """One measurement of the paper (module docstring). Subclasses set the class attributes and `run`."""

    name: ClassVar[str]  # the command-line name and the analysis' key in results
    title: ClassVar[str]  # the report section's heading
    description: ClassVar[str]  # one line for `interfacegan analyze --help`
    intro: ClassVar[str] = ""  # the report section's first paragraph
    needs_boundaries: ClassVar[bool] = True  # False: the plan resolves (perhaps trains) no boundaries for it

    def skip_reason(self, ctx: AnalysisContext) -> str:
        """Why this analysis cannot run on `ctx`, in one sentence ('' when it can)."""
        return ""

    def work(self, ctx: AnalysisContext) -> Work:
        """The work `run` will do on `ctx` (called only when `skip_reason` is '')."""
        return Work()

    @abstractmethod
    def run(self, ctx: AnalysisContext, out: SectionWriter) -> None:
        """Compute, and write tables, plots and notes through `out`."""
