"""`interfacegan demo`: the whole pipeline on the embedded face GAN, ending in an HTML report."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, QuietOpt, given

console = Console()


def launcher() -> str:
    """How to run `interfacegan` again from this shell: the bare name when PATH finds this very script, else the path
    it was started by (e.g. `.venv/bin/interfacegan` after `make demo`, which does not activate the venv)."""
    script = Path(sys.argv[0])
    found = shutil.which("interfacegan")
    if script.name != "interfacegan" or (found and Path(found).resolve() == script.resolve()):
        return "interfacegan"
    return str(script)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output directory (resumed when it exists).")] = Path("demo-output"),
    num: Annotated[Optional[int], typer.Option(help="Samples to draw and score.", show_default="20000")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the samples.", show_default="0")] = None,
    ratio: Annotated[
        Optional[float], typer.Option(help="Top/bottom share of samples the SVMs train on.", show_default="0.1")
    ] = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Sample, score, find boundaries and SeFa directions, edit, analyse, and write OUT/report.html."""
    from interfacegan.demo import DemoSettings, run_demo

    start = time.perf_counter()
    settings = DemoSettings(device=device, **given(num=num, seed=seed, ratio=ratio))
    announce = lambda step: console.print(f"[bold cyan]==>[/] {step}")  # noqa: E731
    report = run_demo(out, settings, progress=not quiet, on_step=announce)
    minutes = (time.perf_counter() - start) / 60
    console.print(f"[bold green]done[/] in {minutes:.1f} min: open {report.resolve()} in a browser")
    console.print(f"edit interactively: {launcher()} ui --boundaries {out / 'boundaries'} --run {out / 'run'}")
