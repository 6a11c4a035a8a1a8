"""The analysis report: one self-contained HTML page with every table (the same cells as the CSV files) and every
plot of an `analyze_run`, section by section, built with the generic `interfacegan.report.Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interfacegan.analysis.tables import Table
from interfacegan.report import Report


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
                report.image(path, caption=f"{caption} ({Path(path).name})")
            else:
                report.text(item, note=True)
    if skipped:
        report.heading("Analyses not run", anchor="skipped")
        report.table(["analysis", "reason"], sorted(skipped.items()), label_columns=2)
    return report
