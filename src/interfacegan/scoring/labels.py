"""Human labels as scores (spec `csv:PATH.csv`): a CSV keyed by sample index, one column per attribute.

    index,smiling,age
    0,1,34
    1,0,
    5,1,61

Rows absent from the file and empty cells are NaN (unlabelled); boundaries train on the labelled rows only.
No images are needed: `score(None, indices)` looks the rows up.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from pathlib import Path

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring.base import Scorer

INDEX_COLUMN = "index"


class LabelScorer(Scorer):
    """Looks sample indices up in a label CSV (see module docstring)."""

    needs_images = False

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise InterfaceGANError(f"label file {self.path} not found: pass csv:PATH to an existing CSV file")
        data = self.path.read_bytes()
        self.version = "1+" + hashlib.sha256(data).hexdigest()[:12]
        self.name = name or "labels-" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.path.stem)
        self.columns, self.index, self.values = self._parse(data)

    def _parse(self, data: bytes) -> tuple[list[str], np.ndarray, np.ndarray]:
        """-> attribute names, sorted sample indices (M,), labels (M, A) float32 with NaN for empty cells."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InterfaceGANError(f"{self.path} is not UTF-8 text: save the labels as a UTF-8 CSV") from None
        rows = csv.reader(text.splitlines())
        header = [h.strip() for h in next(rows, [])]
        if INDEX_COLUMN not in header:
            raise InterfaceGANError(f"{self.path} has no {INDEX_COLUMN!r} column: add one holding each sample's index")
        columns = [h for h in header if h != INDEX_COLUMN]
        if not columns or not all(columns) or len(set(header)) != len(header):
            raise InterfaceGANError(f"{self.path} header {header}: give each attribute column a distinct name")
        where = header.index(INDEX_COLUMN)
        keep = [k for k in range(len(header)) if k != where]
        indices, values, seen = [], [], {}
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(header):
                raise InterfaceGANError(f"{self.path} line {line} has {len(row)} cells, the header {len(header)}")
            index = _parse_index(row[where], self.path, line)
            if index in seen:
                raise InterfaceGANError(
                    f"{self.path} line {line} repeats index {index} (first on line {seen[index]}): "
                    "keep one row per sample"
                )
            seen[index] = line
            indices.append(index)
            values.append([_parse_value(row[k], header[k], self.path, line) for k in keep])
        order = np.argsort(indices, kind="stable")
        index = np.asarray(indices, dtype=np.int64)[order]
        table = np.asarray(values, dtype=np.float32).reshape(len(indices), len(columns))[order]
        return columns, index, table

    @property
    def outputs(self) -> dict[str, tuple[int, ...]]:
        return {name: () for name in self.columns}

    def score(self, images: np.ndarray | None = None, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        if indices is None:
            raise InterfaceGANError(f"scorer {self.name!r} looks labels up by sample index: pass indices")
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise InterfaceGANError(f"scorer {self.name!r} needs a 1-d array of integer sample indices")
        out = np.full((len(indices), len(self.columns)), np.nan, np.float32)
        if len(self.index):
            pos = np.minimum(np.searchsorted(self.index, indices), len(self.index) - 1)
            found = self.index[pos] == indices
            out[found] = self.values[pos[found]]
        return {name: out[:, k].copy() for k, name in enumerate(self.columns)}

    @property
    def labelled(self) -> np.ndarray:
        """Sample indices (M,) that have a row in the file, sorted."""
        return self.index.copy()


def _parse_index(cell: str, path: Path, line: int) -> int:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise InterfaceGANError(f"{path} line {line}: index {cell!r} is not a non-negative integer sample index")
    return int(value)


def _parse_value(cell: str, column: str, path: Path, line: int) -> float:
    text = cell.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise InterfaceGANError(
            f"{path} line {line}, column {column!r}: {cell!r} is not a number (leave the cell empty if unlabelled)"
        ) from None
