"""Shared fixtures, each named once here; helpers that test modules import live in helpers.py.

    toy_generator  ToyGenerator(): what load_model("toy") builds (z_dim 16, 3 attributes with known normals,
                   4 W+ layers, 8 px images)
    toy_run        a completed 2,000-sample run of toy_generator (seed 3, chunks of 256) with its toy scores
    embedded_gan   the embedded face GAN on the CPU (load_model("dcgan-digiface")), loaded once per session
    embedded_faces 24 fixed faces of embedded_gan (seed 7), uint8 (24, 64, 64, 3)
    command_inputs a folder (per test module) with what commands read: a scored 300-sample run of the toy model
                   (`run`), a boundary of its attribute 0 (`b.npz`) and one of its images (`face.png`)
    toy            old name of toy_generator, kept while test_analysis_report still uses it

Threads are set once for the session (interfacegan.threads, as the CLI does) before torch loads, so tests and
the command lines they start share the machine's cores without oversubscribing them.
"""

from __future__ import annotations

from interfacegan.threads import configure_threads, thread_count

configure_threads(min(2, thread_count()))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from interfacegan.models import ToyGenerator  # noqa: E402
from interfacegan.sampling import sample_to_store  # noqa: E402


@pytest.fixture
def toy_generator() -> ToyGenerator:
    return ToyGenerator(z_dim=16, num_attributes=3, seed=0)


@pytest.fixture(scope="module")
def toy_samples():
    """A toy model (seed 1) with 3 known attribute normals, 3,000 z codes and their exact toy scores."""
    from interfacegan.scoring.toy import ToyScorer

    model = ToyGenerator(z_dim=16, num_attributes=3, seed=1)
    z = model.sample(3000, seed=0)
    return model, z, ToyScorer(3)(model.synthesize(z))


@pytest.fixture(scope="module")
def command_inputs(tmp_path_factory):
    """A scored 300-sample toy run, a boundary and an image of the toy model, for command-line tests."""
    from PIL import Image

    from interfacegan.directions import Boundary
    from interfacegan.scoring.toy import ToyScorer

    folder = tmp_path_factory.mktemp("inputs")
    model = ToyGenerator()  # what load_model("toy") builds, so commands can reload the run's model
    store = sample_to_store(model, folder / "run", num=300, chunk_rows=300, progress=False)
    for name, values in ToyScorer(3)(model.synthesize(store.codes("z"))).items():
        store.ensure_array(f"scores/{name}", (), "float32", attrs={"scorer": "toy", "version": "1"})
        store.write_rows(f"scores/{name}", 0, values)
    Boundary(model.true_normal(0), attribute="attr0", model="toy").save(folder / "b.npz")
    Image.fromarray(model.synthesize(model.sample(1, seed=5))[0]).save(folder / "face.png")
    return folder


@pytest.fixture
def toy(toy_generator) -> ToyGenerator:
    return toy_generator


@pytest.fixture
def toy_run(tmp_path, toy_generator):
    """A completed 2,000-sample toy run with the toy scores attached."""
    from interfacegan.scoring.run import score_store
    from interfacegan.scoring.toy import ToyScorer

    store = sample_to_store(toy_generator, tmp_path / "run", num=2000, seed=3, chunk_rows=256, progress=False)
    score_store(store, ToyScorer(), model=toy_generator, progress=False)
    return store


@pytest.fixture(autouse=True)
def _thread_count():
    """Every test starts with the session's thread count (some tests change it)."""
    import torch

    from interfacegan.threads import thread_count

    torch.set_num_threads(thread_count())
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
