"""`interfacegan demo`: the whole pipeline on the embedded face GAN, ending in an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output directory (resumed when it exists).")] = Path("demo-output"),
    num: Annotated[int, typer.Option(help="Samples to draw and score.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
    ratio: Annotated[float, typer.Option(help="Top/bottom share of samples the SVMs train on.")] = 0.1,
    device: DeviceOpt = "auto",
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
):
    """Sample, score, find boundaries and SeFa directions, edit, analyse, and write OUT/report.html."""
    from interfacegan.demo import DemoSettings, run_demo

    run_demo(out, DemoSettings(num=num, seed=seed, ratio=ratio, device=device), progress=not quiet)
