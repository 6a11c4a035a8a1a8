"""SeFa per level (SeFa paper Fig. 2, Tab. 1): the style layers of a style-based generator factorized level by
level (bottom, middle, top layer groups), each direction named by re-scoring, with edit strips per level.

The paper interprets "bottom layers (0-1), middle layers (2-5) and top layers (6-)" of StyleGAN models (Tab. 1;
the official SeFa interface uses 0-1, 2-5 and 6-13 for its 14-layer 256 px models). Those are the groups here for
models with at least 7 W+ layers: bottom 0-1, middle 2-5, top 6 to the last layer. Smaller models are split into
three contiguous groups as equal as they can be (two with 2 layers). Each level's SeFa edits only its own layers
(as SeFa of chosen layers does everywhere), so the strips show what that level controls; in the paper, cars turn
at the bottom, change shape in the middle and colour at the top.
"""

from __future__ import annotations

import numpy as np

from interfacegan.analysis import plots
from interfacegan.analysis.base import Analysis, Work
from interfacegan.analysis.steps.shared import CHANGE_UNIT
from interfacegan.analysis.tables import Table
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import format_layers, parse_layers
from interfacegan.report import plural
from interfacegan.rescoring.matrix import CHANGE_DEFINITION
from interfacegan.rescoring.naming import NAMING_ALPHA, NAMING_NUM, NAMING_RULE

LEVEL_NAMES = ("bottom", "middle", "top")
PAPER_SPLIT = ((0, 2), (2, 6))  # bottom 0-1 and middle 2-5 (SeFa paper Tab. 1); top is the rest
STRIP_SAMPLES = 2  # rows of the run shown per direction in a level's strip


def default_levels(num_layers: int) -> list[str]:
    """The SeFa paper's split as layer selections: 0-1, 2-5, 6-(L-1) for L >= 7 layers; else three (two for L = 2)
    contiguous groups as equal as they can be."""
    if num_layers >= 7:
        return [format_layers(range(a, b)) for a, b in PAPER_SPLIT] + [format_layers(range(6, num_layers))]
    return [format_layers(g) for g in np.array_split(np.arange(num_layers), min(3, num_layers)) if len(g)]


def levels(model, groups=None) -> list[tuple[str, str]]:
    """(level name, layer selection) of the per-level study on `model`: `groups` (layer selections such as '0-1'),
    else `default_levels`. One-line errors for a model without W+ style layers or a group it cannot take."""
    from interfacegan.directions.sefa import sefa_layer_count

    if "wp" not in model.spaces or not model.num_ws or sefa_layer_count(model) < 2:
        raise InterfaceGANError(f"model {model.name!r} has no W+ style layers to factorize level by level (SeFa "
                                "factorizes its first layer, which acts on z): leave sefa_levels unset")  # fmt: skip
    n = int(model.num_ws)
    try:
        chosen = [format_layers(parse_layers(g, n)) for g in groups] if groups else default_levels(n)
    except InterfaceGANError as exc:
        raise InterfaceGANError(f"sefa_levels: {exc}") from None
    if any(not g for g in chosen):
        raise InterfaceGANError("every level of sefa_levels needs at least one W+ layer, e.g. 0-1")
    names = list(LEVEL_NAMES) if len(chosen) == 3 else ["bottom", "top"] if len(chosen) == 2 else []
    return [(names[i] if names else f"level {i}", g) for i, g in enumerate(chosen)]


