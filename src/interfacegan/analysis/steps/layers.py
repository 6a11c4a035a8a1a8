"""Layer-wise re-scoring (paper Tab. 4): W boundaries applied to chosen W+ layer groups only; each cell is the
normalised change of the edited attribute itself."""

from __future__ import annotations

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.steps.shared import CHANGE_UNIT, alpha_note, samples_note
from interfacegan.analysis.tables import matrix_table
from interfacegan.report import plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION


class LayerwiseRescoring(Analysis):
    name = "layers"
    title = "Layer-wise re-scoring (paper Tab. 4)"
    description = "Layer-wise re-scoring over W+ layer groups of style-based models (paper Tab. 4)."
    intro = ("W boundaries applied to chosen W+ layers only; each cell is the normalised change of the edited "
             "attribute itself. Layers that carry an attribute show large values.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        if not ctx.scorers:
            return ctx.no_scorer
        if "wp" not in ctx.model.spaces or not ctx.model.num_ws:
            return f"model {ctx.model.name!r} has no W+ space: layer-wise analysis is for style-based generators"
        if not ctx.supervised("w"):
            return "layer-wise analysis needs boundaries in W (sample the run with space w, or give W boundaries)"
        return ""

    def work(self, ctx) -> Work:
        m, n = ctx.rows(ctx.settings.num_rescore), len(ctx.layer_edits())
        return Work(samples=m, directions=n, images=m * n, baselines={"wp": m},
                    detail=f"{plural(len(ctx.supervised('w')), 'W boundary', 'W boundaries')} x "
                           f"{plural(len(ctx.layer_groups) + 1, 'layer group')} (all, {', '.join(ctx.layer_groups)})")  # fmt: skip

    def run(self, ctx, out) -> None:
        groups = ["all", *ctx.layer_groups]
        edits = ctx.layer_edits()
        result = ctx.rescore_edits("wp", edits, "layer-wise re-scoring")
        names = [b.attribute for b in ctx.supervised("w")]
        values = np.full((len(names), len(groups)), np.nan)
        for i in range(len(edits)):
            j = result.target(i)
            if j is not None:
                values[i // len(groups), i % len(groups)] = result.change[i, j]
        out.table(matrix_table("layers_rescoring", "Normalised change of the edited attribute per layer group",
                               names, groups, values, corner="attribute \\ layers",
                               notes=[CHANGE_DEFINITION, alpha_note(ctx.settings), samples_note(result.num)]))  # fmt: skip
        out.plot(plots.heatmap(values, names, groups, "layer-wise re-scoring", CHANGE_UNIT), "layers_rescoring",
                 "normalised change of the edited attribute when only these W+ layers move")  # fmt: skip
