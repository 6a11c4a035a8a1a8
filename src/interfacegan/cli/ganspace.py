"""The `ganspace` command: PCA directions (GANSpace) written as boundary files that edit, ui and analyze read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, GridRangeOpt, GridScaleOpt, GridStepsOpt, QuietOpt, given, grid_options
from interfacegan.cli.semantics import AlphaOpt, NameNumOpt, _name, _naming

console = Console()


@app.command("ganspace")
def ganspace_command(
    model: Annotated[str, typer.Option(help="Model spec: dcgan-digiface, toy, or FORMAT:PATH.")],
    out: Annotated[Path, typer.Option(help="Output directory for ganspace_{i}.npz and ganspace_{i}.png.")],
    num: Annotated[Optional[int], typer.Option(help="Samples the PCA runs on (default 20,000), streamed in blocks.")] = None,
    space: Annotated[Optional[str], typer.Option(help="w: PCA of w (default where the model has W); z: PCA of the first layer's activations, regressed back to z.")] = None,
    layers: Annotated[Optional[str], typer.Option(help="W+ layers the W directions edit by default, e.g. 0-3 (style models).")] = None,
    k: Annotated[Optional[int], typer.Option("-k", "--k", help="Number of directions (default 10).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the sampled codes (the grids show its first rows).", show_default="0")] = None,
    block_size: Annotated[Optional[int], typer.Option(help="Samples per IncrementalPCA block (bounds memory; default: 8 MiB of features, at most 4,096).")] = None,
    regression_num: Annotated[Optional[int], typer.Option(help="z: samples of the regression back to z (default max(10,000, num), as GANSpace).")] = None,
    official: Annotated[Optional[Path], typer.Option(help="Also write GANSpace's own .npz (lat_comp, act_comp, ...) to this file, outside --out.")] = None,
    name_with: Annotated[list[str], typer.Option(help="Scorer(s) to name the directions with, e.g. face.")] = [],
    name_num: NameNumOpt = None,
    alpha: AlphaOpt = None,
    grids: Annotated[bool, typer.Option(help="Render a grid per direction.")] = True,
    rows: Annotated[Optional[int], typer.Option(help="Samples per grid (rows).", show_default="6")] = None,
    steps: GridStepsOpt = None,
    range_: GridRangeOpt = None,
    scale: GridScaleOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """GANSpace: the top-k principal directions of sampled w (or of first-layer activations, regressed to z)."""
    from interfacegan.atomic import check_output, staged_dir
    from interfacegan.directions.files import NAMES_FILE
    from interfacegan.directions.ganspace import GANSpace, check_ganspace_layers, default_space
    from interfacegan.editing.run import save_direction_grid
    from interfacegan.errors import InterfaceGANError
    from interfacegan.models import load_model

    check_output(out, "dir")
    if official is not None:
        check_output(official, "file")
        if official.resolve().parent == out.resolve():
            raise InterfaceGANError(f"--official {official} lies in --out {out}, whose every .npz is read as a "
                                    "direction: write it elsewhere")  # fmt: skip
    grid = grid_options(grids, ("rows", rows), steps, range_, scale)
    options = given(k=k, num=num, seed=seed, block_size=block_size, regression_num=regression_num)
    estimator = GANSpace(space=space, **options).check_params()
    scorers, (name_num, alpha, _) = _naming(name_with, name_num, alpha, None)  # before any work
    generator = load_model(model, device=device)
    check_ganspace_layers(generator, space or default_space(generator), layers)
    fitted = estimator.fit(generator, progress=not quiet)
    boundaries = fitted.boundaries(generator, layers)
    table = Table("direction", "explained variance", "ratio", "space", "file",
                  title=f"GANSpace directions of {model} ({fitted.n_samples_seen_:,} samples)")  # fmt: skip
    with staged_dir(out) as stage:  # every file, or none
        for b in boundaries:
            b.save(stage / f"{b.attribute}.npz")
            if grids:
                save_direction_grid(generator, b, stage / f"{b.attribute}.png", seed=estimator.seed, **grid)
            table.add_row(b.attribute, f"{b.metrics['explained_variance']:.4g}",
                          f"{b.metrics['explained_variance_ratio']:.3f}", b.space, str(out / f"{b.attribute}.npz"))
        console.print(table)
        if scorers:
            _name(generator, boundaries, scorers, name_num, alpha, None, quiet, model, stage / NAMES_FILE,
                  specs=name_with, shown=out / NAMES_FILE)  # fmt: skip
        if official is not None:
            console.print(f"wrote {fitted.save_official(official)} (GANSpace's layout)")
