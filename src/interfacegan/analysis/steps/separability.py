"""Separability of the latent space (paper Fig. 3): accuracy of each boundary on its validation samples and on
the remaining ones, per attribute and space (from training, or evaluated on the run for foreign boundaries)."""

from __future__ import annotations

import math

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import space_name
from interfacegan.analysis.separability import separability_row
from interfacegan.analysis.tables import Table
from interfacegan.report import plural


class Separability(Analysis):
    name = "separability"
    title = "Separability of the latent space (paper Fig. 3)"
    description = "Boundary accuracy on validation and remaining samples, per attribute and space (paper Fig. 3)."
    intro = ("Accuracy of each linear boundary on its validation split (top/bottom samples held out from training) "
             "and on all remaining, less extreme samples labelled by the score threshold.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        return "" if ctx.supervised() else ctx.no_boundaries

    def work(self, ctx) -> Work:
        n = len(ctx.supervised())
        return Work(directions=n, detail=f"{plural(n, 'boundary', 'boundaries')}; no images")

    def run(self, ctx, out) -> None:
        rows = []
        for b in ctx.supervised():
            row = separability_row(ctx.store, b, ctx.settings.ratio)
            if row is not None:
                rows.append([row.attribute, space_name(row.space), row.val_accuracy, row.remaining_accuracy,
                             row.num_val, row.num_remaining, row.source])  # fmt: skip
        if not rows:
            out.note("no boundary has accuracies or scores on this run to evaluate")
            return
        out.table(Table("separability", "Classification accuracy of the boundaries",
                        ["attribute", "space", "validation accuracy", "remaining accuracy", "validation samples",
                         "remaining samples", "measured on"], rows, label_columns=2))  # fmt: skip
        attributes = list(dict.fromkeys(r[0] for r in rows))
        series = {}
        for space in dict.fromkeys(r[1] for r in rows):
            for col, what in ((2, "validation"), (3, "remaining")):
                lookup = {r[0]: r[col] for r in rows if r[1] == space}
                series[f"{space} {what}"] = [lookup.get(a, math.nan) for a in attributes]
        out.plot(plots.grouped_bars(attributes, series, "Separability", "accuracy", ylim=(0.4, 1.05)),
                 "separability", "validation and remaining accuracy per attribute and space")  # fmt: skip
