"""One function per analysis of `analyze_run`: compute, write its CSV tables and PNG plots, add its report section.

Each `run_<name>(ctx)` reads what it needs from the `Context` (run, model, scorers, boundaries, settings) and
`not_applicable(ctx, name)` says in one sentence why an analysis cannot run on this run (or '' when it can).
"""

from __future__ import annotations

import math

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.correlation import cosine_matrix, load_real_scores, pearson_matrix
from interfacegan.analysis.distance import edit_strip, projection_stats, random_unit, score_sweep, target_curves
from interfacegan.analysis.identity import identity_discrepancy, unedited_features
from interfacegan.analysis.property2 import HIST_EDGES, ROW_HEADER, exact_tail
from interfacegan.rescoring.matrix import (
    CHANGE_DEFINITION,
    Edit,
    RescoringResult,
    order_columns,
    reorder,
    rescoring_matrix,
)
from interfacegan.analysis.separability import separability_row
from interfacegan.analysis.tables import Table, matrix_table
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers
from interfacegan.editing.plan import plan_edit

SPACE_NAMES = {"z": "Z", "w": "W", "wp": "W+"}


def _space(space: str) -> str:
    return SPACE_NAMES.get(space, space)


def _supervised(ctx, space: str | None = None):
    return [b for b in ctx.boundaries if b.kind != "sefa" and (space is None or b.space == space)]


def _edit(b) -> Edit:
    return Edit(b.attribute, b.direction(), b.space, attribute=b.attribute, kind="boundary")


def _alpha_note(ctx) -> str:
    return (f"alpha = {ctx.settings.alpha:g}: each code x moves to x + alpha n with n the unit normal "
            "(alpha is in latent units; in Z the distances n.z of sampled codes have std 1)")  # fmt: skip


# ==== applicability =============================================================================================


def not_applicable(ctx, name: str) -> str:
    """Why analysis `name` cannot run on this context ('' when it can)."""
    boundaries = _supervised(ctx)
    no_scorer = "; ".join(ctx.cache.get("scorer_notes", [])) or "no image scorer to re-score edits (pass --scorer)"
    if name == "correlation":
        return "" if len(ctx.cache["attributes"]) >= 2 else "attribute correlation needs at least two scored attributes"
    if name == "distance":
        return "" if "z" in ctx.store.spaces or boundaries else "no z codes and no boundaries"
    if not boundaries:
        return "no boundaries: give --boundary files or a run with attribute scores to train them on"
    if name == "boundaries":
        if not any(len(_supervised(ctx, s)) >= 2 for s in ctx.spaces()):
            return "boundary correlation needs at least two boundaries in one latent space"
    if name in ("rescore", "layers") and not ctx.scorers:
        return no_scorer
    if name == "layers":
        if "wp" not in ctx.model.spaces or not ctx.model.num_ws:
            return f"model {ctx.model.name!r} has no W+ space: layer-wise analysis is for style-based generators"
        if not _supervised(ctx, "w"):
            return "layer-wise analysis needs boundaries in W (sample with --space w, or pass W boundaries)"
    if name == "identity" and ctx.identity_scorer is None:
        return ctx.cache.get("identity_reason") or "no identity scorer"
    if name == "sefa":
        space = ctx.model.affine_space
        if not _supervised(ctx, space):
            return f"SeFa directions live in {_space(space)}: there are no supervised boundaries in that space"
    return ""


# ==== 1. separability ===========================================================================================


def run_separability(ctx) -> None:
    section = ctx.section("separability", "Separability of the latent space (paper Fig. 3)",
                          "Accuracy of each linear boundary on its validation split (top/bottom samples held out "
                          "from training) and on all remaining, less extreme samples labelled by the score threshold.")  # fmt: skip
    rows = []
    for b in _supervised(ctx):
        row = separability_row(ctx.store, b, ctx.settings.ratio)
        if row is not None:
            rows.append([row.attribute, _space(row.space), row.val_accuracy, row.remaining_accuracy, row.num_val,
                         row.num_remaining, row.source])  # fmt: skip
    if not rows:
        section.note("no boundary has accuracies or scores on this run to evaluate")
        return
    table = Table("separability", "Classification accuracy of the boundaries",
                  ["attribute", "space", "validation accuracy", "remaining accuracy", "validation samples",
                   "remaining samples", "measured on"], rows, label_columns=2)  # fmt: skip
    ctx.table(section, table)
    attributes = list(dict.fromkeys(r[0] for r in rows))
    series = {}
    for space in dict.fromkeys(r[1] for r in rows):
        for col, what in ((2, "validation"), (3, "remaining")):
            lookup = {r[0]: r[col] for r in rows if r[1] == space}
            series[f"{space} {what}"] = [lookup.get(a, math.nan) for a in attributes]
    ctx.plot(section, plots.grouped_bars(attributes, series, "Separability", "accuracy", ylim=(0.4, 1.05)),
             "separability", "validation and remaining accuracy per attribute and space")  # fmt: skip


