"""Methods compared (SeFa paper Tab. 2, Tab. 3, Fig. 7): for each supervised (InterFaceGAN) boundary in the space
SeFa factorizes, the best-matching SeFa and GANSpace directions (largest |cosine| among each method's top k,
signed), re-scored side by side with the boundary on the same samples; the cosines between the matched directions;
which direction of each method's top k moves the attribute most (by re-scoring, where that is another one); the
identity change of every edit, and edit strips of one sample along the three directions.

The paper compares the methods by FID and a user study besides re-scoring; offline we have neither, so the
identity discrepancy of each edit (as the identity analysis measures it) stands in for both, and the report says so.
"""

from __future__ import annotations

import math

import numpy as np

from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.context import UNSUPERVISED_KINDS, space_name
from interfacegan.analysis.sefa_match import STRENGTH, DirectionMatch, strongest_mover
from interfacegan.analysis.steps.shared import alpha_note, change_heatmap, change_table, samples_note, stack_rows
from interfacegan.analysis.tables import Table, matrix_table
from interfacegan.errors import InterfaceGANError
from interfacegan.report import plural
from interfacegan.rescoring.matrix import Edit, RescoringResult, reorder
from interfacegan.rescoring.naming import NAMING_ALPHA, NAMING_NUM

TITLES = {"sefa": "SeFa", "ganspace": "GANSpace"}
STAND_IN = ("the SeFa paper's Tab. 3 also reports FID and a user study; offline we have neither, so the identity "
            "discrepancy of each edit stands in for both (smaller = the edit keeps the person)")  # fmt: skip


