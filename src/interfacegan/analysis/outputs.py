"""Where analyses write: `AnalysisResult` (what `analyze_run` wrote) and `SectionWriter` (one analysis' CSV
tables, PNG plots, images and notes, added to its report section in the order written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interfacegan.analysis.report import Section
from interfacegan.analysis.tables import Table
from interfacegan.directions.boundary import Boundary

if TYPE_CHECKING:
    from interfacegan.analysis.plan import AnalysisPlan


@dataclass
class AnalysisResult:
    """What `analyze_run` wrote: files, tables by name, the report, skipped analyses with their reasons, seconds
    per analysis, the boundaries analysed, the plan (work and estimate) and a summary for scripts."""

    out: Path
    files: list[Path] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    report: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    boundaries: list[Boundary] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)  # the report's sections, for reports that embed them
    settings: list[tuple[str, str]] = field(default_factory=list)  # the report's (setting, value) rows, as text
    plan: AnalysisPlan | None = None

    def relocate(self, stage: Path, out: Path) -> None:
        """Point every path written under `stage` (files, report, the sections' images) to its place under `out`,
        where `atomic.staged_dir` moved it."""

        def moved(path: Path) -> Path:
            return out / Path(path).relative_to(stage) if Path(path).is_relative_to(stage) else path

        self.files = [moved(p) for p in self.files]
        self.report = moved(self.report) if self.report is not None else None
        for section in self.sections:
            section.items = [(kind, (moved(item[0]), item[1]) if kind == "image" else item)
                             for kind, item in section.items]  # fmt: skip


class SectionWriter:
    """Writes one analysis' outputs under `out` (CSV, PNG), into its report `section` and `result`."""

    def __init__(self, section: Section, out: Path, result: AnalysisResult):
        self.section, self.out, self.result = section, out, result

    @property
    def summary(self) -> dict[str, Any]:
        """The analysis.json summary, which analyses may add numbers to."""
        return self.result.summary

    def table(self, table: Table) -> Table:
        """Write `table` as OUT/<name>.csv and show it in the section."""
        self.result.files.append(table.write_csv(self.out))
        self.result.tables[table.name] = table
        self.section.table(table)
        return table

    def plot(self, fig, stem: str, caption: str) -> Path:
        """Write a matplotlib figure as OUT/<stem>.png and show it in the section."""
        from interfacegan.analysis.plots import save

        return self.image(save(fig, self.out / f"{stem}.png"), caption)

    def image(self, path: Path, caption: str) -> Path:
        """Show an image file already written under OUT (e.g. an edit grid) in the section."""
        self.result.files.append(path)
        self.section.image(path, caption)
        return path

    def note(self, text: str) -> None:
        self.section.note(text)
