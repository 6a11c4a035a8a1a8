"""`sample --format` forces a checkpoint reader, is recorded in the run's model spec, and is refused for built-ins."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from interfacegan.errors import InterfaceGANError
from interfacegan.models import load_model
from interfacegan.models.checkpoints import build_random
from interfacegan.models.rosinality import save_rosinality
from interfacegan.store import SampleStore
from tests.helpers import cli_path


def _sample(*args):
    return subprocess.run([cli_path(), "sample", "--num", "6", "--device", "cpu", "--quiet", *args],
                          capture_output=True, text=True)  # fmt: skip


def test_forced_format_is_used_and_recorded(tmp_path):
    model = build_random("stylegan2", resolution=16, seed=1, conv_clamp=None)
    checkpoint = tmp_path / "g.model"  # an unhelpful suffix: the reader is forced
    save_rosinality(model, checkpoint)
    proc = _sample("--model", str(checkpoint), "--format", "rosinality", "--out", str(tmp_path / "run"), "--images")
    assert proc.returncode == 0, proc.stderr
    store = SampleStore.open(tmp_path / "run", "r")
    assert "format=rosinality" in store.meta["model"]
    reloaded = load_model(store.meta["model"], device="cpu")
    np.testing.assert_array_equal(store.images(slice(0, 2)), reloaded.synthesize(store.codes("z")[:2]))

    wrong = _sample("--model", str(checkpoint), "--format", "nvidia", "--out", str(tmp_path / "bad"))
    assert wrong.returncode == 2 and "format=nvidia was given" in wrong.stderr and "Traceback" not in wrong.stderr


def test_format_is_refused_for_built_in_models(tmp_path):
    """The library names its parameter (`format`); `sample`, which holds it as `checkpoint_format`, prints --format."""
    with pytest.raises(InterfaceGANError, match="^`format` applies to checkpoint files, not to the built-in model"):
        load_model("toy", format="nvidia")
    proc = _sample("--model", "toy", "--format", "nvidia", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and "--format applies to checkpoint files" in proc.stderr
