"""A result table that is written once as CSV and shown as-is in the HTML report (same rows, same numbers).

CSV layout: optional `# note` lines (definitions such as the normalised score change), one header line, then
rows; floats are written exactly (shortest round-trip repr), NaN as an empty cell. The report shows the same
cells rounded to `digits` decimals (or a column's format spec, e.g. '.2e' for tiny probabilities), so every
number of the report can be traced to its CSV.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from interfacegan.atomic import write_text_atomic


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


@dataclass
class Table:
    """Named rows of one analysis: `header` (column names), `rows` (lists of str/int/float cells)."""

    name: str  # file stem, e.g. 'rescoring_z'
    title: str
    header: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    digits: int = 3
    label_columns: int = 1
    formats: dict[str, str] = field(default_factory=dict)  # column name -> format spec for the report

    def __post_init__(self):
        # Booleans read 'yes'/'no' in both the CSV and the report.
        self.rows = [["yes" if v is True or v is np.True_ else "no" if v is False or v is np.False_ else v for v in row]
                     for row in self.rows]  # fmt: skip

    def csv_text(self) -> str:
        buffer = io.StringIO()
        for note in self.notes:
            buffer.write(f"# {note}\n")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        for row in self.rows:
            writer.writerow([_cell(v) for v in row])
        return buffer.getvalue()

    def write_csv(self, out_dir: str | Path) -> Path:
        """Write `<out_dir>/<name>.csv` atomically and return its path."""
        return write_text_atomic(Path(out_dir) / f"{self.name}.csv", self.csv_text())

    def column(self, name: str) -> list[Any]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]

    def matrix(self) -> np.ndarray:
        """The numeric cells (rows x non-label columns) as float64, NaN for empty or text cells."""
        out = np.full((len(self.rows), len(self.header) - self.label_columns), np.nan)
        for i, row in enumerate(self.rows):
            for j, value in enumerate(row[self.label_columns :]):
                if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                    out[i, j] = float(value)
        return out

    def column_formats(self) -> list[str | None]:
        return [self.formats.get(h) for h in self.header]

    def add_to(self, report) -> None:
        """Add this table (title as caption, notes below) to an `interfacegan.report.Report`."""
        report.table(self.header, self.rows, digits=self.digits, caption=self.title, label_columns=self.label_columns,
                     formats=self.column_formats())  # fmt: skip
        for note in self.notes:
            report.text(note, note=True)


def read_csv(path: str | Path) -> tuple[list[str], list[str], list[list[str]]]:
    """(notes, header, rows of strings) of a CSV written by `Table.write_csv`."""
    notes, lines = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        (notes if line.startswith("# ") else lines).append(line[2:] if line.startswith("# ") else line)
    rows = list(csv.reader(lines))
    return notes, rows[0], rows[1:]


def matrix_table(
    name: str,
    title: str,
    row_labels: list[str],
    col_labels: list[str],
    values: np.ndarray,
    corner: str = "",
    notes: list[str] | None = None,
    digits: int = 3,
) -> Table:
    """A labelled matrix (len(row_labels), len(col_labels)) as a Table whose first column holds the row labels."""
    values = np.asarray(values, dtype=np.float64)
    rows = [[label, *map(float, values[i])] for i, label in enumerate(row_labels)]
    return Table(name, title, [corner, *col_labels], rows, notes=list(notes or []), digits=digits)
