"""The `analyze` command: every measurement of the paper on a run, as CSV, PNG and one HTML report.

`interfacegan analyze RUN --out DIR` runs every analysis that applies; `interfacegan analyze NAME RUN --out DIR`
runs one (separability, correlation, boundaries, rescore, layers, identity, distance, sefa). All share the options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, QuietOpt, given
from interfacegan.errors import InterfaceGANError

console = Console()

DESCRIPTIONS = {
    "separability": "Boundary accuracy on validation and remaining samples, per attribute and space (paper Fig. 3).",
    "correlation": "Pearson correlation of attribute scores, synthesized and real data (paper Tab. 1a/1b).",
    "boundaries": "Cosine matrix between boundary normals (paper Tab. 1c, 2c/2d).",
    "rescore": "Re-scoring matrix of every boundary and conditional direction (paper Tab. 3).",
    "layers": "Layer-wise re-scoring over W+ layer groups of style-based models (paper Tab. 4).",
    "identity": "Identity cosine distance before/after each edit (paper Tab. 5).",
    "distance": "Score and identity vs. alpha, and the distance distribution of sampled codes (Fig. 6, Property 2).",
    "sefa": "Re-scoring of the SeFa directions best matching each boundary (SeFa paper Tab. 2).",
}


class _DefaultToAll(TyperGroup):
    """`analyze RUN ...` means `analyze all RUN ...`: a first word that is no analysis name is a run path."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["all", *args]
        return super().parse_args(ctx, args)


analyze_app = typer.Typer(
    cls=_DefaultToAll,
    help="Measure what the boundaries mean: `analyze RUN --out DIR` runs everything, `analyze NAME RUN` one analysis.",
    no_args_is_help=True,
)
app.add_typer(analyze_app, name="analyze")


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise InterfaceGANError(f"bad {what} {text!r}: use comma-separated numbers, e.g. -3,-2,-1,1,2,3") from None


def _run(name: str | None, run: Path, out: Path, boundary, attribute, space, model, scorer, identity_scorer,
         real_scores, num, num_identity, num_distance, alpha, sweep, condition, condition_threshold, layer_group,
         sefa_k, sefa_layers, ratio, batch_size, device, quick, quiet) -> None:  # fmt: skip
    alphas = _floats(sweep, "--sweep") if sweep is not None else None  # parsed before the heavy imports
    from interfacegan.analysis import QUICK, analyze_run

    sizes = given(num_rescore=num, num_identity=num_identity, num_distance=num_distance)
    if quick:
        sizes = dict(QUICK)
    conditions = None
    if condition:
        conditions = condition[0] if len(condition) == 1 and condition[0] in ("auto", "none") else list(condition)
    result = analyze_run(
        run, out, analyses=[name] if name else None, boundaries=boundary or None, attributes=attribute or None,
        spaces=space or None, model=model, scorers=scorer or None,
        identity_scorer=None if identity_scorer == "none" else identity_scorer, real_scores=real_scores,
        layer_groups=layer_group or None, sefa_layers=sefa_layers, device=device, progress=not quiet, **sizes,
        **given(alpha=alpha, sweep=alphas, conditions=conditions, condition_threshold=condition_threshold,
                sefa_k=sefa_k, ratio=ratio, batch_size=batch_size),
    )  # fmt: skip
    _print(result)


def _print(result) -> None:
    table = Table(title="analyses", show_header=True)
    table.add_column("analysis")
    table.add_column("seconds", justify="right")
    for key, seconds in result.seconds.items():
        table.add_row(key, f"{seconds:.1f}")
    for key, reason in result.skipped.items():
        table.add_row(f"[yellow]{key}[/]", f"skipped: {reason}")
    console.print(table)
    for space, info in result.summary.get("rescoring", {}).items():
        rows = [d for d in info["dominance"] if d["attribute"]]
        dominant = [d["edit"] for d in rows if d["dominant"]]
        console.print(f"re-scoring {space}: diagonal dominant for {len(dominant)}/{len(rows)} edits "
                      f"({', '.join(dominant) or 'none'})")  # fmt: skip
    csvs = sum(1 for p in result.files if p.suffix == ".csv")
    pngs = sum(1 for p in result.files if p.suffix == ".png")
    console.print(f"[green]wrote[/] {csvs} CSV tables, {pngs} plots to {result.out}")
    if result.report:
        console.print(f"[green]report[/] {result.report}")


