"""PNG plots of the analyses: heatmaps with the value written in every cell, grouped bar charts and curves.

Figures are built with matplotlib's object API (no pyplot state, no display needed) and written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from interfacegan.atomic import atomic_path

DPI = 110


def save(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as PNG to `path` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    unit: str,
    symmetric: bool = True,
    digits: int = 2,
    vmax: float | None = None,
) -> Figure:
    """A matrix (rows, cols) as coloured cells with each value written in it (NaN cells stay blank); the colour
    bar is labelled with `unit`, what the values measure (e.g. 'cosine')."""
    values = np.asarray(values, dtype=np.float64)
    rows, cols = values.shape
    fig = Figure(figsize=(1.0 + 0.75 * max(cols, 2), 0.9 + 0.5 * max(rows, 2)), layout="tight")
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    scale = vmax if vmax is not None else (float(np.abs(finite).max()) if finite.size else 1.0) or 1.0
    if symmetric:
        image = ax.imshow(values, cmap="RdBu_r", vmin=-scale, vmax=scale)
    else:
        image = ax.imshow(values, cmap="viridis", vmin=float(finite.min()) if finite.size else 0, vmax=scale)
    ax.set_xticks(range(cols), labels=list(col_labels), rotation=40, ha="right")
    ax.set_yticks(range(rows), labels=list(row_labels))
    for i in range(rows):
        for j in range(cols):
            v = values[i, j]
            if math.isfinite(v):
                level = abs(v) / scale if symmetric else (v - image.norm.vmin) / max(scale - image.norm.vmin, 1e-12)
                dark = level > 0.6 if symmetric else level < 0.5
                ax.text(j, i, f"{v:.{digits}f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label(unit, fontsize=8)
    return fig


def grouped_bars(
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Bars for each group (x axis), one bar per series side by side, value printed on each bar."""
    fig = Figure(figsize=(1.5 + 0.4 * len(groups) * max(len(series), 1), 3.6), layout="tight")
    ax = fig.add_subplot()
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for k, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=np.float64)
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, np.nan_to_num(values), width, label=name)
        for bar, v in zip(bars, values):
            if math.isfinite(v):
                ax.annotate(f"{v:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_xticks(x, labels=list(groups), rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if ylim:
        ax.set_ylim(*ylim)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def curves(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    styles: dict[str, str] | None = None,
) -> Figure:
    """Lines y(x), one per series (NaN points are gaps)."""
    fig = Figure(figsize=(5.2, 3.6), layout="tight")
    ax = fig.add_subplot()
    for name, values in series.items():
        ax.plot(list(x), list(values), (styles or {}).get(name, "o-"), label=name, markersize=4)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def property2_figure(edges: np.ndarray, counts: dict[str, np.ndarray], dim: int, rebin: int = 4) -> Figure:
    """Left: empirical densities of |n^T z| (bins merged by `rebin`) against the half-normal density.
    Right: empirical tails P(|n^T z| > t) against the exact erfc(t/sqrt 2) and the paper's bound (log scale)."""
    from interfacegan.analysis.property2 import exact_tail, paper_bound

    fig = Figure(figsize=(10.0, 3.6), layout="tight")
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    coarse = edges[::rebin] if (len(edges) - 1) % rebin == 0 else edges
    factor = rebin if coarse is not edges else 1
    for name, c in counts.items():
        c = np.asarray(c, dtype=np.float64)
        total = max(c.sum(), 1.0)
        merged = c.reshape(-1, factor).sum(1)
        left.stairs(merged / total / np.diff(coarse), coarse, label=name)
        tail = (total - np.cumsum(c)) / total  # P(|x| > right edge of each bin)
        right.step(edges[1:], np.where(tail > 0, tail, np.nan), where="post", label=name)
    grid = np.linspace(edges[0], edges[-1], 300)
    left.plot(grid, 2 * np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi), "k--", label="exact half-normal")
    right.plot(grid, exact_tail(grid), "k--", label="exact erfc(t/sqrt 2)")
    right.plot(grid, paper_bound(grid, dim), "k:", label=f"paper bound (d={dim})")
    right.axhline(1e-6, color="grey", lw=0.8)
    right.set_yscale("log")
    right.set_ylim(1e-8, 1.5)
    left.set_xlabel("|n^T z|")
    left.set_ylabel("density")
    right.set_xlabel("t")
    right.set_ylabel("P(|n^T z| > t)")
    left.set_title("distance of sampled codes to each boundary", fontsize=10)
    right.set_title("tail probability (Property 2)", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
