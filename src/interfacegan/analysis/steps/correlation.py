"""Attribute correlation (paper Tab. 1a/1b, 2a/2b): Pearson correlation of the attribute scores of the
synthesized samples and, when given, of real data."""

from __future__ import annotations

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.correlation import load_real_scores, pearson_matrix
from interfacegan.analysis.tables import matrix_table
from interfacegan.report import plural

UNIT = "Pearson correlation"


class AttributeCorrelation(Analysis):
    name = "correlation"
    title = "Attribute correlation (paper Tab. 1a/1b, 2a/2b)"
    description = "Pearson correlation of attribute scores, synthesized and real data (paper Tab. 1a/1b)."
    intro = ("Pearson correlation between attribute scores of the synthesized samples (all rows of the run; each "
             "pair over the rows where both scores exist) and, when given, of real data.")  # fmt: skip
    needs_boundaries = False

    def skip_reason(self, ctx) -> str:
        return "" if len(ctx.attributes) >= 2 else "attribute correlation needs at least two scored attributes"

    def work(self, ctx) -> Work:
        return Work(detail=f"{plural(len(ctx.attributes), 'attribute')} over {plural(ctx.store.num, 'sample')}; "
                           "no images")  # fmt: skip

    def run(self, ctx, out) -> None:
        names, corr, counts = ctx.attribute_correlation
        notes = [f"{plural(ctx.store.num, 'synthesized sample')}; pairs use between {counts.min()} and "
                 f"{counts.max()} samples",
                 "for z ~ N(0, I) and scores linear in z, corr(s_i, s_j) = n_i . n_j (paper Eq. 5)"]  # fmt: skip
        out.table(matrix_table("correlation_synthesized", "Attribute correlation of synthesized data", names, names,
                               corr, notes=notes))  # fmt: skip
        out.plot(plots.heatmap(corr, names, names, "synthesized data", UNIT, vmax=1.0), "correlation_synthesized",
                 "attribute correlation of synthesized data")  # fmt: skip
        real_scores = ctx.inputs.real_scores
        if real_scores is None:
            out.note("real-data correlation: not computed (give `real_scores`: a CSV with one column per attribute)")
            return
        real = real_scores if isinstance(real_scores, dict) else load_real_scores(real_scores)
        common = [a for a in names if a in real]
        if len(common) < 2:
            out.note(f"real-data scores share fewer than two attributes with the run ({', '.join(real)}): skipped")
            return
        rnames, rcorr, rcounts = pearson_matrix({a: real[a] for a in common})
        out.table(matrix_table("correlation_real", "Attribute correlation of real data", rnames, rnames, rcorr,
                               notes=[plural(int(rcounts.max()), "real sample")]))  # fmt: skip
        out.plot(plots.heatmap(rcorr, rnames, rnames, "real data", UNIT, vmax=1.0), "correlation_real",
                 "attribute correlation of real data")  # fmt: skip
