"""Re-scoring (paper Tab. 3): edit M samples along each boundary and each conditional direction, score them
again, and tabulate the normalised change of every attribute; then what conditioning bought and which edits are
diagonal-dominant."""

from __future__ import annotations

import math

from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.conditions import condition_pairs
from interfacegan.analysis.context import space_name
from interfacegan.analysis.steps.shared import alpha_note, change_heatmap, change_table, samples_note, stack_rows
from interfacegan.analysis.tables import Table
from interfacegan.editing.plan import plan_edit
from interfacegan.report import plural
from interfacegan.rescoring.matrix import Edit, RescoringResult, reorder

EFFECT_HEADER = ["conditional edit", "condition", "condition change (unconditional)", "condition change (conditional)",
                 "stderr (unconditional)", "stderr (conditional)", "target change (unconditional)",
                 "target change (conditional)"]  # fmt: skip
SUMMARY_HEADER = ["edit", "target", "target change", "target stderr", "share increased", "largest other attribute",
                  "its change", "diagonal dominant"]  # fmt: skip


def conditional_edits(ctx, space: str) -> list[Edit]:
    """Conditional directions of `space` (settings.conditions): each primal normal with its projection onto the
    span of the condition normals removed (`editing.plan_edit`)."""
    bs = ctx.supervised(space)
    edits = []
    for i, js in condition_pairs(bs, ctx.settings.conditions, ctx.settings.condition_threshold):
        plan = plan_edit(ctx.model, bs[i], [bs[j] for j in js], space=space)
        conditions = [bs[j].attribute for j in js]
        edits.append(Edit(f"{bs[i].attribute} | {', '.join(conditions)}", plan.vector, space,
                          attribute=bs[i].attribute, kind="conditional", conditions=conditions))  # fmt: skip
    return edits


class Rescoring(Analysis):
    name = "rescore"
    title = "Re-scoring (paper Tab. 3)"
    description = "Re-scoring matrix of every boundary and conditional direction (paper Tab. 3)."
    intro = ("Each row edits M samples along one direction; each column is the normalised change of one attribute "
             "score. A good boundary has a large diagonal and small off-diagonal cells; conditional directions "
             "should shrink the cells of the attributes they condition on.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        return "" if ctx.scorers else ctx.no_scorer

    def work(self, ctx) -> Work:
        m = ctx.rows(ctx.settings.num_rescore)
        work = Work(samples=m)
        details = []
        for space in ctx.spaces:
            n, c = len(ctx.supervised(space)), len(conditional_edits(ctx, space))
            work.directions += n + c
            work.images += m * c
            work.shared.update(ctx.rescoring_work(space))
            work.baselines[space] = m
            details.append(f"{space_name(space)}: {plural(n, 'direction')} + {c} conditional")
        work.detail = "; ".join(details)
        return work

    def run(self, ctx, out) -> None:
        for space in ctx.spaces:
            result = ctx.rescoring(space)
            notes = [alpha_note(ctx.settings), f"{samples_note(result.num)}, space {space_name(space)}"]
            out.table(change_table(f"rescoring_{space}", f"Re-scoring in {space_name(space)}", result, notes))
            change_heatmap(out, result, f"rescoring_{space}", f"re-scoring ({space_name(space)})",
                           f"normalised score change, {space_name(space)}")  # fmt: skip
            dominance, cond_rows = result.dominance(), []
            edits = conditional_edits(ctx, space)
            if edits:
                cond = ctx.rescore_edits(space, edits, f"conditional re-scoring ({space_name(space)})")
                cond = reorder(cond, result.attributes)
                both = interleave(result, cond)
                out.table(change_table(f"rescoring_conditional_{space}",
                                       f"Unconditional vs. conditional directions in {space_name(space)}", both,
                                       notes))  # fmt: skip
                change_heatmap(out, both, f"rescoring_conditional_{space}", f"conditional ({space_name(space)})",
                               "each conditional row 'A | B' follows the unconditional row A")  # fmt: skip
                dominance += cond.dominance()
                cond_rows = effect_rows(result, cond)
            if cond_rows:
                out.table(Table(f"conditional_effect_{space}", f"What conditioning bought in {space_name(space)}",
                                EFFECT_HEADER, cond_rows, label_columns=2))  # fmt: skip
            rows = [[d["edit"], d["attribute"], d["target_change"], d["target_stderr"], d["target_increased"],
                     d["largest_other"], d["largest_other_change"], "yes" if d["dominant"] else "no"]
                    for d in dominance]  # fmt: skip
            out.table(Table(f"rescoring_summary_{space}", f"Diagonal dominance in {space_name(space)}",
                            SUMMARY_HEADER, rows, label_columns=2,
                            notes=["dominant: |target change| exceeds |change| of every other scored attribute"]))  # fmt: skip
            out.summary.setdefault("rescoring", {})[space] = {"dominance": dominance, "conditional": cond_rows}


def effect_rows(result: RescoringResult, cond: RescoringResult) -> list[list]:
    """Per conditional edit and condition: the condition's and the target's change, plain vs. conditional."""
    rows = []
    for i, edit in enumerate(cond.edits):
        primal = result.labels.index(edit.attribute)
        j_t = result.attributes.index(edit.attribute) if edit.attribute in result.attributes else None
        for c in edit.conditions:
            if c not in result.attributes:
                continue
            j = result.attributes.index(c)
            rows.append([edit.label, c, float(result.change[primal, j]), float(cond.change[i, j]),
                         float(result.stderr[primal, j]), float(cond.stderr[i, j]),
                         float(result.change[primal, j_t]) if j_t is not None else math.nan,
                         float(cond.change[i, j_t]) if j_t is not None else math.nan])  # fmt: skip
    return rows


def interleave(result: RescoringResult, cond: RescoringResult) -> RescoringResult:
    """Rows: for each conditional edit, the unconditional row of its primal attribute, then the conditional row."""
    rows, edits = [], []
    for i, edit in enumerate(cond.edits):
        p = result.labels.index(edit.attribute)
        rows += [(result, p), (cond, i)]
        edits += [result.edits[p], edit]
    return stack_rows(rows, edits)
