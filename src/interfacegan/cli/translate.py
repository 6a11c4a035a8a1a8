"""Commands for feed-forward editing: train-translator (synthetic pairs -> DNI networks) and translate (apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DEFAULT_MODEL, DeviceOpt, QuietOpt, given, training_checkpoint

console = Console()
StrengthOpt = Annotated[list[str], typer.Option(help="Strengths, comma-separated or repeated: 0 = input, 1 = edit.")]


@app.command("train-translator")
def train_translator_command(
    boundary: Annotated[str, typer.Option(help="Boundary .npz, official .npy, or PATH:I of a direction stack.")],
    out: Annotated[Path, typer.Option(help="Translator file to write (e.g. translator.pt).")],
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the boundary's model).")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="Edit amount: pairs are G(z) and G(z + alpha * n).", show_default="3")] = None,
    num: Annotated[Optional[int], typer.Option(help="Pairs to sample (before --keep).", show_default="1000")] = None,
    keep: Annotated[Optional[float], typer.Option(help="Fraction of pairs kept, largest score change first (--scorer).", show_default="1")] = None,
    scorer: Annotated[Optional[str], typer.Option(help="Scorer re-scoring the pairs, e.g. face.")] = None,
    attribute: Annotated[Optional[str], typer.Option(help="Scorer output to rank by (default: boundary's).")] = None,
    identity_steps: Annotated[Optional[int], typer.Option(help="Adam steps of the identity network.", show_default="300")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Adam steps of fine-tuning on the pairs.", show_default="600")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Images per step.", show_default="16")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate.", show_default="0.001")] = None,
    width: Annotated[Optional[int], typer.Option(help="Channels of the first U-Net level.", show_default="32")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the sampled codes, initial weights and minibatches.", show_default="0")] = None,
    space: Annotated[
        Optional[str], typer.Option(help="Space the codes are edited in (default: the boundary's; z for a plain .npy).")
    ] = None,
    flip: Annotated[bool, typer.Option(help="Mirror training images at random (off for asymmetric edits).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing translator file.")] = False,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Save resumable progress every this many steps.", show_default="50")] = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Train a feed-forward editor on InterFaceGAN pairs: an identity network and a copy fine-tuned to edit.

    Progress is saved to OUT.ckpt; an interrupted run continues from it when rerun with the same options."""
    from interfacegan.directions.files import load_direction
    from interfacegan.models import load_model
    from interfacegan.translation import train_translator

    checkpoint = training_checkpoint(out, force, checkpoint_every, "translator")
    direction = load_direction(boundary, space=space, model=model)
    generator = load_model(model or direction.model or DEFAULT_MODEL, device=device)
    if checkpoint.exists():
        console.print(f"resuming from {checkpoint}")
    translator = train_translator(generator, direction, scorer=scorer, attribute=attribute, progress=not quiet,
                                  space=space or direction.space, flip=flip, checkpoint=checkpoint,
                                  **given(alpha=alpha, num=num, keep=keep, identity_steps=identity_steps, steps=steps,
                                          batch_size=batch_size, lr=lr, width=width, seed=seed,
                                          checkpoint_every=checkpoint_every))  # fmt: skip
    translator.save(out)
    m = translator.metrics
    console.print(f"[green]trained[/] a {translator.attribute!r} translator for {generator.spec} on "
                  f"{translator.training['pairs']} pairs: held-out PSNR to the latent edit {m['psnr']:.2f} dB "
                  f"(unedited input {m['psnr_unedited']:.2f} dB)")  # fmt: skip
    console.print(f"wrote {out}")


def parse_strengths(items: list[str]) -> list[float]:
    """['0,0.5', '1'] -> [0.0, 0.5, 1.0]; a one-line error for anything that is not a number."""
    from interfacegan.errors import InterfaceGANError

    values = []
    for item in items:
        for part in item.replace(",", " ").split():
            try:
                values.append(float(part))
            except ValueError:
                raise InterfaceGANError(f"bad --strength {part!r}: use numbers, e.g. --strength 0,0.5,1") from None
    return values


def _read_inputs(paths: list[Path], size: int, resize: bool, align_to: str | None = None, device: str = "auto"):
    """uint8 (N, size, size, 3) from the files: as they are, centre-cropped and resized with `resize`, or
    face-aligned to the framing of the model `align_to` (the one the translator was trained on)."""
    import numpy as np

    from interfacegan.errors import InterfaceGANError
    from interfacegan.inversion.images import center_crop_resize, read_image

    if align_to is not None:
        from interfacegan.inversion.files import read_targets
        from interfacegan.models import load_model

        return read_targets(load_model(align_to, device=device), paths, align=True)
    out = []
    for path in paths:
        image = read_image(path)
        if image.size != (size, size) and not resize:
            raise InterfaceGANError(
                f"image {path} is {image.size[0]}x{image.size[1]} but the translator edits {size}x{size} images: "
                "pass --resize to centre-crop and resize it"
            )
        out.append(center_crop_resize(image, size))
    return np.stack(out)


@app.command("translate")
def translate_command(
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, WebP, ...).", show_default=False)],
    translator: Annotated[Path, typer.Option(help="Translator file from train-translator.")],
    out: Annotated[Path, typer.Option(help="Output directory: one PNG per image and strength, and a strip per image.")],
    strength: StrengthOpt = ["0,0.5,1"],
    resize: Annotated[bool, typer.Option("--resize", help="Centre-crop and resize images of another size.")] = False,
    align: Annotated[bool, typer.Option("--align", help="Detect and align the face (dlib) like the GAN's faces.")] = False,
    scale: Annotated[Optional[int], typer.Option(help="Enlarge the strips by this integer factor.", show_default="2")] = None,
    device: DeviceOpt = "auto",
):
    """Edit images in one forward pass per strength (no inversion): OUT/NNN_name_tT.png and OUT/NNN_name_strip.png."""
    from interfacegan.atomic import check_output
    from interfacegan.editing.render import check_render
    from interfacegan.inversion.files import check_image_files
    from interfacegan.report import plural
    from interfacegan.translation import Translator
    from interfacegan.translation.dni import check_strengths, save_translations

    check_output(out, "dir")
    check_image_files(images)
    values = check_strengths(parse_strengths(strength))
    check_render(**given(scale=scale))
    editor = Translator.load(translator, device=device)
    inputs = _read_inputs(images, editor.resolution, resize, (editor.model or DEFAULT_MODEL) if align else None, device)
    edited = editor.translate(inputs, values)  # (N, S, R, R, 3)
    written = save_translations(edited, [p.name for p in images], values, out, **given(scale=scale))
    console.print(f"[green]edited[/] {plural(len(images), 'image')} with the {editor.attribute!r} translator at "
                  f"strengths {', '.join(f'{t:g}' for t in values)}")  # fmt: skip
    console.print(f"wrote {len(written)} files to {out}")
