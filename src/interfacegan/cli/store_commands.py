"""Commands that fill and inspect sample stores: sample, score, info, import-official, export-official."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from interfacegan.cli import app
from interfacegan.cli.options import (
    DeviceOpt,
    ExecutorOpt,
    GpusPerWorkerOpt,
    QuietOpt,
    RayAddressOpt,
    executor_from_options,
    given,
    parse_named_paths,
    printable,
)

console = Console()


@app.command()
def sample(
    model: Annotated[str, typer.Option(help="Model spec: dcgan-digiface, toy, or FORMAT:PATH to a checkpoint.")],
    num: Annotated[int, typer.Option(help="Number of samples N.")],
    out: Annotated[
        str, typer.Option(help="Run directory or URL (s3://bucket/run; a zarr store); an existing one is resumed.")
    ],
    seed: Annotated[Optional[int], typer.Option(help="Seed of the latent codes.", show_default="0")] = None,
    space: Annotated[list[str], typer.Option(help="Code spaces to save besides z (w, wp); repeatable.")] = [],
    save_images: Annotated[bool, typer.Option("--images", help="Also store full-size images.")] = False,
    thumbnails: Annotated[Optional[int], typer.Option(help="Store images as SIZE x SIZE thumbnails.")] = None,
    truncation_psi: Annotated[
        Optional[float], typer.Option(help="W truncation psi (style models).", show_default="1")
    ] = None,
    truncation_cutoff: Annotated[
        Optional[int], typer.Option(help="Truncate only the first N W+ layers (with --space wp, not w).")
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Generator batch size.", show_default="256")] = None,
    chunk_rows: Annotated[
        Optional[int], typer.Option(help="Rows per store chunk (the unit of resume).", show_default="1024")
    ] = None,
    shard: Annotated[
        str, typer.Option(help="I/K: fill only chunk k with k % K == I (one per machine); auto: from srun/torchrun.")
    ] = "0/1",
    checkpoint_format: Annotated[
        Optional[str],
        typer.Option("--format", help="Force the checkpoint reader: nvidia, rosinality, genforce or biggan."),
    ] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    gpus_per_worker: GpusPerWorkerOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Sample latent codes (and optionally images) into a resumable store."""
    from interfacegan.models import load_model
    from interfacegan.report import plural
    from interfacegan.sampling import launcher_device, make_truncation, parse_shard, sample_to_store

    truncation = make_truncation(**given(psi=truncation_psi, cutoff=truncation_cutoff))
    shard_pair = parse_shard(shard)
    engine = executor_from_options(executor, ray_address, gpus_per_worker)
    generator = load_model(model, device=launcher_device(device), **given(format=checkpoint_format))
    store = sample_to_store(
        generator, out, num=num, spaces=space, truncation=truncation, save_images=save_images,
        thumbnail_size=thumbnails, shard=shard_pair, progress=not quiet, executor=engine,
        **given(seed=seed, batch_size=batch_size, chunk_rows=chunk_rows),
    )  # fmt: skip
    left = len(store.pending_chunks("sample"))
    status = "complete" if left == 0 else f"{plural(left, 'chunk')} of {store.num_chunks} left for other shards"
    console.print(f"[green]sampled[/] {store.num} codes into {store.path} ({status})")


@app.command()
def score(
    run: Annotated[str, typer.Argument(help="Run directory or URL made by `interfacegan sample`.")],
    scorer: Annotated[
        list[str], typer.Option(help="face, gender, age, identity, toy, onnx:PATH, csv:PATH or module:function "
                                "(repeatable).")  # fmt: skip
    ],
    prefix: Annotated[
        Optional[str], typer.Option(help="Prefix for the stored score names: letters, digits, _ - and ., starting with "
                                    "a letter or digit (e.g. v2_).", show_default="none")  # fmt: skip
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Recompute scores that already exist.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(help="Synthesis batch size.", show_default="128")] = None,
    shard: Annotated[
        str, typer.Option(help="I/K: score only chunk k with k % K == I; auto: from srun/torchrun.")
    ] = "0/1",
    executor: ExecutorOpt = "auto",
    ray_address: RayAddressOpt = None,
    gpus_per_worker: GpusPerWorkerOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
):
    """Score every sample of a run with one or more scorers (resumable)."""
    from interfacegan.sampling import launcher_device, parse_shard
    from interfacegan.scoring import load_scorer
    from interfacegan.scoring.run import score_store
    from interfacegan.store import SampleStore

    store = SampleStore.open(run)
    shard_pair = parse_shard(shard)
    engine = executor_from_options(executor, ray_address, gpus_per_worker)
    scorers = [load_scorer(spec) for spec in scorer]
    for s in scorers:
        names = score_store(store, s, overwrite=overwrite, shard=shard_pair, device=launcher_device(device),
                            progress=not quiet, executor=engine,
                            **given(prefix=prefix, batch_size=batch_size))  # fmt: skip
        console.print(f"[green]scored[/] {', '.join(names) or '(features only)'} with {s.name} v{s.version}")


