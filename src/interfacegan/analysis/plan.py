"""The plan of an analysis, made before any heavy work: per analysis its M, directions and images, the boundaries
and scorers used, and an estimate of the time from per-image costs measured on a few of the run's rows.

Images are counted as the analyses will make them: computations several analyses share (a space's re-scoring
matrix, identity distances, the unedited scores of a space) are counted once, for the first analysis that needs
them. The estimate is images x (seconds to synthesize and score one image) + identity images x (seconds to
synthesize and describe one), measured by `measure_costs` on one full batch of the run's rows after a warm-up
(small batches cost several times more per image than the full batches the analyses use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import AnalysisContext
from interfacegan.report import plural

WARM_UP_ROWS = 8  # rows synthesized and scored once before timing (models load, caches fill)
IDENTITY_ROWS = 8  # rows timed for identity descriptors (per-image cost: a small batch tells)


@dataclass
class PlannedAnalysis:
    """One analysis of the plan: its work, the images it makes first (shared ones counted once), or why skipped."""

    name: str
    work: Work | None = None
    skipped: str = ""
    images: int = 0
    identity_images: int = 0


@dataclass
class Costs:
    """Seconds to synthesize and score one image, and to synthesize and describe one (identity), as measured."""

    image: float
    identity: float | None
    rows: int

    def seconds(self, images: int, identity_images: int) -> float:
        return images * self.image + identity_images * (self.identity or 0.0)


@dataclass
class AnalysisPlan:
    """What `analyze_run` will do (module docstring); `lines()` is the text the command line prints."""

    run: str
    num: int
    analyses: list[PlannedAnalysis]
    boundaries: str
    scorers: list[str] = field(default_factory=list)
    identity: str | None = None
    costs: Costs | None = None

    @property
    def images(self) -> int:
        return sum(a.images for a in self.analyses)

    @property
    def identity_images(self) -> int:
        return sum(a.identity_images for a in self.analyses)

    @property
    def seconds(self) -> float | None:
        """Estimated seconds of the re-scoring work (None when costs were not measured)."""
        return None if self.costs is None else self.costs.seconds(self.images, self.identity_images)

    def lines(self) -> list[str]:
        planned = [a for a in self.analyses if a.work is not None]
        out = [f"plan: {plural(len(planned), 'analysis', 'analyses')} of {self.run} ({plural(self.num, 'sample')})",
               f"  boundaries: {self.boundaries}",
               f"  scorers: {', '.join(self.scorers) or 'none'}; identity: {self.identity or 'none'}"]  # fmt: skip
        width = max((len(a.name) for a in self.analyses), default=0)
        for a in self.analyses:
            if a.work is None:
                out.append(f"  {a.name:{width}}  skipped: {a.skipped}")
                continue
            m = f"M = {a.work.samples:,}, " if a.work.samples else ""
            cost = f"; {_images(a.images, a.identity_images)}" if a.images or a.identity_images else ""
            if self.costs is not None and (a.images or a.identity_images):
                cost += f", {duration(self.costs.seconds(a.images, a.identity_images))}"
            out.append(f"  {a.name:{width}}  {m}{a.work.detail}{cost}")
        total = f"  total: {_images(self.images, self.identity_images) or 'no images'}"
        if self.costs is not None and self.seconds:
            each = f"{self.costs.image * 1000:.1f} ms per image"
            if self.costs.identity is not None:
                each += f", {self.costs.identity * 1000:.0f} ms per identity descriptor"
            total += f"; estimate {duration(self.seconds)} ({each}, measured on {plural(self.costs.rows, 'row')})"
        return [*out, total]

    def text(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict:
        """For analysis.json."""
        return {
            "images": self.images,
            "identity_images": self.identity_images,
            "estimated_seconds": self.seconds,
            "analyses": {a.name: {"samples": a.work.samples, "directions": a.work.directions, "images": a.images,
                                  "identity_images": a.identity_images, "detail": a.work.detail}
                         for a in self.analyses if a.work is not None},
        }  # fmt: skip


def _images(images: int, identity_images: int) -> str:
    parts = [f"{plural(images, 'image')} to synthesize and score"] if images else []
    if identity_images:
        parts.append(f"{plural(identity_images, 'identity descriptor')}")
    return ", ".join(parts)


def duration(seconds: float) -> str:
    """'about 40 s', 'about 4 min', 'about 1.5 h'."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def make_plan(ctx: AnalysisContext, analyses: list[Analysis], estimate: bool = True) -> AnalysisPlan:
    """The plan of running `analyses` on `ctx`; with `estimate`, per-image costs are measured on the run."""
    planned, seen, baselines = [], set(), {}
    for analysis in analyses:
        reason = analysis.skip_reason(ctx)
        if reason:
            planned.append(PlannedAnalysis(analysis.name, skipped=reason))
            continue
        work = analysis.work(ctx)
        entry = PlannedAnalysis(analysis.name, work, images=work.images, identity_images=work.identity_images)
        for key, (images, identity_images) in work.shared.items():
            if key not in seen:
                seen.add(key)
                entry.images += images
                entry.identity_images += identity_images
        for space, rows in work.baselines.items():
            baselines.setdefault(space, entry)  # the first analysis that needs a space's unedited scores makes them
            ctx.reserved_rows[space] = max(ctx.reserved_rows.get(space, 0), rows)
        planned.append(entry)
    for space, entry in baselines.items():
        entry.images += ctx.reserved_rows[space]
    uses_scorers = any(a.images for a in planned)
    identity = ctx.identity_scorer if any(a.identity_images for a in planned) else None
    # boundaries are resolved (perhaps trained) only when an analysis that will run reads them
    needs = any(a.needs_boundaries and p.work is not None for a, p in zip(analyses, planned))
    plan = AnalysisPlan(str(ctx.store.path), ctx.store.num, planned, ctx.boundary_set.describe() if needs
                        else "not needed", [f"{s.name} v{s.version}" for s in ctx.scorers] if uses_scorers else [],
                        f"{identity.name} v{identity.version}" if identity is not None else None)  # fmt: skip
    if estimate and (plan.images or plan.identity_images):
        plan.costs = measure_costs(ctx, plan.images, plan.identity_images)
    return plan