class MethodComparison(Analysis):
    name = "sefa"
    title = "Methods compared: InterFaceGAN, SeFa, GANSpace (SeFa paper Tab. 2, Tab. 3, Fig. 7)"
    description = ("Best-matching SeFa and GANSpace directions per boundary, re-scored beside InterFaceGAN's, with "
                   "identity change (SeFa paper Tab. 2, Tab. 3).")  # fmt: skip
    intro = ("For each supervised (InterFaceGAN) boundary, the SeFa and the GANSpace direction with the largest "
             "|cosine| among each method's top k, signed to point the same way; all three are re-scored on the same "
             "samples and their edits' identity change measured. Identity discrepancy is our stand-in for the "
             "paper's FID and user study, which cannot be run offline.")  # fmt: skip

    def skip_reason(self, ctx) -> str:
        if not ctx.supervised():
            return ctx.no_boundaries
        space = ctx.model.affine_space
        if not ctx.supervised(space):
            return f"SeFa directions live in {space_name(space)}: there are no supervised boundaries in that space"
        try:  # fitted here, not later: a model GANSpace cannot read (a plugin without first-layer activations)
            ctx.ganspace_directions
        except InterfaceGANError as exc:
            return f"GANSpace cannot run on model {ctx.model.name!r}: {exc}"
        return ""

    def work(self, ctx) -> Work:
        """Counted exactly: the plan fits GANSpace (as it trains boundaries) to know which directions match."""
        space, k = ctx.model.affine_space, len(ctx.sefa_directions)
        n = len(ctx.supervised(space))
        matched = sum(len({mt.label for mt in ctx.method_matches(m)}) for m in UNSUPERVISED_KINDS)  # distinct
        detail = (f"{plural(n, 'boundary', 'boundaries')} x top {k} SeFa and GANSpace directions (GANSpace: PCA of "
                  f"{ctx.settings.ganspace_num:,} samples), {matched} matched")  # fmt: skip
        work = Work(directions=matched, detail=detail)
        if ctx.scorers:
            m = ctx.rows(ctx.settings.num_rescore)
            work.samples, work.images = m, m * matched + NAMING_NUM * (2 * k + 1)
            work.shared.update(ctx.rescoring_work(space))
            work.baselines = {self._source_space(ctx): m, space: m}
            work.detail += f"; {2 * k} directions named on {NAMING_NUM} samples each"
        else:
            work.detail += f"; no re-scoring ({ctx.no_scorer})"
        if ctx.identity_scorer is not None:
            work.identity_images = ctx.rows(ctx.settings.num_identity) * matched
            work.shared.update(ctx.identity_before_work)
            work.shared.update(ctx.identity_work(space))
        return work

    @staticmethod
    def _source_space(ctx) -> str:
        """Unsupervised directions of chosen style layers edit those W+ layers only (as SeFa does)."""
        return "wp" if ctx.method_layers else ctx.model.affine_space

    def _edits(self, ctx, matches: list[DirectionMatch], method: str) -> dict[str, Edit]:
        """One edit per distinct signed direction, by label."""
        layers, shape = ctx.method_layers, tuple(ctx.model.space_shape(ctx.model.affine_space))
        return {mt.label: Edit(mt.label, mt.direction if layers else mt.direction.reshape(shape),
                               self._source_space(ctx), layers=layers, kind=method)
                for mt in matches}  # fmt: skip

    def run(self, ctx, out) -> None:
        space = ctx.model.affine_space
        bs = ctx.supervised(space)
        matches = {m: ctx.method_matches(m) for m in UNSUPERVISED_KINDS}
        edits = {m: self._edits(ctx, matches[m], m) for m in UNSUPERVISED_KINDS}
        sup = ctx.rescoring(space) if ctx.scorers else None
        rescored = {m: self._rescore(ctx, matches[m], edits[m], sup) for m in UNSUPERVISED_KINDS} if sup else {}
        names = ctx.method_names if ctx.scorers else {}
        k = len(ctx.sefa_directions)
        layers = f", layers {ctx.method_layers}" if ctx.method_layers else ""
        for m in UNSUPERVISED_KINDS:
            out.table(self._match_table(ctx, m, matches[m], sup, rescored.get(m), names.get(m), space, k, layers))
        out.table(self._cosines(matches, bs, space))
        if sup is None:
            out.note(f"re-scoring of the matched directions: not run ({ctx.no_scorer})")
        else:
            out.table(self._movers(matches, names, k))
            both = self._side_by_side(bs, sup, rescored)
            notes = [alpha_note(ctx.settings), f"{samples_note(both.num)}, the same for every row",
                     "rows per attribute: its InterFaceGAN boundary, then the best-matching SeFa and GANSpace "
                     "directions (signed)"]  # fmt: skip
            out.table(change_table(f"method_rescoring_{space}", f"Re-scoring side by side ({space_name(space)})",
                                   both, notes))  # fmt: skip
            change_heatmap(out, both, f"method_rescoring_{space}", "InterFaceGAN / SeFa / GANSpace",
                           "re-scoring of each boundary and its best-matching SeFa and GANSpace directions")
        identity = self._identity(ctx, space, bs, matches, edits)
        if identity is None:
            out.note(f"identity change: not measured ({ctx.no_identity})")
        else:
            out.table(matrix_table("method_identity", "Identity discrepancy of each method's edit (cosine distance)",
                                   [b.attribute for b in bs], ["InterFaceGAN", *TITLES.values()], identity,
                                   corner="attribute", notes=[alpha_note(ctx.settings), samples_note(
                                       ctx.rows(ctx.settings.num_identity)), STAND_IN]))  # fmt: skip
        out.table(self._summary(bs, matches, sup, rescored, identity))
        self._strips(ctx, out, bs, matches, layers)
        out.summary["methods"] = {m: [{"attribute": mt.attribute, "direction": mt.label, "cosine": mt.cosine}
                                      for mt in matches[m]] for m in UNSUPERVISED_KINDS}  # fmt: skip

    def _rescore(self, ctx, matches, edits: dict[str, Edit], sup: RescoringResult) -> RescoringResult:
        """Re-score each distinct matched direction once (one progress bar per direction, named after it), then
        one row per match, columns as the InterFaceGAN matrix."""
        by_label = {}
        for label, edit in edits.items():
            result = ctx.rescore_edits(edit.space, [edit], f"{TITLES[edit.kind]} re-scoring ({label})")
            by_label[label] = reorder(result, sup.attributes)
        return stack_rows([(by_label[mt.label], 0) for mt in matches],
                          [Edit(f"{mt.attribute} ~ {mt.label}", mt.direction, mt.space, attribute=mt.attribute,
                                kind=edits[mt.label].kind) for mt in matches])  # fmt: skip

    def _match_table(self, ctx, method, matches, sup, rescored, names, space, k, layers) -> Table:
        title = TITLES[method]
        rows = []
        for i, mt in enumerate(matches):
            sup_t = own_t = math.nan
            if sup is not None and mt.attribute in sup.attributes:
                j = sup.attributes.index(mt.attribute)
                sup_t, own_t = float(sup.change[sup.labels.index(mt.attribute), j]), float(rescored.change[i, j])
            named = names[mt.index].title if names else ""
            rows.append([mt.attribute, mt.label, mt.index, mt.value, mt.cosine, sup_t, own_t, named])
        notes = [f"top {plural(k, f'{title} direction')} of {ctx.model.name!r} in {space_name(space)}{layers}",
                 "two attributes may match the same direction; a direction's name comes from re-scoring it "
                 f"(naming rule, {NAMING_NUM} fresh samples, alpha {NAMING_ALPHA:g})"]  # fmt: skip
        if method == "ganspace":
            notes.append(f"GANSpace: PCA of {ctx.settings.ganspace_num:,} samples ({_pca_on(ctx)})")
        strength = STRENGTH[method].replace("_", " ")  # the metric the match's value is, as a header
        header = ["attribute", f"{title} direction", "rank", strength, "cosine with InterFaceGAN",
                  "InterFaceGAN target change", f"{title} target change", "name (re-scoring)"]  # fmt: skip
        return Table(f"{method}_match", f"Best-matching {title} direction per boundary ({space_name(space)})",
                     header, rows, notes=notes, label_columns=2)  # fmt: skip

    @staticmethod
    def _cosines(matches, bs, space) -> Table:
        """Cosines between the three matched directions of each attribute."""
        by = {m: {mt.attribute: mt for mt in matches[m]} for m in UNSUPERVISED_KINDS}
        rows = []
        for b in bs:
            s, g = by["sefa"].get(b.attribute), by["ganspace"].get(b.attribute)
            both = float(s.direction.astype(np.float64) @ g.direction.astype(np.float64)) if s and g else math.nan
            rows.append([b.attribute, s.cosine if s else math.nan, g.cosine if g else math.nan, both])
        return Table("matched_cosines", f"Cosines between the matched directions ({space_name(space)})",
                     ["attribute", "InterFaceGAN · SeFa", "InterFaceGAN · GANSpace", "SeFa · GANSpace"], rows,
                     notes=["cosine of the unit directions, each unsupervised one signed to point along the "
                            "boundary"])  # fmt: skip

    @staticmethod
    def _movers(matches, names, k: int) -> Table:
        """Per attribute and method: the matched direction vs. the one of the top k whose edit moves the attribute
        most (by re-scoring on the naming samples), with both changes."""
        rows = []
        for m in UNSUPERVISED_KINDS:
            for mt in matches[m]:
                effect = names[m][mt.index].effects.get(mt.attribute)
                found = strongest_mover(mt.attribute, names[m])
                rows.append([mt.attribute, TITLES[m], mt.label, effect.change_std if effect else math.nan,
                             names[m][found[0]].direction if found else "", found[1] if found else math.nan,
                             "yes" if found and found[0] == mt.index else "no"])  # fmt: skip
        return Table("method_movers", "Matched direction vs. the direction that moves the attribute most",
                     ["attribute", "method", "matched direction", "its change", "moves it most (top k)",
                      "that one's change", "same direction"], rows, label_columns=2,
                     notes=[f"changes measured when naming the directions ({NAMING_NUM} fresh samples, each moved by "
                            f"+{NAMING_ALPHA:g} along the unsigned direction, e.g. sefa_3 for a match -sefa_3, "
                            "which then moves the attribute the other way)",
                            f"'moves it most': the direction of the top {k} with the largest |change| of the "
                            "attribute"])  # fmt: skip

    @staticmethod
    def _side_by_side(bs, sup: RescoringResult, rescored: dict[str, RescoringResult]) -> RescoringResult:
        rows, edits = [], []
        for b in bs:
            rows.append((sup, sup.labels.index(b.attribute)))
            edits.append(Edit(f"{b.attribute}: InterFaceGAN", b.normal, b.space, attribute=b.attribute))
            for m in UNSUPERVISED_KINDS:
                r = rescored[m]
                i = next(i for i, e in enumerate(r.edits) if e.attribute == b.attribute)
                rows.append((r, i))
                label = r.edits[i].label.split(" ~ ")[-1]
                edits.append(Edit(f"{b.attribute}: {TITLES[m]} {label}", r.edits[i].direction, b.space,
                                  attribute=b.attribute, kind=m))  # fmt: skip
        return stack_rows(rows, edits)

    def _identity(self, ctx, space, bs, matches, edits) -> np.ndarray | None:
        """(attributes, 3) identity distance at alpha of the boundary's, SeFa's and GANSpace's edit, or None."""
        if ctx.identity_scorer is None:
            return None
        alpha = ctx.settings.alpha
        sup = ctx.identity(space)
        s = sup.alphas.index(alpha)
        values = np.full((len(bs), 3), np.nan)
        for i, e in enumerate(sup.edits):
            values[[b.attribute for b in bs].index(e.attribute), 0] = sup.distance[i, s]
        for c, m in enumerate(UNSUPERVISED_KINDS, start=1):
            labels = list(edits[m])
            result = ctx.identity_distances(self._source_space(ctx), list(edits[m].values()), [alpha])
            for mt in matches[m]:
                values[[b.attribute for b in bs].index(mt.attribute), c] = result.distance[labels.index(mt.label), 0]
        return values

    @staticmethod
    def _summary(bs, matches, sup, rescored, identity) -> Table:
        """Tab. 3's comparison, per method: mean |cosine| with the boundary, mean target change, mean largest
        other change, mean identity distance (over the attributes)."""
        rows = []
        for c, m in enumerate(["interfacegan", *UNSUPERVISED_KINDS]):
            result = sup if m == "interfacegan" else rescored.get(m)
            target = other = math.nan
            if result is not None:
                dominance = [d for d in result.dominance() if d["attribute"]]
                target = _mean([d["target_change"] for d in dominance])
                other = _mean([abs(d["largest_other_change"]) for d in dominance])
            cosine = 1.0 if m == "interfacegan" else _mean([mt.cosine for mt in matches[m]])
            ident = _mean(identity[:, c]) if identity is not None else math.nan
            rows.append([TITLES.get(m, "InterFaceGAN"), len(bs), cosine, target, other, ident])
        return Table("method_summary", "The methods over all attributes (SeFa paper Tab. 3)",
                     ["method", "attributes", "mean cosine with InterFaceGAN", "mean target change",
                      "mean |largest other change|", "mean identity distance"], rows,
                     notes=["means over the attributes of the tables above (target change: the attribute's own "
                            "normalised change; other: the largest |change| of any other scored attribute)",
                            STAND_IN])  # fmt: skip

    def _strips(self, ctx, out, bs, matches, layers: str) -> None:
        """Fig. 7: one sample (row 0 of the run) along each boundary and its matched directions."""
        from interfacegan.editing.plan import vector_plan
        from interfacegan.editing.render import save_grid
        from interfacegan.editing.stream import edit_images

        values = sorted({0.0, *ctx.settings.sweep})
        source = ctx.source(self._source_space(ctx), 1)
        codes, truncation = source.read(0, 1), source.synthesis_truncation()
        by = {m: {mt.attribute: mt for mt in matches[m]} for m in UNSUPERVISED_KINDS}
        rows, labels = [], []
        for b in bs:
            # the boundary moves whole codes (a w vector moves every W+ layer); matched directions move their layers
            vectors = [("InterFaceGAN", b.normal, None)] + [
                (f"{TITLES[m]} {by[m][b.attribute].label}", by[m][b.attribute].direction, ctx.method_layers)
                for m in UNSUPERVISED_KINDS]  # fmt: skip
            for label, vector, moved in vectors:
                shaped = vector if source.space == "wp" else vector.reshape(codes.shape[1:])
                plan = vector_plan(ctx.model, shaped, source.space, layers=moved)
                rows.append(edit_images(plan, codes, values, batch_size=ctx.settings.batch_size,
                                        truncation=truncation)[0])  # fmt: skip
                labels.append(f"{b.attribute}: {label}")
        path = save_grid(np.stack(rows), out.out / "method_edits.png", col_labels=[f"{v:+g}" for v in values],
                         row_labels=labels)  # fmt: skip
        out.image(path, f"row 0 of the run edited along each boundary and its matched directions (alpha per "
                        f"column{layers})")  # fmt: skip


def _mean(values) -> float:
    finite = [float(v) for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _pca_on(ctx) -> str:
    return "of w" if ctx.model.affine_space == "w" else "of the first layer's activations, regressed back to z"
