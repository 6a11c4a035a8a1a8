"""The `analyze` command: every measurement of the paper on a run, as CSV, PNG and one HTML report.

`interfacegan analyze RUN --out DIR` runs every analysis that applies; `interfacegan analyze NAME RUN --out DIR`
runs one (the names and descriptions come from `analysis.registry`, loaded when `analyze` is used). All share
the options. The plan (work per analysis and a time estimate) is printed before the work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from interfacegan.cli import app
from interfacegan.cli.flags import with_option_names
from interfacegan.cli.options import DeviceOpt, ExecutorOpt, GpusPerWorkerOpt, QuietOpt, RayAddressOpt, given
from interfacegan.cli.options import executor_from_options
from interfacegan.errors import InterfaceGANError

console = Console()

# The API parameters that `analyze` passes under another name: {API parameter: this command's parameter}. The rest
# (alpha, ratio, sefa_layers, ...) have the same name in both, so `cli.flags` finds their options by itself.
API_NAMES = {
    "boundaries": "boundary", "boundaries_dir": "boundaries", "attributes": "attribute", "spaces": "space",
    "scorers": "scorer", "num_rescore": "num", "layer_groups": "layer_group", "sefa_levels": "sefa_level",
}  # fmt: skip


def with_flags(text: str, command) -> str:
    """A library message with the parameters it names (`scorers`, sefa_layers, ...) written as `command`'s options."""
    return with_option_names(text, command, API_NAMES)


def plan_text(plan, command) -> str:
    """The plan with its messages' parameters replaced by options, but not its analysis names (`sefa_levels` is
    both an analysis and a parameter)."""
    names = {a.name for a in plan.analyses}
    lines = []
    for line in plan.lines():
        head = line.lstrip()
        name = head.split(" ", 1)[0]
        keep = len(line) - len(head) + len(name) if name in names else 0
        lines.append(line[:keep] + with_flags(line[keep:], command))
    return "\n".join(lines)


class _AnalysisGroup(TyperGroup):
    """`analyze NAME` for each registered analysis (added on first use: the registry imports torch), and
    `analyze RUN ...` meaning `analyze all RUN ...` (a first word that is no analysis name is a run path)."""

    _loaded = False

    def _load_registry(self) -> None:
        if self._loaded:
            return
        from interfacegan.analysis.registry import REGISTRY

        commands = typer.Typer()
        for analysis in REGISTRY:
            commands.command(analysis.name, help=analysis.description)(_make_command(analysis.name))
        group = typer.main.get_command(commands)
        found = getattr(group, "commands", None) or {REGISTRY[0].name: group}  # one command is not made a group
        for name, command in found.items():
            self.add_command(command, name)
        self._loaded = True

    def list_commands(self, ctx):
        self._load_registry()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        if name not in self.commands:
            self._load_registry()
        return super().get_command(ctx, name)

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            self._load_registry()
            if args[0] not in self.commands:
                args = ["all", *args]
        return super().parse_args(ctx, args)


analyze_app = typer.Typer(
    cls=_AnalysisGroup,
    help="Measure what the boundaries mean: `analyze RUN --out DIR` runs everything, `analyze NAME RUN` one analysis.",
    no_args_is_help=True,
)
app.add_typer(analyze_app, name="analyze")


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise InterfaceGANError(f"bad {what} {text!r}: use comma-separated numbers, e.g. -3,-2,-1,1,2,3") from None


def _run(command, name: str | None, run: str, out: Path, boundary, boundaries, retrain, attribute, space, model,
         scorer, identity_scorer, real_scores, num, num_identity, num_distance, alpha, sweep, condition,
         condition_threshold, layer_group, sefa_k, sefa_layers, ganspace_num, sefa_level, level_k, ratio, batch_size,
         device, quick, plan, quiet, executor, ray_address, gpus_per_worker) -> None:  # fmt: skip
    alphas = _floats(sweep, "--sweep") if sweep is not None else None  # parsed before the heavy imports
    if retrain and (boundary or boundaries):
        raise InterfaceGANError("--retrain trains boundaries here: drop it, or drop --boundary / --boundaries")
    engine = executor_from_options(executor, ray_address, gpus_per_worker)
    from interfacegan.analysis import QUICK, analyze_run

    sizes = given(num_rescore=num, num_identity=num_identity, num_distance=num_distance)
    if quick:
        sizes = dict(QUICK)
    sizes.update(given(ganspace_num=ganspace_num))  # GANSpace's samples: given, else QUICK's with --quick
    conditions = None
    if condition:
        conditions = condition[0] if len(condition) == 1 and condition[0] in ("auto", "none") else list(condition)
    try:
        result = analyze_run(
            run, out, analyses=[name] if name else None, boundaries=boundary or None,
            boundaries_dir=None if retrain else boundaries or "auto", attributes=attribute or None,
            spaces=space or None, model=model, scorers=scorer or None,
            identity_scorer=None if identity_scorer == "none" else identity_scorer, real_scores=real_scores,
            layer_groups=layer_group or None, sefa_layers=sefa_layers, sefa_levels=sefa_level or None,
            device=device, progress=not quiet, executor=engine,
            on_plan=lambda p: console.print(plan_text(p, command), markup=False, highlight=False, soft_wrap=True),
            plan_only=plan,
            **sizes, **given(alpha=alpha, sweep=alphas, conditions=conditions, condition_threshold=condition_threshold,
                             sefa_k=sefa_k, level_k=level_k, ratio=ratio, batch_size=batch_size),
        )  # fmt: skip
    except InterfaceGANError as exc:
        raise InterfaceGANError(with_flags(str(exc), command)) from None
    if not plan:
        _print(result, command)