@app.command()
def info(run: Annotated[str, typer.Argument(help="Run directory or URL.")]):
    """Show what a run holds: model, seed, spaces, scores and progress."""
    import numpy as np

    from interfacegan.errors import InterfaceGANError
    from interfacegan.store import SampleStore

    store = SampleStore.open(run, mode="r")
    meta = store.meta
    model = escape(printable(meta.get("model", "an unnamed model")))
    console.print(f"[bold]{escape(str(store.path))}[/]: {store.num} samples of {model} (seed {meta.get('seed')})")
    console.print(f"spaces: {', '.join(store.spaces)}; images: {meta.get('image_size') or 'none'}")
    done = store.done_chunks("sample")
    missing = store.missing_chunks("sample", store.sampled_arrays)
    console.print(f"sampled chunks: {int(done.sum()) - len(missing)}/{store.num_chunks}")
    if missing:
        console.print(f"[yellow]chunks {', '.join(map(str, missing[:10]))} have files missing: run the same "
                      "`interfacegan sample` command again to refill them[/]")  # fmt: skip
    if store.score_names:
        table, problems = Table("score", "scorer", "valid", "mean", "std", "min", "max"), []
        for name in store.score_names:
            scorer = store.score_info(name)
            label = escape(printable(f"{scorer.get('scorer')} v{scorer.get('version')}"))  # the run's words, as text
            try:
                values = store.scores([name])[name]
            except InterfaceGANError as exc:  # not completely scored, or a chunk file missing or damaged
                table.add_row(name, label, "incomplete", *"----")
                problems.append(str(exc))
                continue
            valid = values[np.isfinite(values)]
            stats = [f"{f(valid):.4g}" if len(valid) else "-" for f in (np.mean, np.std, np.min, np.max)]
            table.add_row(name, label, str(len(valid)), *stats)
        console.print(table)
        for problem in problems[:3]:
            console.print(f"[yellow]{escape(printable(problem))}[/]")


@app.command("import-official")
def import_official_command(
    out: Annotated[str, typer.Option(help="New run directory to create.")],
    codes: Annotated[list[str], typer.Option(help="SPACE=PATH of an official codes .npy, e.g. z=z.npy.")],
    scores: Annotated[list[str], typer.Option(help="NAME=PATH of an (N,1) scores .npy.")] = [],
    model: Annotated[Optional[str], typer.Option(help="Spec of the model the codes belong to.", show_default="unknown")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed, if known.")] = None,
):
    """Create a run from the official InterFaceGAN `.npy` codes and scores."""
    from interfacegan.interop import import_official

    store = import_official(out, parse_named_paths(codes, "--codes"), parse_named_paths(scores, "--scores"), seed=seed,
                            **given(model=model))
    console.print(f"[green]imported[/] {store.num} samples into {store.path}")


@app.command("export-official")
def export_official_command(
    run: Annotated[str, typer.Argument(help="Run directory or URL.")],
    out: Annotated[Path, typer.Option(help="Directory for the .npy files.")],
    space: Annotated[list[str], typer.Option(help="Spaces to export (default: all).")] = [],
    attribute: Annotated[list[str], typer.Option(help="Scores to export (default: all).")] = [],
):
    """Write codes and scores as the `.npy` files the official InterFaceGAN code reads."""
    from interfacegan.interop import export_official
    from interfacegan.store import SampleStore

    store = SampleStore.open(run, mode="r")
    for path in export_official(store, out, space or None, attribute or None):
        console.print(f"wrote {path}")
