"""Commands for real images: invert (photo -> latent code), train-encoder, edit-image (invert, then edit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, QuietOpt, training_checkpoint

console = Console()

ImagesArg = Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, WebP, ...).", show_default=False)]
InvertStepsOpt = Annotated[int, typer.Option(help="Adam steps per image (0: keep the initial codes).")]
LrOpt = Annotated[float, typer.Option(help="Adam learning rate, in units of the codes' spread.")]
InitOpt = Annotated[str, typer.Option(help="Start codes: auto, mean, search (best of --candidates samples), encoder.")]
CandidatesOpt = Annotated[int, typer.Option(help="Random samples tried by --init search.")]
EncoderOpt = Annotated[Optional[Path], typer.Option(help="Encoder from train-encoder: start from its guess.")]
AlignOpt = Annotated[bool, typer.Option("--align", help="Detect and align the face (dlib) instead of centre-cropping.")]
PriorOpt = Annotated[float, typer.Option(help="Weight of the Gaussian prior keeping ||z||^2 near d (z space).")]
SpreadOpt = Annotated[float, typer.Option(help="Weight pulling W+ layers toward one w (W+ space).")]
PyramidOpt = Annotated[float, typer.Option(help="Weight of the multi-scale L1 loss (pixel MSE has weight 1).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the --init search samples.")]
BatchOpt = Annotated[int, typer.Option(help="Images optimised together.")]
ScaleOpt = Annotated[int, typer.Option(help="Enlarge images in the sheets by this integer factor.")]


def _run_inversion(model, targets, space, steps, lr, init, candidates, encoder, prior_weight, spread_weight, pyramid,
                   seed, batch_size, quiet):  # fmt: skip
    from interfacegan.inversion import ReconstructionLoss, invert

    return invert(model, targets, space=space, steps=steps, lr=lr, loss=ReconstructionLoss(pyramid=pyramid),
                  prior_weight=prior_weight, spread_weight=spread_weight, init=init, num_candidates=candidates,
                  encoder=encoder, seed=seed, batch_size=batch_size, progress=not quiet)  # fmt: skip


def _report(result, images: list[Path]) -> None:
    for path, value in zip(images, result.psnr):
        console.print(f"  {path}: PSNR {value:.2f} dB")


@app.command("invert")
def invert_command(
    images: ImagesArg,
    out: Annotated[Path, typer.Option(help="Output directory: codes.npy, comparison.png, inputs/, reconstructions/.")],
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the encoder's model, else dcgan-digiface).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Latent space to invert into (default: z, or wp for style models).")] = None,
    steps: InvertStepsOpt = 300,
    lr: LrOpt = 0.4,
    init: InitOpt = "auto",
    candidates: CandidatesOpt = 256,
    encoder: EncoderOpt = None,
    align: AlignOpt = False,
    prior_weight: PriorOpt = 0.5,
    spread_weight: SpreadOpt = 0.0,
    pyramid: PyramidOpt = 0.25,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 16,
    scale: ScaleOpt = 2,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Find the latent codes of real images by optimisation (optionally from an encoder's guess)."""
    from interfacegan.inversion.files import check_image_files, inversion_model_spec, read_targets, save_inversion
    from interfacegan.models import load_model

    check_image_files(images)
    generator = load_model(inversion_model_spec(model, encoder), device=device)
    if space is not None:
        generator.check_space(space)
    targets = read_targets(generator, images, align)
    result = _run_inversion(generator, targets, space, steps, lr, init, candidates, encoder, prior_weight,
                            spread_weight, pyramid, seed, batch_size, quiet)  # fmt: skip
    meta = {"model": generator.spec, "align": align}
    paths = save_inversion(result, targets, out, [str(p) for p in images], meta, scale=scale)
    console.print(f"[green]inverted[/] {len(images)} image(s) into {result.space!r} codes of {generator.spec} "
                  f"({result.init} start, {steps} steps): mean PSNR {result.psnr.mean():.2f} dB")  # fmt: skip
    _report(result, images)
    console.print(f"wrote {paths[0]} {tuple(result.codes.shape)}, {out / 'comparison.png'} and {out / 'inversion.json'}")


