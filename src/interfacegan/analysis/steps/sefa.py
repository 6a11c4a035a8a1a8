"""SeFa vs. InterFaceGAN (SeFa paper Tab. 2): for each supervised boundary, the closed-form SeFa direction with
the largest |cosine| (signed to point the same way), and both re-scored on the same samples."""

from __future__ import annotations

import math

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import space_name
from interfacegan.analysis.steps.shared import CHANGE_UNIT, alpha_note, change_heatmap, change_table, samples_note
from interfacegan.analysis.tables import Table
from interfacegan.report import plural
from interfacegan.rescoring.matrix import Edit, RescoringResult, reorder

MATCH_HEADER = ["attribute", "SeFa direction", "eigen rank", "eigenvalue", "cosine", "InterFaceGAN target change",
                "SeFa target change"]  # fmt: skip


class SefaComparison(Analysis):
    name = "sefa"
    title = "SeFa vs. InterFaceGAN (SeFa paper Tab. 2)"
    description = "Re-scoring of the SeFa directions best matching each boundary (SeFa paper Tab. 2)."
    intro = ("For each supervised boundary, the closed-form (SeFa) direction with the largest |cosine|, signed to "
             "point the same way; then both are re-scored on the same samples.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        space = ctx.model.affine_space
        if not ctx.supervised(space):
            return f"SeFa directions live in {space_name(space)}: there are no supervised boundaries in that space"
        return ""

    def work(self, ctx) -> Work:
        space = ctx.model.affine_space
        directions, matches = ctx.sefa_matches
        unique = len({(m.index, m.sign) for m in matches})
        detail = f"top {plural(len(directions), 'SeFa direction')}: {unique} matched"
        if not ctx.scorers or not unique:
            why = f" ({ctx.no_scorer})" if unique else ""
            return Work(directions=unique, detail=f"{detail}; no re-scoring{why}")
        m = ctx.rows(ctx.settings.num_rescore)
        return Work(samples=m, directions=unique, images=m * unique, shared=ctx.rescoring_work(space),
                    baselines={self._source_space(ctx): m, space: m}, detail=detail)  # fmt: skip

    @staticmethod
    def _layers(ctx) -> str | None:
        """SeFa of chosen style layers edits those W+ layers only (as the SeFa paper does); else the whole code."""
        return ctx.settings.sefa_layers if ctx.settings.sefa_layers and "wp" in ctx.model.spaces else None

    def _source_space(self, ctx) -> str:
        return "wp" if self._layers(ctx) else ctx.model.affine_space

    def run(self, ctx, out) -> None:
        space = ctx.model.affine_space
        directions, matches = ctx.sefa_matches
        if not matches:
            out.note("no SeFa direction has the dimension of the supervised boundaries")
            return
        sup = ctx.rescoring(space) if ctx.scorers else None
        sefa = self._rescore(ctx, matches, sup) if sup is not None else None
        rows = []
        for i, mt in enumerate(matches):
            sup_t = sefa_t = math.nan
            if sup is not None and mt.attribute in sup.attributes:
                j = sup.attributes.index(mt.attribute)
                sup_t, sefa_t = float(sup.change[sup.labels.index(mt.attribute), j]), float(sefa.change[i, j])
            rows.append([mt.attribute, mt.label, mt.index, mt.eigenvalue, mt.cosine, sup_t, sefa_t])
        layers = f", layers {ctx.settings.sefa_layers}" if ctx.settings.sefa_layers else ""
        out.table(Table("sefa_match", f"Best-matching SeFa direction per boundary ({space_name(space)})",
                        MATCH_HEADER, rows,
                        notes=[f"top {plural(len(directions), 'SeFa direction')} of {ctx.model.name!r}{layers}",
                               "two attributes may match the same SeFa direction"]))  # fmt: skip
        if sefa is None:
            out.note(f"re-scoring of the SeFa directions: not run ({ctx.no_scorer})")
            return
        notes = [alpha_note(ctx.settings), f"{samples_note(sefa.num)}, the same as the InterFaceGAN matrix"]
        out.table(change_table(f"sefa_rescoring_{space}", f"Re-scoring of the matched SeFa directions "
                               f"({space_name(space)})", sefa, notes))  # fmt: skip
        out.plot(plots.heatmap(sup.change, sup.labels, sup.attributes, "InterFaceGAN (supervised)", CHANGE_UNIT),
                 f"sefa_vs_interfacegan_{space}_supervised", "InterFaceGAN re-scoring (same as above)")  # fmt: skip
        change_heatmap(out, sefa, f"sefa_vs_interfacegan_{space}_sefa", "SeFa (unsupervised)",
                       "re-scoring of the best-matching SeFa directions")  # fmt: skip

    def _rescore(self, ctx, matches, sup: RescoringResult) -> RescoringResult:
        """Re-score each distinct matched direction once (one progress bar per direction, named after it), then
        one row per match, columns as the InterFaceGAN matrix."""
        layers, src, space = self._layers(ctx), self._source_space(ctx), ctx.model.affine_space
        shape = ctx.supervised(space)[0].code_shape
        by_label: dict[str, RescoringResult] = {}
        for mt in matches:
            if mt.label in by_label:
                continue
            edit = Edit(mt.label, mt.direction if layers else mt.direction.reshape(shape), src, layers=layers,
                        kind="sefa")  # fmt: skip
            result = ctx.rescore_edits(src, [edit], f"SeFa re-scoring ({mt.label})")
            by_label[mt.label] = reorder(result, sup.attributes)
        picked = [by_label[mt.label] for mt in matches]

        def pick(attr):
            return np.concatenate([getattr(r, attr) for r in picked])

        edits = [Edit(f"{mt.attribute} ~ {mt.label}", mt.direction, space, attribute=mt.attribute, kind="sefa")
                 for mt in matches]  # fmt: skip
        first = picked[0]
        return RescoringResult(edits, first.attributes, first.alpha, first.num, pick("change"), pick("raw_change"),
                               pick("stderr"), pick("increased"), pick("valid"), first.std)  # fmt: skip
