"""Entanglement measures of the paper (Sec. 4.3.1, Tab. 1/2): attribute correlation of synthesized or real data
(Pearson) and boundary correlation (cosine between unit normals).

For z ~ N(0, I) and linear scores s_i = l_i n_i^T z, corr(s_i, s_j) = n_i^T n_j exactly (paper Eq. 5), so the
two matrices agree when the attributes are linear in the latent code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from interfacegan.errors import InterfaceGANError


def pearson_matrix(columns: dict[str, np.ndarray], min_rows: int = 3) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pearson correlation (k, k) of k score columns (each (N,)), using for each pair the rows where both are
    finite (NaN = the scorer could not tell); also returns those pair counts (k, k). NaN where a column is constant."""
    names = list(columns)
    if not names:
        raise InterfaceGANError("no attribute scores to correlate: score the run first (`interfacegan score`)")
    data = np.stack([np.asarray(columns[n], dtype=np.float64).reshape(-1) for n in names], axis=1)  # (N, k)
    finite = np.isfinite(data)
    k = len(names)
    corr = np.full((k, k), np.nan)
    counts = np.zeros((k, k), dtype=np.int64)
    for i in range(k):
        for j in range(i, k):
            rows = finite[:, i] & finite[:, j]
            counts[i, j] = counts[j, i] = int(rows.sum())
            if counts[i, j] < min_rows:
                continue
            a, b = data[rows, i], data[rows, j]
            a, b = a - a.mean(), b - b.mean()
            denom = np.sqrt((a * a).sum() * (b * b).sum())
            if denom > 0:
                corr[i, j] = corr[j, i] = float(np.clip((a * b).sum() / denom, -1.0, 1.0))
    return names, corr, counts


def cosine_matrix(normals: np.ndarray) -> np.ndarray:
    """Cosine similarity (k, k) between k directions (k, d) (normalised here, so any length works)."""
    normals = np.asarray(normals, dtype=np.float64).reshape(len(normals), -1)
    norms = np.linalg.norm(normals, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise InterfaceGANError("a boundary normal is all zeros: retrain or re-export that boundary")
    unit = normals / norms
    return np.clip(unit @ unit.T, -1.0, 1.0)


def load_real_scores(path: str | Path) -> dict[str, np.ndarray]:
    """Attribute scores of a real data set: a CSV with a header of attribute names (non-numeric columns such as
    file names are skipped, empty cells are NaN), or a sample store whose scores are used."""
    path = Path(path)
    if path.is_dir():
        from interfacegan.store import SampleStore

        return SampleStore.open(path, mode="r").scores()
    if not path.is_file():
        raise InterfaceGANError(f"real-data scores {path} do not exist: give a CSV (header = attribute names) or a run")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(line for line in handle if not line.startswith("#"))]
    if len(rows) < 2:
        raise InterfaceGANError(f"{path} has no data rows: expected a header of attribute names and one row per image")
    header, body = rows[0], rows[1:]
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        try:
            values = np.array([float(r[j]) if j < len(r) and r[j].strip() else np.nan for r in body])
        except ValueError:
            continue  # a text column (file names, ids)
        if np.isinf(values).any():  # 'inf' parses as a number but is no score; it was dropped like an empty cell
            row = int(np.flatnonzero(np.isinf(values))[0]) + 1
            raise InterfaceGANError(f"{path}: column {name.strip()!r} holds inf (data row {row}): leave the cell empty "
                                    "(or write nan) for an image without a score")  # fmt: skip
        columns[name.strip()] = values
    if not columns:
        raise InterfaceGANError(f"{path} has no numeric columns: expected one column of scores per attribute")
    return columns