# ==== 2. attribute correlation ==================================================================================


def run_correlation(ctx) -> None:
    section = ctx.section("correlation", "Attribute correlation (paper Tab. 1a/1b, 2a/2b)",
                          "Pearson correlation between attribute scores of the synthesized samples (all rows of the "
                          "run; each pair over the rows where both scores exist) and, when given, of real data.")  # fmt: skip
    attributes = ctx.cache["attributes"]
    names, corr, counts = pearson_matrix(ctx.store.scores(attributes))
    ctx.cache["correlation"] = (names, corr)
    notes = [f"{ctx.store.num} synthesized samples; pairs use between {counts.min()} and {counts.max()} samples",
             "for z ~ N(0, I) and scores linear in z, corr(s_i, s_j) = n_i . n_j (paper Eq. 5)"]  # fmt: skip
    ctx.table(section, matrix_table("correlation_synthesized", "Attribute correlation of synthesized data",
                                    names, names, corr, notes=notes))  # fmt: skip
    ctx.plot(section, plots.heatmap(corr, names, names, "synthesized data", vmax=1.0), "correlation_synthesized",
             "attribute correlation of synthesized data")  # fmt: skip
    if ctx.real_scores is None:
        section.note("real-data correlation: not computed (pass --real-scores CSV with one column per attribute)")
        return
    real = ctx.real_scores if isinstance(ctx.real_scores, dict) else load_real_scores(ctx.real_scores)
    common = [a for a in names if a in real]
    if len(common) < 2:
        section.note(f"real-data scores share fewer than two attributes with the run ({', '.join(real)}): skipped")
        return
    rnames, rcorr, rcounts = pearson_matrix({a: real[a] for a in common})
    ctx.table(section, matrix_table("correlation_real", "Attribute correlation of real data", rnames, rnames, rcorr,
                                    notes=[f"{rcounts.max()} real samples"]))  # fmt: skip
    ctx.plot(section, plots.heatmap(rcorr, rnames, rnames, "real data", vmax=1.0), "correlation_real",
             "attribute correlation of real data")  # fmt: skip


# ==== 3. boundary correlation ===================================================================================


def run_boundaries(ctx) -> None:
    section = ctx.section("boundaries", "Boundary correlation (paper Tab. 1c, 2c/2d)",
                          "Cosine similarity n_i . n_j between the unit normals of the boundaries, per latent "
                          "space. Non-zero entries are entangled semantics; conditional manipulation removes them.")  # fmt: skip
    corr = ctx.cache.get("correlation")
    pair_rows = []
    for space in ctx.spaces():
        bs = _supervised(ctx, space)
        if len(bs) < 2:
            continue
        names = [b.attribute for b in bs]
        cos = cosine_matrix(np.stack([b.normal for b in bs]))
        ctx.cache[f"cosine_{space}"] = (names, cos)
        ctx.table(section, matrix_table(f"boundary_cosine_{space}", f"Boundary cosine in {_space(space)}",
                                        names, names, cos))  # fmt: skip
        ctx.plot(section, plots.heatmap(cos, names, names, f"boundary cosine ({_space(space)})", vmax=1.0),
                 f"boundary_cosine_{space}", f"cosine between boundary normals in {_space(space)}")  # fmt: skip
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                c = math.nan
                if corr is not None and names[i] in corr[0] and names[j] in corr[0]:
                    c = float(corr[1][corr[0].index(names[i]), corr[0].index(names[j])])
                pair_rows.append([f"{names[i]} / {names[j]}", _space(space), float(cos[i, j]), c])
    if pair_rows:
        ctx.table(section, Table("correlation_vs_cosine", "Boundary cosine beside the attribute correlation",
                                 ["pair", "space", "boundary cosine", "attribute correlation (synthesized)"],
                                 pair_rows, label_columns=2))  # fmt: skip


