"""Shared fixtures: small stores made with the toy generator, so tests stay fast and answers are known."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store

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


@pytest.fixture
def toy() -> ToyGenerator:
    return ToyGenerator(z_dim=16, num_attributes=3, seed=0)


@pytest.fixture(scope="module")
def toy_samples():
    """A toy model (seed 1) with 3 known attribute normals, 3,000 z codes and their exact toy scores."""
    from interfacegan.scoring.toy import ToyScorer

    model = ToyGenerator(z_dim=16, num_attributes=3, seed=1)
    z = model.sample(3000, seed=0)
    return model, z, ToyScorer(3)(model.synthesize(z))


@pytest.fixture
def toy_run(tmp_path, toy):
    """A completed 2,000-sample toy run with the toy scores attached."""
    from interfacegan.scoring.run import score_store
    from interfacegan.scoring.toy import ToyScorer

    store = sample_to_store(toy, tmp_path / "run", num=2000, seed=3, chunk_rows=256, progress=False)
    score_store(store, ToyScorer(), model=toy, progress=False)
    return store


@pytest.fixture(autouse=True)
def _quiet_threads():
    """Keep torch on few threads: tests run beside each other on small CI machines."""
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
    np.seterr(all="warn")


@pytest.fixture(scope="session")
def embedded_gan():
    """The embedded face GAN (`dcgan-digiface`) on the CPU, loaded once for the face scorers' tests."""
    from interfacegan.models import load_model

    return load_model("dcgan-digiface", device="cpu")


@pytest.fixture(scope="session")
def embedded_faces(embedded_gan) -> np.ndarray:
    """24 fixed faces (24, 64, 64, 3) uint8 of the embedded GAN (seed 7)."""
    return embedded_gan.synthesize(embedded_gan.sample(24, seed=7))
