"""`interfacegan ui`: the interactive editor in the browser (sliders per direction, conditions, W+ layers, upload)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DEFAULT_MODEL, DeviceOpt

console = Console()
DEFAULT_SEFA = 10


def build_editor_app(
    model: str | None = None,
    boundaries: list[str] | None = None,
    run: Path | None = None,
    sefa: int | None = None,
    sefa_layers: str | None = None,
    space: str | None = None,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    invert_steps: int = 200,
    slider_range: float = 5.0,
    device: str = "auto",
    encoder: Path | None = None,
):
    """The FastAPI app the command serves (model from --model, the run, or the boundaries; SeFa by default)."""
    from interfacegan.cli.options import make_truncation
    from interfacegan.errors import InterfaceGANError
    from interfacegan.models import load_model
    from interfacegan.directions.sefa import sefa_boundaries
    from interfacegan.store import SampleStore
    from interfacegan.ui.app import create_app
    from interfacegan.directions import direction_labels, model_named_by, read_directions
    from interfacegan.ui.session import Direction, describe, make_directions

    boundaries = list(boundaries or [])
    store = SampleStore.open(run, mode="r") if run is not None else None
    run_model = store.meta.get("model") if store is not None else None
    spec = model or (run_model if run_model and run_model != "unknown" else None) or model_named_by(boundaries)
    generator = load_model(spec or DEFAULT_MODEL, device=device)
    found = read_directions(boundaries, model=generator, space=space)
    directions = make_directions(found, direction_labels(boundaries)) if found else []
    k = sefa if sefa is not None else (0 if directions else DEFAULT_SEFA)
    if k < 0:
        raise InterfaceGANError(f"--sefa must be >= 0, got {k}")
    if k:
        for b in sefa_boundaries(generator, k, layers=sefa_layers):
            directions.append(Direction(f"sefa_{b.metrics['rank']}", b, note=describe(b)))
    if not directions:
        raise InterfaceGANError("no directions to edit with: give --boundaries or --sefa K (K > 0)")
    truncation = make_truncation(truncation_psi, truncation_cutoff)
    net = None
    if encoder is not None:
        from interfacegan.inversion import Encoder

        net = Encoder.load(encoder, device=generator.device)
        net.check_fits(generator)
    return create_app(generator, directions, store=store, truncation=truncation, invert_steps=invert_steps,
                      encoder=net, slider_range=slider_range)  # fmt: skip


@app.command()
def ui(
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the run's, the boundaries', else dcgan-digiface).")] = None,
    boundaries: Annotated[list[str], typer.Option("--boundaries", "-b", help="Boundary .npz/.npy, PATH:I, or a folder of them (repeatable).")] = [],
    run: Annotated[Optional[Path], typer.Option(help="Run whose samples can be edited by row.")] = None,
    sefa: Annotated[Optional[int], typer.Option(help="Add the model's top-K SeFa directions (default 10 without --boundaries).")] = None,
    sefa_layers: Annotated[Optional[str], typer.Option(help="Style layers SeFa factorizes, e.g. 0-3 (style models).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Space of plain .npy directions: z, w or wp (default: guessed).")] = None,
    truncation_psi: Annotated[float, typer.Option(help="Default truncation psi of random samples (style models).")] = 1.0,
    truncation_cutoff: Annotated[Optional[int], typer.Option(help="Truncate only the first N W+ layers.")] = None,
    invert_steps: Annotated[int, typer.Option(help="Optimisation steps when inverting an uploaded image.")] = 200,
    encoder: Annotated[Optional[Path], typer.Option(help="Encoder file (train-encoder) to start inversions from.")] = None,
    slider_range: Annotated[float, typer.Option(help="Sliders span -R..R unit-normal lengths.")] = 5.0,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this computer only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    device: DeviceOpt = "auto",
):
    """Edit images interactively in the browser: a slider per direction, conditions, W+ layer ranges, uploads."""
    from interfacegan.errors import InterfaceGANError

    if not 0 < port < 65536:
        raise InterfaceGANError(f"--port must be in 1..65535, got {port}")
    _check_port_free(host, port)
    editor_app = build_editor_app(model, boundaries, run, sefa, sefa_layers, space, truncation_psi,
                                  truncation_cutoff, invert_steps, slider_range, device, encoder)  # fmt: skip
    import uvicorn

    editor = editor_app.state.editor
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    console.print(f"[green]editor[/] for {editor.model.name} with {len(editor.directions)} directions "
                  f"(editing in {editor.space}) at [bold]{url}[/]  (Ctrl+C stops it)")  # fmt: skip
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]warning[/]: the editor has no login; anyone who can reach this address can use it")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(editor_app, host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log and exit after the model has loaded."""
    import socket

    from interfacegan.errors import InterfaceGANError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InterfaceGANError(f"cannot resolve --host {host!r} ({exc.strerror}): use e.g. 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        try:
            sock.bind(address)
        except OSError as exc:
            raise InterfaceGANError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port"
            ) from None