# ==== 4. re-scoring =============================================================================================


def parse_condition(item: str) -> tuple[str, list[str]]:
    """'eyeglasses|brightness,age' -> ('eyeglasses', ['brightness', 'age'])."""
    primal, sep, rest = item.partition("|")
    conds = [c.strip() for c in rest.split(",") if c.strip()]
    if not sep or not primal.strip() or not conds:
        raise InterfaceGANError(f"bad condition {item!r}: use PRIMAL|COND[,COND...], e.g. eyeglasses|brightness")
    return primal.strip(), conds


def conditional_edits(ctx, space: str) -> list[Edit]:
    """Conditional directions of `space` (see `analyze_run` conditions): each primal normal with its projection
    onto the span of the condition normals removed."""
    bs = _supervised(ctx, space)
    names = [b.attribute for b in bs]
    items = ctx.settings.conditions
    pairs: list[tuple[int, list[int]]] = []
    if "auto" in items:
        if len(bs) >= 2:
            cos = cosine_matrix(np.stack([b.normal for b in bs]))
            np.fill_diagonal(cos, 0.0)
            for i in range(len(bs)):
                j = int(np.argmax(np.abs(cos[i])))
                if abs(cos[i, j]) >= ctx.settings.condition_threshold:
                    pairs.append((i, [j]))
    for item in items:
        if item in ("auto", "none", ""):
            continue
        primal, conds = parse_condition(item)
        if primal in names and all(c in names for c in conds):
            pair = (names.index(primal), [names.index(c) for c in conds])
            if pair not in pairs:
                pairs.append(pair)
    edits = []
    for i, js in pairs:
        plan = plan_edit(ctx.model, bs[i], [bs[j] for j in js], space=space)
        label = f"{names[i]} | {', '.join(names[j] for j in js)}"
        edits.append(Edit(label, plan.vector, space, attribute=names[i], kind="conditional",
                          conditions=[names[j] for j in js]))  # fmt: skip
    return edits


def _matrix(name: str, title: str, result: RescoringResult, notes: list[str]) -> Table:
    return matrix_table(name, title, result.labels, result.attributes, result.change, corner="edit \\ score",
                        notes=[CHANGE_DEFINITION, *notes])  # fmt: skip


def _heatmap(ctx, section, result: RescoringResult, stem: str, title: str, caption: str) -> None:
    ctx.plot(section, plots.heatmap(result.change, result.labels, result.attributes, title), stem, caption)


def rescore_space(ctx, space: str) -> RescoringResult:
    """The unconditional re-scoring result of `space` (computed once, cached for SeFa)."""
    key = f"rescore_{space}"
    if key not in ctx.cache:
        m = ctx.settings.num_rescore
        source, baseline = ctx.source(space, m), ctx.baseline(space, m)
        bs = _supervised(ctx, space)
        result = rescoring_matrix(ctx.model, source, baseline, [_edit(b) for b in bs], ctx.settings.alpha,
                                  ctx.scorers, ctx.settings.batch_size, ctx.progress,
                                  description=f"re-scoring ({_space(space)})")  # fmt: skip
        ctx.cache[key] = reorder(result, order_columns(result.attributes, [b.attribute for b in bs]))
    return ctx.cache[key]


