"""Distance effect (paper Fig. 6) and Property 2: the edited attribute's score and the identity distance as codes
move further along each boundary, one sample's strip of images, then how far the sampled codes lie from the
boundaries (Gaussian tails against the paper's bound)."""

from __future__ import annotations

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import boundary_edit, space_name
from interfacegan.analysis.distance import edit_strip, projection_stats, random_unit, target_curves
from interfacegan.analysis.property2 import HIST_EDGES, ROW_HEADER, exact_tail
from interfacegan.analysis.steps.shared import CHANGE_UNIT, samples_note
from interfacegan.analysis.tables import Table, matrix_table
from interfacegan.report import plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION


class DistanceEffect(Analysis):
    name = "distance"
    title = "Distance effect (paper Fig. 6) and Property 2"
    description = "Score and identity vs. alpha, and the distance distribution of sampled codes (Fig. 6, Property 2)."
    intro = ("Attribute score (normalised change of the edited attribute) and identity distance as codes move "
             "further along each boundary; then how far sampled codes lie from the boundaries.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        return "" if "z" in ctx.store.spaces or ctx.supervised() else "the run has no z codes and no boundaries"

    def work(self, ctx) -> Work:
        m, sweep = ctx.rows(ctx.settings.num_distance), len(ctx.settings.sweep)
        work = Work(samples=m if ctx.scorers else 0)
        if ctx.scorers:
            for space in ctx.spaces:
                work.directions += len(ctx.supervised(space))
                work.baselines[space] = m
                if ctx.identity_scorer is not None:
                    work.shared.update({**ctx.identity_before_work, **ctx.identity_work(space)})
            work.images = m * work.directions * sweep
        curves = f"{plural(work.directions, 'direction')} at {plural(sweep, 'alpha')}" if ctx.scorers else "no curves"
        work.detail = f"{curves}; Property 2 on {plural(ctx.store.num, 'code')}" if "z" in ctx.store.spaces else curves
        return work

    def run(self, ctx, out) -> None:
        if ctx.scorers and ctx.supervised():
            for space in ctx.spaces:
                self._curves(ctx, out, space)
        else:
            out.note("score and identity curves need boundaries and an image scorer")
        if "z" in ctx.store.spaces:
            property2(ctx, out)

    def _curves(self, ctx, out, space: str) -> None:
        bs = ctx.supervised(space)
        alphas = sorted(ctx.settings.sweep)
        x, cols = sorted(set([0.0, *alphas])), [f"alpha={a:g}" for a in alphas]
        m = ctx.settings.num_distance
        edits = [boundary_edit(b) for b in bs]
        results = [ctx.rescore_edits(space, edits, f"distance sweep ({space_name(space)}, alpha={a:g})", num=m, alpha=a)
                   for a in alphas]  # fmt: skip
        labels, change, _ = target_curves(results)
        name = space_name(space)
        out.table(matrix_table(f"distance_scores_{space}", f"Normalised change of the edited attribute vs. alpha "
                               f"({name})", labels, cols, change, corner="edit",
                               notes=[CHANGE_DEFINITION, samples_note(results[0].num)]))  # fmt: skip
        out.plot(plots.curves(x, {label: _with_zero(x, alphas, change[i]) for i, label in enumerate(labels)},
                              f"score vs. distance ({name})", "alpha", CHANGE_UNIT),
                 f"distance_scores_{space}", "the edited attribute's score as codes move along its boundary")  # fmt: skip
        if ctx.identity_scorer is not None:
            result = ctx.identity(space)
            dist = result.distance[:, [result.alphas.index(a) for a in alphas]]
            edits = [e.label for e in result.edits]
            out.table(matrix_table(f"distance_identity_{space}", f"Identity cosine distance vs. alpha ({name})",
                                   edits, cols, dist, corner="edit", notes=[samples_note(result.num)]))  # fmt: skip
            out.plot(plots.curves(x, {e: _with_zero(x, alphas, dist[i]) for i, e in enumerate(edits)},
                                  f"identity vs. distance ({name})", "alpha", "cosine distance"),
                     f"distance_identity_{space}", "identity distance as codes move along each boundary")  # fmt: skip
        strip, steps = edit_strip(ctx.model, ctx.source(space, 1), [boundary_edit(b) for b in bs], alphas)
        _strip_image(out, strip, steps, [b.attribute for b in bs], f"distance_strip_{space}")


def _with_zero(x, alphas, values):
    lookup = dict(zip(alphas, values))
    return [0.0 if a == 0.0 else lookup[a] for a in x]


def _strip_image(out, strip, steps, names, stem) -> None:
    from interfacegan.editing.render import save_grid

    path = save_grid(strip, out.out / f"{stem}.png", col_labels=[f"{a:g}" for a in steps], row_labels=names,
                     scale=max(1, 96 // strip.shape[2]))  # fmt: skip
    out.image(path, "one sample moved along each boundary; columns are alpha (0 = original)")


def property2(ctx, out) -> None:
    """Distances n.z of all sampled z codes to the z boundaries and a random control direction (Property 2)."""
    bs = ctx.supervised("z")
    dim = int(np.prod(ctx.store.codes_array("z").shape[1:]))
    names = [b.attribute for b in bs] + ["random direction (control)"]
    normals = np.stack([b.normal.astype(np.float64) for b in bs] + [random_unit(dim, seed=0)])
    stats = projection_stats(ctx.store, "z", names, normals)
    tiny = {h: ".2e" for h in ("empirical P(|n.z|>t)", "exact erfc(t/sqrt2)", "paper bound", "binomial p-value")}
    notes = [
        f"d = {dim}, {plural(stats.count, 'sampled z code')}; n.z is exactly N(0, 1) for a unit n, so "
        "P(|n.z| > t) = erfc(t/sqrt 2)",
        f"for t = 5: exact {float(exact_tail(5.0)):.3e} < 1e-6, the paper's footnote (it holds for every d)",
        "paper bound: (2/a) exp(-a^2/2) with a = t / (2 sqrt(d/(d-2))), its (1 - 3e^{-cd}) factor taken as 1; "
        "blank where a < 1",
        "consistent: the count above t is within the binomial spread of the exact tail (p-value >= 0.001)",
    ]
    out.table(Table("property2", "Property 2: distances of sampled codes to the boundaries", ROW_HEADER,
                    stats.rows(), notes=notes, label_columns=1, formats=tiny))  # fmt: skip
    moments = [[n, stats.count, float(stats.second_moment[i]), float(stats.max_abs[i])] for i, n in enumerate(names)]
    out.table(Table("property2_moments", "Second moment and largest distance of the sampled codes",
                    ["direction", "samples", "mean (n.z)^2 (1 if Gaussian)", "max |n.z|"], moments))  # fmt: skip
    out.plot(plots.property2_figure(HIST_EDGES, {n: stats.hist[i] for i, n in enumerate(names)}, dim), "property2",
             "empirical density and tail of |n.z| against the exact half-normal and the paper's bound")  # fmt: skip
    out.summary["property2"] = {"all_consistent": bool(all(r[-1] for r in stats.rows())), "samples": stats.count,
                                "dim": dim}  # fmt: skip
