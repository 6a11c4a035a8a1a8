"""Helpers that test modules import (not tests themselves): running the command line and checking its errors, a
real server for the editor's app, and reference math shared by the model tests.

Fixtures live in conftest.py; test modules import helpers from here, never from conftest or from each other.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def cli_error(monkeypatch, capsys, *args) -> str:
    """Run the real entry point in-process; assert a one-line error with exit code 2 and return it."""
    from interfacegan.cli import main

    monkeypatch.setattr(sys, "argv", ["interfacegan", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and len(err.splitlines()) == 1, err
    return " ".join(err.split())


def cli_path() -> str:
    """The installed `interfacegan` console script next to this interpreter."""
    return str(BIN / "interfacegan")


@contextlib.contextmanager
def serving(app):
    """Serve the ASGI `app` on a real uvicorn at 127.0.0.1 and a port the system chooses; yields that port."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.025)
        assert server.started, "uvicorn did not start"
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def ref_mapping(state, z, lr: float = 0.01):
    """NVIDIA StyleGAN2/3's mapping network written out from a state dict with NVIDIA's names (`mapping.fc{i}.*`):
    z (N, z_dim) -> w (N, w_dim), normalised second moment, fc layers with learning-rate multiplier `lr`, leaky ReLU
    with gain sqrt(2); an independent reference for the StyleGAN2 and StyleGAN3 loaders."""
    import math

    import torch
    import torch.nn.functional as F

    x = z / torch.sqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    i = 0
    while f"mapping.fc{i}.weight" in state:
        w, b = state[f"mapping.fc{i}.weight"], state[f"mapping.fc{i}.bias"]
        x = F.leaky_relu(x @ (w * lr / math.sqrt(w.shape[1])).T + b * lr, 0.2) * math.sqrt(2.0)
        i += 1
    return x