def run_rescore(ctx) -> None:
    section = ctx.section("rescore", "Re-scoring (paper Tab. 3)",
                          "Each row edits M samples along one direction; each column is the normalised change of "
                          "one attribute score. A good boundary has a large diagonal and small off-diagonal cells; "
                          "conditional directions should shrink the cells of the attributes they condition on.")  # fmt: skip
    summary = ctx.result.summary.setdefault("rescoring", {})
    for space in ctx.spaces():
        if not _supervised(ctx, space):
            continue
        result = rescore_space(ctx, space)
        notes = [_alpha_note(ctx), f"M = {result.num} samples (rows 0-{result.num - 1} of the run), space {_space(space)}"]
        ctx.table(section, _matrix(f"rescoring_{space}", f"Re-scoring in {_space(space)}", result, notes))
        _heatmap(ctx, section, result, f"rescoring_{space}", f"re-scoring ({_space(space)})",
                 f"normalised score change, {_space(space)}")  # fmt: skip
        edits = conditional_edits(ctx, space)
        dominance = result.dominance()
        cond_rows = []
        if edits:
            cond = rescoring_matrix(ctx.model, ctx.source(space, result.num), ctx.baseline(space, result.num), edits,
                                    ctx.settings.alpha, ctx.scorers, ctx.settings.batch_size, ctx.progress,
                                    description=f"conditional re-scoring ({_space(space)})")  # fmt: skip
            cond = reorder(cond, result.attributes)
            both = _interleave(result, cond)
            ctx.table(section, _matrix(f"rescoring_conditional_{space}",
                                       f"Unconditional vs. conditional directions in {_space(space)}", both, notes))  # fmt: skip
            _heatmap(ctx, section, both, f"rescoring_conditional_{space}", f"conditional ({_space(space)})",
                     "each conditional row 'A | B' follows the unconditional row A")  # fmt: skip
            dominance += cond.dominance()
            for i, edit in enumerate(cond.edits):
                primal = result.labels.index(edit.attribute)
                j_t = result.attributes.index(edit.attribute) if edit.attribute in result.attributes else None
                for c in edit.conditions:
                    if c not in result.attributes:
                        continue
                    j = result.attributes.index(c)
                    cond_rows.append([edit.label, c, float(result.change[primal, j]), float(cond.change[i, j]),
                                      float(result.stderr[primal, j]), float(cond.stderr[i, j]),
                                      float(result.change[primal, j_t]) if j_t is not None else math.nan,
                                      float(cond.change[i, j_t]) if j_t is not None else math.nan])  # fmt: skip
        if cond_rows:
            ctx.table(section, Table(f"conditional_effect_{space}", f"What conditioning bought in {_space(space)}",
                                     ["conditional edit", "condition", "condition change (unconditional)",
                                      "condition change (conditional)", "stderr (unconditional)",
                                      "stderr (conditional)", "target change (unconditional)",
                                      "target change (conditional)"], cond_rows, label_columns=2))  # fmt: skip
        rows = [[d["edit"], d["attribute"], d["target_change"], d["target_stderr"], d["target_increased"],
                 d["largest_other"], d["largest_other_change"], "yes" if d["dominant"] else "no"] for d in dominance]  # fmt: skip
        ctx.table(section, Table(f"rescoring_summary_{space}", f"Diagonal dominance in {_space(space)}",
                                 ["edit", "target", "target change", "target stderr", "share increased",
                                  "largest other attribute", "its change", "diagonal dominant"], rows,
                                 notes=["dominant: |target change| exceeds |change| of every other scored attribute"],
                                 label_columns=2))  # fmt: skip
        summary[space] = {"dominance": dominance, "conditional": cond_rows}


def _interleave(result: RescoringResult, cond: RescoringResult) -> RescoringResult:
    """Rows: for each conditional edit, the unconditional row of its primal attribute, then the conditional row."""
    rows, edits = [], []
    for i, edit in enumerate(cond.edits):
        p = result.labels.index(edit.attribute)
        rows.append((result, p))
        edits.append(result.edits[p])
        rows.append((cond, i))
        edits.append(edit)

    def stack(attr):
        return np.stack([getattr(r, attr)[i] for r, i in rows])

    return RescoringResult(edits, result.attributes, result.alpha, result.num, stack("change"), stack("raw_change"),
                           stack("stderr"), stack("increased"), stack("valid"), result.std)  # fmt: skip


def _has_layers(ctx) -> bool:
    """True when layer-wise edits apply: a model with W+ and supervised boundaries in W."""
    return "wp" in ctx.model.spaces and bool(ctx.model.num_ws) and bool(_supervised(ctx, "w"))


# ==== 5. layer-wise re-scoring ==================================================================================


def default_layer_groups(num_layers: int) -> list[str]:
    """The paper's grouping generalised: 0-1, 2-3, 4-5, 6-7, then all remaining layers (for 18: 8-17)."""
    groups = [format_layers(range(s, min(s + 2, num_layers))) for s in range(0, min(8, num_layers), 2)]
    if num_layers > 8:
        groups.append(format_layers(range(8, num_layers)))
    return groups