def measure_costs(ctx: AnalysisContext, images: int, identity_images: int) -> Costs:
    """Seconds per image to synthesize and score (one batch of `settings.batch_size` rows of the run), and to
    synthesize and describe identity (IDENTITY_ROWS rows), each timed after a warm-up that loads the models.
    Small work is timed on fewer rows (a twentieth of it), so the measurement never costs much of the work."""
    from interfacegan.analysis.identity import edited_features
    from interfacegan.rescoring.rescore import rescore

    space = ctx.spaces[0] if ctx.spaces else ctx.store.spaces[0]
    batch = ctx.settings.batch_size
    source = ctx.source(space, WARM_UP_ROWS + min(batch, max(WARM_UP_ROWS, images // 20)))
    codes = source.read(0, source.num)
    warm, timed_codes = (codes[:WARM_UP_ROWS], codes[WARM_UP_ROWS:]) if len(codes) > WARM_UP_ROWS else (codes, codes)
    zero = np.zeros(ctx.model.space_shape(space), np.float32)
    truncation = source.synthesis_truncation()

    def timed(fn, scorer, warm: np.ndarray, rows: np.ndarray) -> float:
        fn(ctx.model, warm, space, zero, [0.0], scorer, batch_size=batch, truncation=truncation)
        start = time.perf_counter()
        fn(ctx.model, rows, space, zero, [0.0], scorer, batch_size=batch, truncation=truncation)
        return (time.perf_counter() - start) / len(rows)

    image = timed(rescore, ctx.scorers, warm, timed_codes) if ctx.scorers and images else 0.0
    described = None
    if identity_images:
        rows = timed_codes[: min(IDENTITY_ROWS, max(2, identity_images // 20))]
        described = timed(edited_features, ctx.identity_scorer, warm[:2], rows)
    return Costs(image, described, len(timed_codes))