class SefaLevels(Analysis):
    name = "sefa_levels"
    title = "SeFa per level: bottom, middle and top layers (SeFa paper Fig. 2, Tab. 1)"
    description = "SeFa on bottom, middle and top style layers, each direction named by re-scoring (SeFa paper Fig. 2)."
    intro = ("SeFa factorizes the style affines of one group of W+ layers at a time; each direction edits only its "
             "group's layers and is named by re-scoring. The paper finds a hierarchy: bottom layers turn the "
             "object, middle layers change its shape, top layers its colour.")  # fmt: skip
    needs_boundaries = False

    def skip_reason(self, ctx) -> str:
        try:
            levels(ctx.model, ctx.settings.sefa_levels)
        except InterfaceGANError:
            return (f"model {ctx.model.name!r} has no W+ style layers (SeFa factorizes its first layer, which acts on "
                    "z): the per-level study is for style-based generators")  # fmt: skip
        return ""

    def work(self, ctx) -> Work:
        found, k = levels(ctx.model, ctx.settings.sefa_levels), ctx.top_k(ctx.settings.level_k)
        n = len(found) * k
        detail = f"top {k} SeFa directions of {', '.join(f'{name} {g}' for name, g in found)}"
        if not ctx.scorers:
            return Work(directions=n, detail=f"{detail}; not named ({ctx.no_scorer})")
        return Work(directions=n, images=NAMING_NUM * (n + 1), detail=f"{detail}, named on {NAMING_NUM} samples each")

    def run(self, ctx, out) -> None:
        from interfacegan.directions.sefa import sefa_boundaries

        found, k = levels(ctx.model, ctx.settings.sefa_levels), ctx.top_k(ctx.settings.level_k)
        directions = {g: sefa_boundaries(ctx.model, k=k, layers=g) for _, g in found}
        flat = [d for ds in directions.values() for d in ds]
        names = ctx.name_directions(flat) if ctx.scorers else None
        attributes = list(names[0].effects) if names else []
        rows, labels, i = [], [], 0
        for level, g in found:
            for d in directions[g]:
                name = names[i] if names else None
                effects = [name.effects[a].change_std for a in attributes] if name else []
                rows.append([level, g, d.attribute, name.label if name else "", d.metrics["eigenvalue"], *effects])
                labels.append(f"{level} {name.title if name else d.attribute}")
                i += 1
        notes = [f"top {plural(k, 'SeFa direction')} per level of {ctx.model.name!r} "
                 f"({ctx.model.num_ws} W+ layers); each edits only its level's layers"]  # fmt: skip
        if names:
            notes += [f"attribute columns: normalised change when {NAMING_NUM} fresh samples move by +{NAMING_ALPHA:g} "
                      "along the direction", CHANGE_DEFINITION, f"named: {NAMING_RULE}"]  # fmt: skip
        out.table(Table("sefa_levels", "SeFa directions per level, named by re-scoring",
                        ["level", "layers", "direction", "named", "eigenvalue", *attributes], rows, notes=notes,
                        label_columns=4))  # fmt: skip
        if names:
            values = np.array([[n.effects[a].change_std for a in attributes] for n in names])
            out.plot(plots.heatmap(values, labels, attributes, "SeFa per level", CHANGE_UNIT), "sefa_levels",
                     "what each level's directions move (normalised change)")  # fmt: skip
            out.summary["sefa_levels"] = {level: [n.title for n, d in zip(names, flat) if d.settings["layers"] == g]
                                          for level, g in found}  # fmt: skip
        else:
            out.note(f"directions not named: {ctx.no_scorer}")
        self._strips(ctx, out, found, directions, names)

    @staticmethod
    def _strips(ctx, out, found, directions, names) -> None:
        """One grid per level: rows are its directions on the first STRIP_SAMPLES rows of the run, columns alpha."""
        from interfacegan.editing.plan import plan_edit
        from interfacegan.editing.render import save_grid
        from interfacegan.editing.stream import edit_images

        values = sorted({0.0, *ctx.settings.sweep})
        source = ctx.source("wp", STRIP_SAMPLES)
        codes = source.read(0, source.num)
        i = 0
        for level, g in found:
            rows, labels = [], []
            for d in directions[g]:
                images = edit_images(plan_edit(ctx.model, d), codes, values, batch_size=ctx.settings.batch_size)
                rows += list(images)
                title = names[i].title if names else d.attribute
                labels += [title] + [""] * (len(images) - 1)
                i += 1
            stem = f"sefa_level_{level.replace(' ', '_')}"
            path = save_grid(np.stack(rows), out.out / f"{stem}.png", col_labels=[f"{v:+g}" for v in values],
                             row_labels=labels)  # fmt: skip
            out.image(path, f"{level} layers {g}: each direction on rows 0-{source.num - 1} of the run, alpha per "
                            "column")  # fmt: skip
