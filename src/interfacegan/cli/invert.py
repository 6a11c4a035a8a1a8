"""Commands for real images: invert (photo -> latent code), train-encoder, edit-image (invert, then edit)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, FpsOpt, ModeOpt, QuietOpt, RangeOpt, StepsOpt, edit_settings, given
from interfacegan.cli.options import training_checkpoint

console = Console()

ImagesArg = Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, WebP, ...).", show_default=False)]
InvertStepsOpt = Annotated[
    Optional[int], typer.Option(help="Adam steps per image (0: keep the initial codes).", show_default="300")
]
ScaleOpt = Annotated[
    Optional[int], typer.Option(help="Enlarge images in the sheets by this integer factor.", show_default="2")
]
# The inversion options `invert` and `edit-image` share, declared once: name -> (option, default).
INVERSION_OPTIONS = {
    "lr": (Annotated[Optional[float], typer.Option(help="Adam learning rate, in units of the codes' spread.",
                                                   show_default="0.4")], None),  # fmt: skip
    "init": (Annotated[Optional[str], typer.Option(help="Start codes: auto, mean, search (best of --candidates "
                                                        "samples), encoder.", show_default="auto")], None),  # fmt: skip
    "candidates": (Annotated[Optional[int], typer.Option(help="Random samples tried by --init search.",
                                                         show_default="256")], None),  # fmt: skip
    "encoder": (Annotated[Optional[Path], typer.Option(help="Encoder from train-encoder: start from its guess.")],
                None),  # fmt: skip
    "align": (Annotated[bool, typer.Option("--align", help="Detect and align the face (dlib) instead of "
                                                          "centre-cropping.")], False),  # fmt: skip
    "prior_weight": (Annotated[Optional[float], typer.Option(help="Weight of the Gaussian prior keeping ||z||^2 near "
                                                                  "d (z space).", show_default="0.5")], None),  # fmt: skip
    "spread_weight": (Annotated[Optional[float], typer.Option(help="Weight pulling W+ layers toward one w (W+ "
                                                                   "space).", show_default="0")], None),  # fmt: skip
    "pyramid": (Annotated[Optional[float], typer.Option(help="Weight of the multi-scale L1 loss (pixel MSE has "
                                                             "weight 1).", show_default="0.25")], None),  # fmt: skip
    "seed": (Annotated[Optional[int], typer.Option(help="Seed of the --init search samples.", show_default="0")], None),
    "batch_size": (Annotated[Optional[int], typer.Option(help="Images optimised together.", show_default="16")], None),
}


@dataclass
class InversionOptions:
    """The values of INVERSION_OPTIONS a command was given: checked before any work, then run by `invert`."""

    lr: float | None
    init: str | None
    candidates: int | None
    encoder: Path | None
    align: bool
    prior_weight: float | None
    spread_weight: float | None
    pyramid: float | None
    seed: int | None
    batch_size: int | None

    def _numbers(self, steps: int | None) -> dict:
        """The numeric settings given (None: the API's default applies), as `invert` names them."""
        return given(steps=steps, lr=self.lr, prior_weight=self.prior_weight, spread_weight=self.spread_weight,
                     num_candidates=self.candidates, seed=self.seed, batch_size=self.batch_size)

    def _loss(self):
        from interfacegan.inversion import ReconstructionLoss

        return ReconstructionLoss(**given(pyramid=self.pyramid))

    def check(self, steps: int | None) -> None:
        """One line for a bad number among them (or `steps`), before a model loads or an image is read."""
        from interfacegan.inversion.optimize import check_inversion

        check_inversion(**self._numbers(steps))
        self._loss()

    def invert(self, model, targets, space: str | None, steps: int | None, quiet: bool):
        """`interfacegan.inversion.invert` of uint8 `targets` with these options."""
        from interfacegan.inversion import invert

        return invert(model, targets, space=space, loss=self._loss(), encoder=self.encoder, progress=not quiet,
                      **self._numbers(steps), **given(init=self.init))  # fmt: skip


def inversion_options(command):
    """Give `command` the INVERSION_OPTIONS (before its `device` option); it receives them as `inversion`, an
    InversionOptions (typer reads the signature set here)."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "inversion"]
    shared = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=option, default=default)
              for name, (option, default) in INVERSION_OPTIONS.items()]  # fmt: skip
    at = next((i for i, p in enumerate(own) if p.name == "device"), len(own))

    @functools.wraps(command)
    def with_options(**values):
        inversion = InversionOptions(**{name: values.pop(name) for name in INVERSION_OPTIONS})
        return command(inversion=inversion, **values)

    with_options.__signature__ = inspect.Signature(own[:at] + shared + own[at:])
    return with_options


def _report(result, images: list[Path]) -> None:
    for path, value in zip(images, result.psnr):
        console.print(f"  {path}: PSNR {value:.2f} dB")


@app.command("invert")
@inversion_options
def invert_command(
    images: ImagesArg,
    out: Annotated[Path, typer.Option(help="Output directory: codes.npy, comparison.png, inputs/, reconstructions/.")],
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the encoder's model, else dcgan-digiface).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Latent space to invert into (default: z, or wp for style models).")] = None,
    steps: InvertStepsOpt = None,
    scale: ScaleOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    inversion: InversionOptions = None,
):
    """Find the latent codes of real images by optimisation (optionally from an encoder's guess)."""
    from interfacegan.atomic import check_output
    from interfacegan.editing.render import check_render
    from interfacegan.inversion.files import check_image_files, inversion_model_spec, read_targets, save_inversion
    from interfacegan.models import load_model
    from interfacegan.report import plural

    check_output(out, "dir")
    check_image_files(images)
    inversion.check(steps)
    check_render(**given(scale=scale))
    generator = load_model(inversion_model_spec(model, inversion.encoder), device=device)
    if space is not None:
        generator.check_space(space)
    targets = read_targets(generator, images, inversion.align)
    result = inversion.invert(generator, targets, space, steps, quiet)
    meta = {"model": generator.spec, "align": inversion.align}
    paths = save_inversion(result, targets, out, [str(p) for p in images], meta, **given(scale=scale))
    console.print(f"[green]inverted[/] {plural(len(images), 'image')} into {result.space!r} codes of {generator.spec} "
                  f"({result.init} start, {len(result.losses) - 1} steps): "
                  f"mean PSNR {result.psnr.mean():.2f} dB")  # fmt: skip
    _report(result, images)
    console.print(f"wrote {paths[0]} {tuple(result.codes.shape)}, {out / 'comparison.png'} and {out / 'inversion.json'}")


@app.command("train-encoder")
def train_encoder_command(
    out: Annotated[Path, typer.Option(help="Encoder file to write (e.g. enc.pt); ENC.ckpt holds resumable progress.")],
    model: Annotated[Optional[str], typer.Option(help="Model spec: dcgan-digiface, toy, or FORMAT:PATH.",
                                                 show_default="dcgan-digiface")] = None,  # fmt: skip
    space: Annotated[Optional[str], typer.Option(help="Space the encoder predicts (default: z, or wp for style models).")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps (batches of fresh samples).", show_default="1000")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Samples per step.", show_default="32")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate.", show_default="0.001")] = None,
    width: Annotated[Optional[int], typer.Option(help="Channels of the first convolution (doubling per halving).", show_default="32")] = None,
    image_weight: Annotated[Optional[float], typer.Option(help="Weight of the re-synthesis loss (the code loss has weight 1).", show_default="1")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the training samples and initial weights.", show_default="0")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Save resumable progress every this many steps.", show_default="100")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing encoder file.")] = False,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Train an encoder image -> code on the model's own samples; an interrupted run resumes when rerun."""
    from interfacegan.inversion import train_encoder
    from interfacegan.inversion.files import inversion_model_spec
    from interfacegan.models import load_model

    checkpoint = training_checkpoint(out, force, checkpoint_every, "encoder")
    generator = load_model(inversion_model_spec(model), device=device)
    if checkpoint.exists():
        console.print(f"resuming from {checkpoint}")
    encoder = train_encoder(generator, space=space, checkpoint=checkpoint, progress=not quiet,
                            **given(steps=steps, batch_size=batch_size, lr=lr, width=width, image_weight=image_weight,
                                    seed=seed, checkpoint_every=checkpoint_every))  # fmt: skip
    encoder.save(out)
    m, trained = encoder.config.metrics, encoder.config.training["steps"]
    console.print(f"[green]trained[/] a {encoder.space!r} encoder for {generator.spec} in {trained} steps: on "
                  f"{m['held_out']} held-out samples, code RMSE {m['code_rmse']:.3f} (spread units), "
                  f"re-synthesis PSNR {m['psnr']:.2f} dB")  # fmt: skip
    console.print(f"wrote {out}")


@app.command("edit-image")
@inversion_options
def edit_image(
    boundary: Annotated[str, typer.Option(help="Boundary .npz, official .npy, or PATH:I of a direction stack.")],
    out: Annotated[Path, typer.Option(help="Output directory: grid.png, edit.gif, codes.npy, comparison.png.")],
    images: Annotated[Optional[list[Path]], typer.Argument(help="Image files (PNG, JPEG, WebP, ...).", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the boundary's model).")] = None,
    condition: Annotated[list[str], typer.Option(help="Boundary to keep unchanged (repeatable).")] = [],
    steps: StepsOpt = None,
    range_: RangeOpt = None,
    mode: ModeOpt = None,
    layers: Annotated[Optional[str], typer.Option(help="W+ layers to edit, e.g. 0-3,6 (style models).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Space of .npy directions and of the inversion (default: the boundary's).")] = None,
    invert_steps: InvertStepsOpt = None,
    codes: Annotated[Optional[Path], typer.Option(help="Edit the codes.npy of an earlier `invert` run instead of images.")] = None,
    mp4: Annotated[bool, typer.Option("--mp4", help="Also write edit.mp4.")] = False,
    fps: FpsOpt = None,
    scale: ScaleOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    inversion: InversionOptions = None,
):
    """Invert real images, then edit them along a boundary: grid.png (rows = images, columns = steps), edit.gif."""
    from interfacegan.atomic import check_output, staged_dir
    from interfacegan.directions.files import load_direction
    from interfacegan.editing.render import check_render
    from interfacegan.editing.run import EditRequest, edit_codes, save_edit
    from interfacegan.errors import InterfaceGANError
    from interfacegan.inversion.files import check_image_files, inversion_model_spec, load_codes, read_targets
    from interfacegan.inversion.files import SHEET_SCALE, save_inversion
    from interfacegan.models import load_model
    from interfacegan.report import plural

    images = images or []
    check_output(out, "dir")
    if codes is None:
        check_image_files(images)
        inversion.check(invert_steps)
    elif images:
        raise InterfaceGANError("give image files or --codes, not both")
    scale = SHEET_SCALE if scale is None else scale  # the inversion sheets' and the edit's
    render = {**given(fps=fps), "scale": scale}
    check_render(**render)
    primal = load_direction(boundary, space=space, model=model)
    conditions = [load_direction(c, space=primal.space, model=model or primal.model) for c in condition]
    request = EditRequest(primal, conditions, layers=layers, space=space, **edit_settings(steps, range_, mode))
    request.check()  # mode, range and steps, before the model loads
    generator = load_model(inversion_model_spec(model or primal.model, inversion.encoder), device=device)
    plan = request.plan(generator)  # a wrong boundary fails here, before the inversion
    written = [out / "grid.png", out / "edit.gif"]
    if codes is not None:
        edited = edit_codes(generator, load_codes(codes, generator, plan.space), request, plan=plan)
        save_edit(edited, out, mp4=mp4, **render)
    else:
        targets = read_targets(generator, images, inversion.align)
        result = inversion.invert(generator, targets, plan.space, invert_steps, quiet)
        edited = edit_codes(generator, result.codes, request, plan=plan)
        meta = {"model": generator.spec, "align": inversion.align, "boundary": str(boundary)}
        with staged_dir(out) as stage:  # the inversion's files and the edit's, or none
            save_inversion(result, targets, stage, [str(p) for p in images], meta, scale=scale)
            save_edit(edited, stage, mp4=mp4, **render)
        console.print(f"[green]inverted[/] {plural(len(images), 'image')} into {result.space!r} ({result.init} start, "
                      f"{len(result.losses) - 1} steps): mean PSNR {result.psnr.mean():.2f} dB")  # fmt: skip
        _report(result, images)
        written += [out / "comparison.png", out / "codes.npy"]
    if edited.conditional is not None:
        console.print(f"conditional direction: cosine {plan.cosine:.3f} with the boundary")
    where = f" on layers {edited.layers}" if edited.layers else ""
    console.print(f"[green]edited[/] along {primal.attribute!r} ({edited.space}{where}), {request.mode} "
                  f"{edited.values[0]:+g} .. {edited.values[-1]:+g} "
                  f"in {plural(len(edited.values), 'step')}")  # fmt: skip
    for p in written:
        console.print(f"wrote {p}")
