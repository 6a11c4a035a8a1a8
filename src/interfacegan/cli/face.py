"""`interfacegan face ...`: the face framing of a run (calibrate it, or set it) and the named framings."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, given

console = Console()
face_app = typer.Typer(help="Face framing of a run: where the face sits in the model's images (face scorers).")
app.add_typer(face_app, name="face")


@face_app.command()
def calibrate(
    run: Annotated[str, typer.Argument(help="Run directory or URL (s3://bucket/run) made by `interfacegan sample`.")],
    num: Annotated[Optional[int], typer.Option(help="First samples to detect faces on.", show_default="64")] = None,
    face_box: Annotated[
        Optional[str], typer.Option(help="Set this box instead of measuring: L,T,R,B, fractions of the image side.")
    ] = None,
    framing: Annotated[
        Optional[str], typer.Option(help="Set a named framing instead: digiface, ffhq, celebahq.")
    ] = None,
    cnn: Annotated[bool, typer.Option(help="Fall back to dlib's CNN detector when HOG finds too few faces.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace a framing the run already has.")] = False,
    device: DeviceOpt = "auto",
):
    """Measure the median face box on a run's first samples (or set one) and record it for the face scorers."""
    from interfacegan.errors import InterfaceGANError
    from interfacegan.scoring.calibration import calibrate_run
    from interfacegan.store import SampleStore

    if face_box is not None and framing is not None:
        raise InterfaceGANError("give --face-box or --framing, not both")
    store = SampleStore.open(run)
    entry = calibrate_run(store, framing=face_box or framing, cnn=cnn, device=device, overwrite=overwrite,
                          **given(num=num))  # messages name `overwrite`: the CLI writes --overwrite (cli.flags)
    if entry["source"] == "given":
        console.print(f"[green]recorded[/] face framing {entry.get('framing') or entry.get('box')} for {store.path}")
        return
    box = ", ".join(f"{v:.1f}" for v in entry["box_pixels"])
    nearest = f"; closest preset: {entry['nearest_preset']}" if entry["nearest_preset"] else "; no preset is close"
    console.print(
        f"[green]calibrated[/] {store.path}: face box ({box}) px of {entry['image_size']} from {entry['faces']} of "
        f"{entry['samples']} samples ({entry['detector']}){nearest}"
    )


@face_app.command()
def framings():
    """List the named face framings and their face boxes (fractions of the image side)."""
    from interfacegan.scoring.framing import FRAMINGS

    table = Table("framing", "left", "top", "right", "bottom", "models")
    for name, preset in FRAMINGS.items():
        table.add_row(name, *(f"{v:.4f}" for v in preset.box), ", ".join(preset.models) or "-")
    console.print(table)
