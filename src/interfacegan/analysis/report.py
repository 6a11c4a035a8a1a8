"""The analysis report: one self-contained HTML page with the run and settings as readable text, every table (the
same cells as the CSV files) and every plot of an `analyze_run`, section by section, built with the generic
`interfacegan.report.Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interfacegan.analysis.tables import Table
from interfacegan.report import Report, plural

if TYPE_CHECKING:
    from interfacegan.analysis.context import AnalysisContext
    from interfacegan.analysis.plan import AnalysisPlan


@dataclass
class Section:
    """One analysis in the report: an introduction, then tables, images and notes in the order added."""

    key: str
    title: str
    intro: str = ""
    items: list[tuple[str, Any]] = field(default_factory=list)

    def table(self, table: Table) -> None:
        self.items.append(("table", table))

    def image(self, path: Path, caption: str) -> None:
        self.items.append(("image", (path, caption)))

    def note(self, text: str) -> None:
        self.items.append(("note", text))


def build_report(title: str, overview: list[tuple[str, str]], sections: list[Section], skipped: dict[str, str]) -> Report:
    """A Report with an overview table (setting, value), a contents list, the sections and the skipped analyses."""
    report = Report(title, subtitle="InterFaceGAN analysis: every number below is also in the CSV file named in its caption.")
    report.heading("Run and settings", anchor="overview")
    report.table(["setting", "value"], overview, label_columns=2)
    add_sections(report, sections, skipped)
    return report


def add_sections(report: Report, sections: list[Section], skipped: dict[str, str]) -> Report:
    """Append a contents line, every section and the skipped analyses to `report` (also used by the demo)."""
    if sections:
        report.text("Contents: " + " · ".join(s.title for s in sections))
    for section in sections:
        report.heading(section.title, anchor=section.key)
        if section.intro:
            report.text(section.intro)
        for kind, item in section.items:
            if kind == "table":
                item.add_to(report)
                report.text(f"file: {item.name}.csv", note=True)
            elif kind == "image":
                path, caption = item
                report.image(path, caption=f"{caption} ({Path(path).name}; click to open full size)")
            else:
                report.text(item, note=True)
    if skipped:
        report.heading("Analyses not run", anchor="skipped")
        report.table(["analysis", "reason"], sorted(skipped.items()), label_columns=2)
    return report


def truncation_text(truncation) -> str:
    """'none (psi 1)', 'psi 0.7 on all layers' or 'psi 0.7 on the first 8 W+ layers'."""
    if not truncation.active:
        return "none (psi 1)"
    where = "all layers" if truncation.cutoff is None else f"the first {plural(truncation.cutoff, 'W+ layer')}"
    return f"psi {truncation.psi:g} on {where}"


def conditions_text(conditions, threshold: float) -> str:
    """The conditional directions asked for, as a sentence."""
    parts = []
    for item in conditions:
        if item == "auto":
            parts.append(f"auto (each boundary conditioned on the other boundary with the largest |cosine|, when "
                         f"it is at least {threshold:g})")  # fmt: skip
        elif item not in ("none", ""):
            primal, _, rest = item.partition("|")
            parts.append(f"{primal.strip()} given {rest.replace(',', ', ')}")
    return "; ".join(parts) or "none"


def overview(ctx: AnalysisContext, plan: AnalysisPlan, seconds: dict[str, float]) -> list[tuple[str, str]]:
    """(setting, value) rows for the top of the report: plain sentences, no Python values."""
    from interfacegan.analysis.context import space_name
    from interfacegan.analysis.plan import duration
    from interfacegan.rescoring.matrix import CHANGE_DEFINITION

    s = ctx.settings
    layers = f", style layers {s.sefa_layers}" if s.sefa_layers else ""
    largest = max(s.num_rescore, s.num_identity, s.num_distance)
    capped = f" (each at most the run's {ctx.store.num})" if largest > ctx.store.num else ""
    work = (f"{plural(plan.images, 'image')} synthesized and scored, "
            f"{plural(plan.identity_images, 'identity descriptor')}")  # fmt: skip
    if plan.seconds:
        work += f" (estimated {duration(plan.seconds)} beforehand)"
    return [
        ("run", str(ctx.store.path)),
        ("model", ctx.model.spec or ctx.model.name),
        ("samples in the run", str(ctx.store.num)),
        ("latent spaces of the run", ", ".join(space_name(x) for x in ctx.store.spaces)),
        ("truncation", truncation_text(ctx.store.truncation)),
        ("attributes", ", ".join(ctx.attributes) or "none"),
        ("scorers for re-scoring", ", ".join(plan.scorers) or "none"),
        ("identity scorer", plan.identity or "none"),
        ("boundaries", plan.boundaries),
        ("M re-scoring / identity / distance", f"{s.num_rescore} / {s.num_identity} / {s.num_distance} samples" + capped),
        ("alpha; distance sweep", f"{s.alpha:g}; {', '.join(f'{a:g}' for a in s.sweep)}"),
        ("conditions", conditions_text(s.conditions, s.condition_threshold)),
        ("SeFa and GANSpace directions matched", f"the top {s.sefa_k} of each{layers}; GANSpace's PCA on "
                                                 f"{s.ganspace_num:,} samples"),
        ("normalised score change", CHANGE_DEFINITION),
        ("work done", work),
        ("seconds", ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())),
    ]