def layer_groups(ctx) -> list[str]:
    n = int(ctx.model.num_ws)
    groups = ctx.settings.layer_groups or default_layer_groups(n)
    return [format_layers(parse_layers(g, n)) for g in groups]


def run_layers(ctx) -> None:
    section = ctx.section("layers", "Layer-wise re-scoring (paper Tab. 4)",
                          "W boundaries applied to chosen W+ layers only; each cell is the normalised change of the "
                          "edited attribute itself. Layers that carry an attribute show large values.")  # fmt: skip
    groups = ["all", *layer_groups(ctx)]
    bs = _supervised(ctx, "w")
    edits = [Edit(f"{b.attribute} @ {g}", b.normal, "wp", attribute=b.attribute, layers=g, kind="layers")
             for b in bs for g in groups]  # fmt: skip
    m = ctx.settings.num_rescore
    result = rescoring_matrix(ctx.model, ctx.source("wp", m), ctx.baseline("wp", m), edits, ctx.settings.alpha,
                              ctx.scorers, ctx.settings.batch_size, ctx.progress, description="layer-wise re-scoring")  # fmt: skip
    values = np.full((len(bs), len(groups)), np.nan)
    for i in range(len(edits)):
        j = result.target(i)
        if j is not None:
            values[i // len(groups), i % len(groups)] = result.change[i, j]
    names = [b.attribute for b in bs]
    ctx.table(section, matrix_table("layers_rescoring", "Normalised change of the edited attribute per layer group",
                                    names, groups, values, corner="attribute \\ layers",
                                    notes=[CHANGE_DEFINITION, _alpha_note(ctx), f"M = {result.num} samples"]))  # fmt: skip
    ctx.plot(section, plots.heatmap(values, names, groups, "layer-wise re-scoring"), "layers_rescoring",
             "normalised change of the edited attribute when only these W+ layers move")  # fmt: skip


# ==== 6. identity ===============================================================================================


def identity_alphas(ctx) -> list[float]:
    return sorted(set([ctx.settings.alpha, *ctx.settings.sweep]))


def identity_space(ctx, space: str):
    """Identity distances (IdentityResult over identity_alphas) of the boundary edits of `space`, cached."""
    key = f"identity_{space}"
    if key not in ctx.cache:
        source = ctx.source(space, ctx.settings.num_identity)
        if "identity_before" not in ctx.cache:  # the same images in every space: rows [0, M) of the run
            ctx.cache["identity_before"] = unedited_features(ctx.store, source, ctx.identity_scorer,
                                                             ctx.settings.batch_size)  # fmt: skip
        before = ctx.cache["identity_before"]
        ctx.cache[key] = identity_discrepancy(ctx.model, source, before, [_edit(b) for b in _supervised(ctx, space)],
                                              identity_alphas(ctx), ctx.identity_scorer, ctx.settings.batch_size,
                                              ctx.progress)  # fmt: skip
    return ctx.cache[key]


def run_identity(ctx) -> None:
    section = ctx.section("identity", "Identity discrepancy (paper Tab. 5)",
                          "Cosine distance between identity descriptors of each image before and after the edit, "
                          "averaged over samples (0 = same face; larger = less similar).")  # fmt: skip
    alpha = ctx.settings.alpha
    names = list(dict.fromkeys(b.attribute for b in _supervised(ctx)))
    columns, values = [], []
    counts = []
    for space in ctx.spaces():
        result = identity_space(ctx, space)
        s = result.alphas.index(alpha)
        lookup = {e.attribute: (result.distance[i, s], result.valid[i, s]) for i, e in enumerate(result.edits)}
        columns.append(_space(space))
        values.append([lookup.get(a, (math.nan, 0))[0] for a in names])
        counts += [v[1] for v in lookup.values()]
    if _has_layers(ctx):
        groups = ["all", *layer_groups(ctx)]
        bs = _supervised(ctx, "w")
        edits = [Edit(f"{b.attribute} @ {g}", b.normal, "wp", attribute=b.attribute, layers=g, kind="layers")
                 for b in bs for g in groups]  # fmt: skip
        source = ctx.source("wp", ctx.settings.num_identity)
        if "identity_before" not in ctx.cache:
            ctx.cache["identity_before"] = unedited_features(ctx.store, source, ctx.identity_scorer,
                                                             ctx.settings.batch_size)  # fmt: skip
        before = ctx.cache["identity_before"]
        result = identity_discrepancy(ctx.model, source, before, edits, [alpha], ctx.identity_scorer,
                                      ctx.settings.batch_size, ctx.progress)  # fmt: skip
        for g_i, g in enumerate(groups):
            lookup = {edits[i].attribute: result.distance[i, 0] for i in range(g_i, len(edits), len(groups))}
            columns.append(f"W+ {g}")
            values.append([lookup.get(a, math.nan) for a in names])
    matrix = np.array(values, dtype=np.float64).T
    notes = [_alpha_note(ctx), f"M = {min(ctx.settings.num_identity, ctx.store.num)} samples; "
             f"faces measured before and after: {min(counts) if counts else 0}-{max(counts) if counts else 0}",
             "cosine distance = 1 - cos(descriptor before, descriptor after)"]  # fmt: skip
    ctx.table(section, matrix_table("identity", "Identity discrepancy (cosine distance)", names, columns, matrix,
                                    corner="attribute", notes=notes))  # fmt: skip
    series = {c: matrix[:, k] for k, c in enumerate(columns)}
    ctx.plot(section, plots.grouped_bars(names, series, "Identity discrepancy", "cosine distance"), "identity",
             "identity cosine distance after each edit")  # fmt: skip


# ==== 7. distance effect and Property 2 =========================================================================


def run_distance(ctx) -> None:
    section = ctx.section("distance", "Distance effect (paper Fig. 6) and Property 2",
                          "Attribute score (normalised change of the edited attribute) and identity distance as codes "
                          "move further along each boundary; then how far sampled codes lie from the boundaries.")  # fmt: skip
    alphas = sorted(ctx.settings.sweep)
    x = sorted(set([0.0, *alphas]))
    if ctx.scorers and _supervised(ctx):
        for space in ctx.spaces():
            bs = _supervised(ctx, space)
            if not bs:
                continue
            m = ctx.settings.num_distance
            results = score_sweep(ctx.model, ctx.source(space, m), ctx.baseline(space, m), [_edit(b) for b in bs],
                                  alphas, ctx.scorers, ctx.settings.batch_size, ctx.progress)  # fmt: skip
            labels, change, _ = target_curves(results)
            cols = [f"alpha={a:g}" for a in alphas]
            ctx.table(section, matrix_table(f"distance_scores_{space}",
                                            f"Normalised change of the edited attribute vs. alpha ({_space(space)})",
                                            labels, cols, change, corner="edit",
                                            notes=[CHANGE_DEFINITION, f"M = {results[0].num} samples"]))  # fmt: skip
            ctx.plot(section, plots.curves(x, {l: _with_zero(x, alphas, change[i]) for i, l in enumerate(labels)},
                                           f"score vs. distance ({_space(space)})", "alpha", "normalised change"),
                     f"distance_scores_{space}", "the edited attribute's score as codes move along its boundary")  # fmt: skip
            if ctx.identity_scorer is not None:
                result = identity_space(ctx, space)
                idx = [result.alphas.index(a) for a in alphas]
                dist = result.distance[:, idx]
                ctx.table(section, matrix_table(f"distance_identity_{space}",
                                                f"Identity cosine distance vs. alpha ({_space(space)})",
                                                [e.label for e in result.edits], cols, dist, corner="edit",
                                                notes=[f"M = {result.num} samples"]))  # fmt: skip
                ctx.plot(section, plots.curves(x, {e.label: _with_zero(x, alphas, dist[i])
                                                   for i, e in enumerate(result.edits)},
                                               f"identity vs. distance ({_space(space)})", "alpha", "cosine distance"),
                         f"distance_identity_{space}", "identity distance as codes move along each boundary")  # fmt: skip
            strip, steps = edit_strip(ctx.model, ctx.source(space, 1), [_edit(b) for b in bs], alphas)
            _strip_image(ctx, section, strip, steps, [b.attribute for b in bs], f"distance_strip_{space}")
    else:
        section.note("score and identity curves need boundaries and an image scorer")
    if "z" in ctx.store.spaces:
        _property2(ctx, section)


def _with_zero(x, alphas, values):
    lookup = dict(zip(alphas, values))
    return [0.0 if a == 0.0 else lookup[a] for a in x]


def _strip_image(ctx, section, strip, steps, names, stem) -> None:
    from interfacegan.editing.render import save_grid

    path = save_grid(strip, ctx.out / f"{stem}.png", col_labels=[f"{a:g}" for a in steps], row_labels=names,
                     scale=max(1, 96 // strip.shape[2]))  # fmt: skip
    ctx.result.files.append(path)
    section.image(path, "one sample moved along each boundary; columns are alpha (0 = original)")


def _property2(ctx, section) -> None:
    bs = _supervised(ctx, "z")
    dim = int(np.prod(ctx.store.codes_array("z").shape[1:]))
    names = [b.attribute for b in bs] + ["random direction (control)"]
    normals = np.stack([b.normal.astype(np.float64) for b in bs] + [random_unit(dim, seed=0)])
    stats = projection_stats(ctx.store, "z", names, normals)
    tiny = {h: ".2e" for h in ("empirical P(|n.z|>t)", "exact erfc(t/sqrt2)", "paper bound", "binomial p-value")}
    notes = [
        f"d = {dim}, {stats.count} sampled z codes; n.z is exactly N(0, 1) for a unit n, so P(|n.z| > t) = erfc(t/sqrt 2)",
        f"for t = 5: exact {float(exact_tail(5.0)):.3e} < 1e-6, the paper's footnote (it holds for every d)",
        "paper bound: (2/a) exp(-a^2/2) with a = t / (2 sqrt(d/(d-2))), its (1 - 3e^{-cd}) factor taken as 1; "
        "blank where a < 1",
        "consistent: the count above t is within the binomial spread of the exact tail (p-value >= 0.001)",
    ]
    ctx.table(section, Table("property2", "Property 2: distances of sampled codes to the boundaries", ROW_HEADER,
                             stats.rows(), notes=notes, label_columns=1, formats=tiny))  # fmt: skip
    moments = [[n, stats.count, float(stats.second_moment[i]), float(stats.max_abs[i])] for i, n in enumerate(names)]
    ctx.table(section, Table("property2_moments", "Second moment and largest distance of the sampled codes",
                             ["direction", "samples", "mean (n.z)^2 (1 if Gaussian)", "max |n.z|"], moments))  # fmt: skip
    ctx.plot(section, plots.property2_figure(HIST_EDGES, {n: stats.hist[i] for i, n in enumerate(names)}, dim),
             "property2", "empirical density and tail of |n.z| against the exact half-normal and the paper's bound")  # fmt: skip
    ctx.result.summary["property2"] = {"all_consistent": bool(all(r[-1] for r in stats.rows())),
                                       "samples": stats.count, "dim": dim}  # fmt: skip


# ==== 8. SeFa vs. InterFaceGAN ==================================================================================


def run_sefa(ctx) -> None:
    from interfacegan.analysis.sefa_match import match_sefa
    from interfacegan.directions.sefa import sefa_boundaries

    section = ctx.section("sefa", "SeFa vs. InterFaceGAN (SeFa paper Tab. 2)",
                          "For each supervised boundary, the closed-form (SeFa) direction with the largest |cosine|, "
                          "signed to point the same way; then both are re-scored on the same samples.")  # fmt: skip
    space = ctx.model.affine_space
    bs = _supervised(ctx, space)
    dim = bs[0].dim
    directions = sefa_boundaries(ctx.model, k=min(ctx.settings.sefa_k, dim), layers=ctx.settings.sefa_layers)
    matches = match_sefa(bs, directions)
    if not matches:
        section.note("no SeFa direction has the dimension of the supervised boundaries")
        return
    sup = rescore_space(ctx, space) if ctx.scorers else None
    unique = list(dict.fromkeys((m.index, m.sign) for m in matches))
    sefa_result = None
    if sup is not None:
        # SeFa of chosen style layers edits those W+ layers only (as the SeFa paper does); otherwise the whole code.
        layers = ctx.settings.sefa_layers if ctx.settings.sefa_layers and "wp" in ctx.model.spaces else None
        src = "wp" if layers else space
        edits = []
        for index, sign in unique:
            direction = next(m.direction for m in matches if (m.index, m.sign) == (index, sign))
            edits.append(Edit(f"{'+' if sign > 0 else '-'}sefa_{index}",
                              direction if layers else direction.reshape(bs[0].code_shape), src, layers=layers,
                              kind="sefa"))  # fmt: skip
        m = ctx.settings.num_rescore
        raw = rescoring_matrix(ctx.model, ctx.source(src, m), ctx.baseline(src, m), edits, ctx.settings.alpha,
                               ctx.scorers, ctx.settings.batch_size, ctx.progress, description="SeFa re-scoring")  # fmt: skip
        raw = reorder(raw, sup.attributes)
        rows = [unique.index((mt.index, mt.sign)) for mt in matches]
        row_edits = [Edit(f"{mt.attribute} ~ {mt.label}", mt.direction, space, attribute=mt.attribute, kind="sefa")
                     for mt in matches]  # fmt: skip
        pick = lambda a: getattr(raw, a)[rows]  # noqa: E731
        sefa_result = RescoringResult(row_edits, raw.attributes, raw.alpha, raw.num, pick("change"),
                                      pick("raw_change"), pick("stderr"), pick("increased"), pick("valid"), raw.std)  # fmt: skip
    table_rows = []
    for i, mt in enumerate(matches):
        sup_t = sefa_t = math.nan
        if sup is not None and mt.attribute in sup.attributes:
            j = sup.attributes.index(mt.attribute)
            sup_t = float(sup.change[sup.labels.index(mt.attribute), j])
            sefa_t = float(sefa_result.change[i, j])
        table_rows.append([mt.attribute, mt.label, mt.index, mt.eigenvalue, mt.cosine, sup_t, sefa_t])
    ctx.table(section, Table("sefa_match", f"Best-matching SeFa direction per boundary ({_space(space)})",
                             ["attribute", "SeFa direction", "eigen rank", "eigenvalue", "cosine",
                              "InterFaceGAN target change", "SeFa target change"], table_rows,
                             notes=[f"top {len(directions)} SeFa directions of {ctx.model.name!r}"
                                    + (f", layers {ctx.settings.sefa_layers}" if ctx.settings.sefa_layers else ""),
                                    "two attributes may match the same SeFa direction"]))  # fmt: skip
    if sefa_result is not None:
        notes = [_alpha_note(ctx), f"M = {sefa_result.num} samples, the same as the InterFaceGAN matrix"]
        ctx.table(section, _matrix(f"sefa_rescoring_{space}", f"Re-scoring of the matched SeFa directions ({_space(space)})",
                                   sefa_result, notes))  # fmt: skip
        ctx.plot(section, plots.heatmap(sup.change, sup.labels, sup.attributes, "InterFaceGAN (supervised)"),
                 f"sefa_vs_interfacegan_{space}_supervised", "InterFaceGAN re-scoring (same as above)")  # fmt: skip
        _heatmap(ctx, section, sefa_result, f"sefa_vs_interfacegan_{space}_sefa", "SeFa (unsupervised)",
                 "re-scoring of the best-matching SeFa directions")  # fmt: skip


# ==== overview ==================================================================================================


def overview(ctx) -> list[tuple[str, str]]:
    """(setting, value) rows for the top of the report."""
    s = ctx.settings
    meta = ctx.store.meta
    kinds = sorted({b.kind for b in ctx.boundaries})
    return [
        ("run", str(ctx.store.path)),
        ("model", ctx.model.spec or ctx.model.name),
        ("samples in the run", str(ctx.store.num)),
        ("latent spaces of the run", ", ".join(ctx.store.spaces)),
        ("truncation", str(meta.get("truncation"))),
        ("attributes", ", ".join(ctx.cache.get("attributes", []))),
        ("scorers for re-scoring", ", ".join(f"{x.name} v{x.version}" for x in ctx.scorers) or "none"),
        ("identity scorer", ctx.identity_scorer.name if ctx.identity_scorer else "none"),
        ("boundaries", f"{len(ctx.boundaries)} ({', '.join(kinds) or '-'}) in {', '.join(map(_space, ctx.spaces())) or '-'}"),
        ("M re-scoring / identity / distance", f"{s.num_rescore} / {s.num_identity} / {s.num_distance}"),
        ("alpha; distance sweep", f"{s.alpha:g}; {', '.join(f'{a:g}' for a in s.sweep)}"),
        ("conditions", s.conditions if isinstance(s.conditions, str) else "; ".join(s.conditions)),
        ("normalised score change", CHANGE_DEFINITION),
        ("seconds", ", ".join(f"{k} {v:.1f}" for k, v in ctx.result.seconds.items())),
    ]