def _print(result, command) -> None:
    from interfacegan.report import plural

    table = Table(title="analyses", show_header=True)
    table.add_column("analysis")
    table.add_column("seconds", justify="right")
    for key, seconds in result.seconds.items():
        table.add_row(key, f"{seconds:.1f}")
    for key, reason in result.skipped.items():
        table.add_row(f"[yellow]{key}[/]", f"skipped: {with_flags(reason, command)}")
    console.print(table)
    for space, info in result.summary.get("rescoring", {}).items():
        rows = [d for d in info["dominance"] if d["attribute"]]
        dominant = [d["edit"] for d in rows if d["dominant"]]
        console.print(f"re-scoring {space}: diagonal dominant for {len(dominant)} of {plural(len(rows), 'edit')} "
                      f"({', '.join(dominant) or 'none'})")  # fmt: skip
    csvs = sum(1 for p in result.files if p.suffix == ".csv")
    pngs = sum(1 for p in result.files if p.suffix == ".png")
    console.print(f"[green]wrote[/] {plural(csvs, 'CSV table')} and {plural(pngs, 'image')} to {result.out}")
    if result.report:
        console.print(f"[green]report[/] {result.report}")


def _make_command(name: str | None):
    def command(
        ctx: typer.Context,
        run: Annotated[str, typer.Argument(help="Run directory or URL (s3://bucket/run), sampled and scored.")],
        out: Annotated[Path, typer.Option(help="Output directory for CSV, PNG and report.html.")],
        boundary: Annotated[list[str], typer.Option(help="Boundary .npz/.npy, PATH:I or folder to analyse "
                                                         "(repeatable).")] = [],  # fmt: skip
        boundaries: Annotated[Optional[Path], typer.Option(help="Folder written by train-boundary (default: "
                                                                "RUN-boundaries beside the run, when it exists; "
                                                                "else boundaries are trained here).")] = None,  # fmt: skip
        retrain: Annotated[bool, typer.Option(help="Train boundaries here with --ratio even when RUN-boundaries "
                                                   "exists.")] = False,  # fmt: skip
        attribute: Annotated[list[str], typer.Option(help="Attributes to analyse (repeatable; default: all scores).")] = [],
        space: Annotated[list[str], typer.Option(help="Spaces to train boundaries in (default: the run's, except wp).")] = [],
        model: Annotated[Optional[str], typer.Option(help="Model spec (default: the run's model).")] = None,
        scorer: Annotated[list[str], typer.Option(help="Scorers for re-scoring (default: the run's own, when they are "
                                                       "built-in: face, identity, gender, age, toy).")] = [],  # fmt: skip
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
        sefa_k: Annotated[Optional[int], typer.Option(help="Number of SeFa and of GANSpace directions to match "
                                                           "against.", show_default="10")] = None,  # fmt: skip
        sefa_layers: Annotated[Optional[str], typer.Option(help="Style layers for SeFa (style-based models).")] = None,
        ganspace_num: Annotated[Optional[int], typer.Option(help="Samples of GANSpace's PCA in the method "
                                                            "comparison (--quick: 5000).",
                                                            show_default="20000")] = None,  # fmt: skip
        sefa_level: Annotated[list[str], typer.Option(help="W+ layer group of SeFa's per-level study (repeatable; "
                                                           "default 0-1, 2-5, 6-end as the SeFa paper).")] = [],
        level_k: Annotated[Optional[int], typer.Option(help="SeFa directions per level.", show_default="5")] = None,
        ratio: Annotated[Optional[float], typer.Option(help="Top/bottom share of samples when training boundaries.",
                                                       show_default="0.02")] = None,  # fmt: skip
        batch_size: Annotated[Optional[int], typer.Option(help="Synthesis and scoring batch size.",
                                                          show_default="128")] = None,  # fmt: skip
        device: DeviceOpt = "auto",
        quick: Annotated[bool, typer.Option(help="Small M for a first look (300 / 6 / 50 samples, GANSpace on "
                                                 "5000: a few minutes on the embedded GAN, as the plan estimates); "
                                                 "overrides --num, --num-identity, --num-distance.")
                         ] = False,  # fmt: skip
        plan: Annotated[bool, typer.Option(help="Print the planned work and the time estimate, then stop (the sefa "
                                                "analysis fits GANSpace first, to count its matched directions).")
                        ] = False,
        executor: ExecutorOpt = "local",
        ray_address: RayAddressOpt = None,
        gpus_per_worker: GpusPerWorkerOpt = None,
        quiet: QuietOpt = False,
    ):
        _run(ctx.command, name, run, out, boundary, boundaries, retrain, attribute, space, model, scorer,
             identity_scorer, real_scores, num, num_identity, num_distance, alpha, sweep, condition,
             condition_threshold, layer_group, sefa_k, sefa_layers, ganspace_num, sefa_level, level_k, ratio,
             batch_size, device, quick, plan, quiet, executor, ray_address, gpus_per_worker)  # fmt: skip

    return command


analyze_app.command("all", help="Run every analysis that applies (the default).")(_make_command(None))