@app.command("train-encoder")
def train_encoder_command(
    out: Annotated[Path, typer.Option(help="Encoder file to write (e.g. enc.pt); ENC.ckpt holds resumable progress.")],
    model: Annotated[Optional[str], typer.Option(help="Model spec: dcgan-digiface, toy, or FORMAT:PATH.",
                                                 show_default="dcgan-digiface")] = None,  # fmt: skip
    space: Annotated[Optional[str], typer.Option(help="Space the encoder predicts (default: z, or wp for style models).")] = None,
    steps: Annotated[int, typer.Option(help="Training steps (batches of fresh samples).")] = 1000,
    batch_size: Annotated[int, typer.Option(help="Samples per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    width: Annotated[int, typer.Option(help="Channels of the first convolution (doubling per halving).")] = 32,
    image_weight: Annotated[float, typer.Option(help="Weight of the re-synthesis loss (the code loss has weight 1).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the training samples and initial weights.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="Save resumable progress every this many steps.")] = 50,
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
    encoder = train_encoder(generator, steps=steps, batch_size=batch_size, lr=lr, space=space, width=width,
                            image_weight=image_weight, seed=seed, checkpoint=checkpoint,
                            checkpoint_every=checkpoint_every, progress=not quiet)  # fmt: skip
    encoder.save(out)
    m = encoder.config.metrics
    console.print(f"[green]trained[/] a {encoder.space!r} encoder for {generator.spec} in {steps} steps: on "
                  f"{m['held_out']} held-out samples, code RMSE {m['code_rmse']:.3f} (spread units), "
                  f"re-synthesis PSNR {m['psnr']:.2f} dB")  # fmt: skip
    console.print(f"wrote {out}")


@app.command("edit-image")
def edit_image(
    boundary: Annotated[str, typer.Option(help="Boundary .npz, official .npy, or PATH:I of a direction stack.")],
    out: Annotated[Path, typer.Option(help="Output directory: grid.png, edit.gif, codes.npy, comparison.png.")],
    images: Annotated[Optional[list[Path]], typer.Argument(help="Image files (PNG, JPEG, WebP, ...).", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the boundary's model).")] = None,
    condition: Annotated[list[str], typer.Option(help="Boundary to keep unchanged (repeatable).")] = [],
    steps: Annotated[int, typer.Option(help="Number of edit steps (grid columns).")] = 7,
    range_: Annotated[tuple[float, float], typer.Option("--range", help="First and last step: offsets or distances.")] = (-3.0, 3.0),
    mode: Annotated[str, typer.Option(help="offset: x + a*n; distance: move each code to signed distance a.")] = "offset",
    layers: Annotated[Optional[str], typer.Option(help="W+ layers to edit, e.g. 0-3,6 (style models).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Space of .npy directions and of the inversion (default: the boundary's).")] = None,
    invert_steps: InvertStepsOpt = 300,
    lr: LrOpt = 0.4,
    init: InitOpt = "auto",
    candidates: CandidatesOpt = 256,
    encoder: EncoderOpt = None,
    align: AlignOpt = False,
    prior_weight: PriorOpt = 0.5,
    spread_weight: SpreadOpt = 0.0,
    pyramid: PyramidOpt = 0.25,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 16,
    codes: Annotated[Optional[Path], typer.Option(help="Edit the codes.npy of an earlier `invert` run instead of images.")] = None,
    mp4: Annotated[bool, typer.Option("--mp4", help="Also write edit.mp4.")] = False,
    fps: Annotated[float, typer.Option(help="Animation frames per second.")] = 6.0,
    scale: ScaleOpt = 2,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Invert real images, then edit them along a boundary: grid.png (rows = images, columns = steps), edit.gif."""
    from interfacegan.directions.files import load_direction
    from interfacegan.editing.run import EditRequest, edit_codes, save_edit
    from interfacegan.errors import InterfaceGANError
    from interfacegan.inversion.files import check_image_files, inversion_model_spec, load_codes, read_targets
    from interfacegan.inversion.files import save_inversion
    from interfacegan.models import load_model

    images = images or []
    if codes is None:
        check_image_files(images)
    elif images:
        raise InterfaceGANError("give image files or --codes, not both")
    primal = load_direction(boundary, space=space or "z", model=model)
    conditions = [load_direction(c, space=primal.space, model=model or primal.model) for c in condition]
    spec = inversion_model_spec(model or primal.model, encoder)
    generator = load_model(spec, device=device)
    request = EditRequest(primal, conditions, steps, range_[0], range_[1], mode=mode, layers=layers, space=space)
    plan = request.plan(generator)  # a wrong boundary fails here, before the inversion
    code_space = plan.space
    written = [out / "grid.png", out / "edit.gif"]
    if codes is not None:
        edited = edit_codes(generator, load_codes(codes, generator, code_space), request, plan=plan)
        save_edit(edited, out, mp4=mp4, fps=fps, scale=scale)
    else:
        targets = read_targets(generator, images, align)
        result = _run_inversion(generator, targets, code_space, invert_steps, lr, init, candidates, encoder,
                                prior_weight, spread_weight, pyramid, seed, batch_size, quiet)  # fmt: skip
        edited = edit_codes(generator, result.codes, request, plan=plan)
        meta = {"model": generator.spec, "align": align, "boundary": str(boundary)}
        save_inversion(result, targets, out, [str(p) for p in images], meta, scale=scale)
        save_edit(edited, out, mp4=mp4, fps=fps, scale=scale)
        console.print(f"[green]inverted[/] {len(images)} image(s) into {result.space!r} ({result.init} start, "
                      f"{invert_steps} steps): mean PSNR {result.psnr.mean():.2f} dB")  # fmt: skip
        _report(result, images)
        written += [out / "comparison.png", out / "codes.npy"]
    if edited.conditional is not None:
        console.print(f"conditional direction: cosine {plan.cosine:.3f} with the boundary")
    where = f" on layers {edited.layers}" if edited.layers else ""
    console.print(f"[green]edited[/] along {primal.attribute!r} ({edited.space}{where}), {mode} "
                  f"{edited.values[0]:+g} .. {edited.values[-1]:+g} in {steps} steps")  # fmt: skip
    for p in written:
        console.print(f"wrote {p}")
