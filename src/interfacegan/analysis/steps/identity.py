"""Identity discrepancy (paper Tab. 5): cosine distance between identity descriptors of each image before and
after the edit along each boundary (per space) and, for style-based models, along W boundaries on W+ layer groups."""

from __future__ import annotations

import math

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import space_name
from interfacegan.analysis.steps.shared import alpha_note, samples_note
from interfacegan.analysis.tables import matrix_table
from interfacegan.report import plural


class IdentityDiscrepancy(Analysis):
    name = "identity"
    title = "Identity discrepancy (paper Tab. 5)"
    description = "Identity cosine distance before/after each edit (paper Tab. 5)."
    intro = ("Cosine distance between identity descriptors of each image before and after the edit, averaged over "
             "samples (0 = same face; larger = less similar).")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        return "" if ctx.identity_scorer is not None else ctx.no_identity

    def work(self, ctx) -> Work:
        m = ctx.rows(ctx.settings.num_identity)
        work = Work(samples=m, shared=dict(ctx.identity_before_work))
        for space in ctx.spaces:
            work.shared.update(ctx.identity_work(space))
            work.directions += len(ctx.supervised(space))
        if ctx.has_layers:
            work.directions += len(ctx.layer_edits())
            work.identity_images += m * len(ctx.layer_edits())
        alphas = ", ".join(f"{a:g}" for a in ctx.settings.identity_alphas)
        work.detail = f"{plural(work.directions, 'edit')} at alphas {alphas} (the table shows alpha)"
        return work

    def run(self, ctx, out) -> None:
        alpha = ctx.settings.alpha
        names = list(dict.fromkeys(b.attribute for b in ctx.supervised()))
        columns, values, counts = [], [], []
        for space in ctx.spaces:
            result = ctx.identity(space)
            s = result.alphas.index(alpha)
            lookup = {e.attribute: (result.distance[i, s], result.valid[i, s]) for i, e in enumerate(result.edits)}
            columns.append(space_name(space))
            values.append([lookup.get(a, (math.nan, 0))[0] for a in names])
            counts += [v[1] for v in lookup.values()]
        if ctx.has_layers:
            groups = ["all", *ctx.layer_groups]
            edits = ctx.layer_edits()
            result = ctx.identity_distances("wp", edits, [alpha])
            for g_i, g in enumerate(groups):
                lookup = {edits[i].attribute: result.distance[i, 0] for i in range(g_i, len(edits), len(groups))}
                columns.append(f"W+ {g}")
                values.append([lookup.get(a, math.nan) for a in names])
        matrix = np.array(values, dtype=np.float64).T
        measured = f"{min(counts)}-{max(counts)}" if counts else "0"
        notes = [alpha_note(ctx.settings), f"{samples_note(ctx.rows(ctx.settings.num_identity))}; faces measured "
                 f"before and after: {measured}", "cosine distance = 1 - cos(descriptor before, descriptor after)"]  # fmt: skip
        out.table(matrix_table("identity", "Identity discrepancy (cosine distance)", names, columns, matrix,
                               corner="attribute", notes=notes))  # fmt: skip
        series = {c: matrix[:, k] for k, c in enumerate(columns)}
        out.plot(plots.grouped_bars(names, series, "Identity discrepancy", "cosine distance"), "identity",
                 "identity cosine distance after each edit")  # fmt: skip
