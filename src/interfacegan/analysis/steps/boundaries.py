"""Boundary correlation (paper Tab. 1c, 2c/2d): cosine between the unit normals of the boundaries of each space,
beside the attribute correlation of the same pairs (computed here on demand when the correlation analysis did
not run)."""

from __future__ import annotations

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import space_name
from interfacegan.analysis.tables import Table, matrix_table
from interfacegan.report import plural

UNIT = "cosine of the unit normals"


class BoundaryCorrelation(Analysis):
    name = "boundaries"
    title = "Boundary correlation (paper Tab. 1c, 2c/2d)"
    description = "Cosine matrix between boundary normals (paper Tab. 1c, 2c/2d)."
    intro = ("Cosine similarity n_i . n_j between the unit normals of the boundaries, per latent space. Non-zero "
             "entries are entangled semantics; conditional manipulation removes them.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        if not any(len(ctx.supervised(s)) >= 2 for s in ctx.spaces):
            return "boundary correlation needs at least two boundaries in one latent space"
        return ""

    def work(self, ctx) -> Work:
        n = len(ctx.supervised())
        return Work(directions=n, detail=f"{plural(n, 'boundary', 'boundaries')}; no images")

    def run(self, ctx, out) -> None:
        pair_rows = []
        for space in ctx.spaces:
            if len(ctx.supervised(space)) < 2:
                continue
            names, cos = ctx.boundary_cosines(space)
            out.table(matrix_table(f"boundary_cosine_{space}", f"Boundary cosine in {space_name(space)}", names,
                                   names, cos))  # fmt: skip
            out.plot(plots.heatmap(cos, names, names, f"boundary cosine ({space_name(space)})", UNIT, vmax=1.0),
                     f"boundary_cosine_{space}", f"cosine between boundary normals in {space_name(space)}")  # fmt: skip
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    pair_rows.append([f"{names[i]} / {names[j]}", space_name(space), float(cos[i, j]),
                                      ctx.attribute_correlation.pair(names[i], names[j])])  # fmt: skip
        if pair_rows:
            out.table(Table("correlation_vs_cosine", "Boundary cosine beside the attribute correlation",
                            ["pair", "space", "boundary cosine", "attribute correlation (synthesized)"], pair_rows,
                            label_columns=2))  # fmt: skip