def _make_command(name: str | None):
    def command(
        run: Annotated[Path, typer.Argument(help="Run directory (sampled and scored).")],
        out: Annotated[Path, typer.Option(help="Output directory for CSV, PNG and report.html.")],
        boundary: Annotated[list[str], typer.Option(help="Boundary .npz/.npy to analyse (repeatable); default: "
                                                         "train one per attribute and space on the run.")] = [],  # fmt: skip
        attribute: Annotated[list[str], typer.Option(help="Attributes to analyse (repeatable; default: all scores).")] = [],
        space: Annotated[list[str], typer.Option(help="Spaces to train boundaries in (default: the run's, except wp).")] = [],
        model: Annotated[Optional[str], typer.Option(help="Model spec (default: the run's model).")] = None,
        scorer: Annotated[list[str], typer.Option(help="Scorers for re-scoring (default: those that scored the run).")] = [],
        identity_scorer: Annotated[str, typer.Option(help="auto (dlib identity for face runs), none, or a scorer spec "
                                                          "with a vector output.")] = "auto",  # fmt: skip
        real_scores: Annotated[Optional[Path], typer.Option(help="CSV of real-data scores (header = attributes).")] = None,
        num: Annotated[Optional[int], typer.Option(help="M: samples edited for re-scoring, layer-wise and SeFa.",
                                                   show_default="2000")] = None,  # fmt: skip
        num_identity: Annotated[Optional[int], typer.Option(help="M for identity descriptors (about 0.1 s per face).",
                                                            show_default="16")] = None,  # fmt: skip
        num_distance: Annotated[Optional[int], typer.Option(help="M for the distance sweep.",
                                                            show_default="100")] = None,  # fmt: skip
        alpha: Annotated[Optional[float], typer.Option(help="Edit amount x + alpha n (n unit) for the matrices.",
                                                       show_default="2")] = None,  # fmt: skip
        sweep: Annotated[Optional[str], typer.Option(help="Alphas of the distance sweep, comma-separated.",
                                                     show_default="-3,-2,-1,1,2,3")] = None,  # fmt: skip
        condition: Annotated[list[str], typer.Option(help="PRIMAL|COND[,COND] (repeatable; add 'auto' to keep the "
                                                      "automatic ones too), auto, or none.")] = [],  # fmt: skip
        condition_threshold: Annotated[Optional[float], typer.Option(help="auto: condition on the most correlated "
                                                                     "other boundary when |cosine| >= this.",
                                                                     show_default="0.3")] = None,  # fmt: skip
        layer_group: Annotated[list[str], typer.Option(help="W+ layer group such as 0-1 (repeatable; default "
                                                            "0-1, 2-3, 4-5, 6-7, rest).")] = [],  # fmt: skip
        sefa_k: Annotated[Optional[int], typer.Option(help="Number of SeFa directions to match against.",
                                                      show_default="10")] = None,  # fmt: skip
        sefa_layers: Annotated[Optional[str], typer.Option(help="Style layers for SeFa (style-based models).")] = None,
        ratio: Annotated[Optional[float], typer.Option(help="Top/bottom share of samples when training boundaries.",
                                                       show_default="0.02")] = None,  # fmt: skip
        batch_size: Annotated[Optional[int], typer.Option(help="Synthesis and scoring batch size.",
                                                          show_default="128")] = None,  # fmt: skip
        device: DeviceOpt = "auto",
        quick: Annotated[bool, typer.Option(help="Small M for a first look (300 / 6 / 50 samples, about a minute "
                                                 "on the embedded GAN); overrides --num, --num-identity, --num-distance.")] = False,  # fmt: skip
        quiet: QuietOpt = False,
    ):
        _run(name, run, out, boundary, attribute, space, model, scorer, identity_scorer, real_scores, num,
             num_identity, num_distance, alpha, sweep, condition, condition_threshold, layer_group, sefa_k,
             sefa_layers, ratio, batch_size, device, quick, quiet)  # fmt: skip

    command.__doc__ = DESCRIPTIONS[name] if name else "Run every analysis that applies (the default)."
    return command


analyze_app.command("all")(_make_command(None))
for _name in DESCRIPTIONS:
    analyze_app.command(_name)(_make_command(_name))
