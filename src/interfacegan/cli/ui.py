"""`interfacegan ui`: the interactive editor in the browser (sliders per direction, conditions, W+ layers, upload)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from interfacegan.cli import app
from interfacegan.cli.options import DeviceOpt, given

console = Console()


@app.command()
def ui(
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: the run's, the boundaries', else dcgan-digiface).")] = None,
    boundaries: Annotated[list[str], typer.Option("--boundaries", "-b", help="Boundary .npz/.npy, PATH:I, or a folder of them (repeatable).")] = [],
    run: Annotated[Optional[str], typer.Option(help="Run (directory or URL) whose samples can be edited by row.")] = None,
    sefa: Annotated[Optional[int], typer.Option(help="Add the model's top-K SeFa directions (default 10 without --boundaries).")] = None,
    sefa_layers: Annotated[Optional[str], typer.Option(help="Style layers SeFa factorizes, e.g. 0-3 (style models).")] = None,
    name_with: Annotated[list[str], typer.Option(help="Scorer(s) naming the SeFa sliders by re-scoring, e.g. face (as sefa --name-with).")] = [],
    space: Annotated[Optional[str], typer.Option(help="Space of plain .npy directions: z, w or wp (default: guessed).")] = None,
    truncation_psi: Annotated[Optional[float], typer.Option(help="Default truncation psi of random samples (style models).", show_default="1")] = None,
    truncation_cutoff: Annotated[Optional[int], typer.Option(help="Truncate only the first N W+ layers.")] = None,
    invert_steps: Annotated[Optional[int], typer.Option(help="Optimisation steps when inverting an uploaded image.", show_default="200")] = None,
    encoder: Annotated[Optional[Path], typer.Option(help="Encoder file (train-encoder) to start inversions from.")] = None,
    slider_range: Annotated[Optional[float], typer.Option(help="Sliders span -R..R unit-normal lengths.", show_default="5")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (127.0.0.1: this computer only).", show_default="127.0.0.1")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on.", show_default="8000")] = None,
    allow_host: Annotated[list[str], typer.Option(help="Another Host name the editor answers to, e.g. a reverse proxy's (NAME or NAME:PORT; repeatable).")] = [],
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    device: DeviceOpt = "auto",
):
    """Edit images interactively in the browser: a slider per direction, conditions, W+ layer ranges, uploads."""
    from interfacegan.errors import InterfaceGANError
    from interfacegan.ui.build import DEFAULT_HOST, DEFAULT_PORT

    host = DEFAULT_HOST if host is None else host  # where to serve: the app's defaults, no API function takes them
    port = DEFAULT_PORT if port is None else port
    if not 0 < port < 65536:
        raise InterfaceGANError(f"--port must be in 1..65535, got {port}")
    _check_port_free(host, port)
    from interfacegan.sampling import make_truncation
    from interfacegan.ui.build import build_editor_app

    truncation = make_truncation(**given(psi=truncation_psi, cutoff=truncation_cutoff))
    editor_app = build_editor_app(model, boundaries, run, sefa, sefa_layers, space, truncation, device=device,
                                  encoder=encoder, name_with=name_with, progress=True, allowed_hosts=[host, *allow_host],
                                  **given(invert_steps=invert_steps, slider_range=slider_range))  # fmt: skip
    import uvicorn

    editor = editor_app.state.editor
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"
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
