"""The train-boundary, edit, sefa and name-directions commands on a toy run."""

import json
import socket

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from interfacegan.directions import Boundary, load_direction
from interfacegan.cli import app
from tests.helpers import cli_error
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.toy import ToyScorer

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run"
    model = ToyGenerator()  # what load_model("toy") builds, so the run's model can be reloaded
    store = sample_to_store(model, path, num=1500, spaces=["z", "wp"], chunk_rows=512, progress=False)
    scores = ToyScorer(3)(model.synthesize(store.codes("z")))
    for name, values in scores.items():
        store.ensure_array(f"scores/{name}", (), "float32", attrs={"scorer": "toy", "version": "1"})
        store.write_rows(f"scores/{name}", 0, values)
    return path, model


def test_train_boundary_writes_file_and_prints_accuracies(run, tmp_path):
    path, model = run
    out = tmp_path / "attr0.npz"
    result = runner.invoke(app, ["train-boundary", str(path), "--attribute", "attr0", "--ratio", "0.1",
                                 "--out", str(out), "--official"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "val acc" in result.output and "1.0000" in result.output
    b = Boundary.load(out)
    assert b.attribute == "attr0" and b.model == "toy" and b.settings["ratio"] == 0.1
    assert float(b.normal @ model.true_normal(0)) > 0.99
    assert np.load(tmp_path / "attr0.npy").shape == (1, 16)


def test_train_boundary_all_scores_default_folder(run):
    path, _ = run
    result = runner.invoke(app, ["train-boundary", str(path), "--all", "--count", "100"])
    assert result.exit_code == 0, result.output
    folder = path.parent / f"{path.name}-boundaries"
    assert sorted(p.name for p in folder.glob("*.npz")) == ["attr0_z.npz", "attr1_z.npz", "attr2_z.npz"]


def test_edit_renders_grid_and_animation(run, tmp_path):
    path, model = run
    runner.invoke(app, ["train-boundary", str(path), "--attribute", "attr1", "--out", str(tmp_path / "b1.npz")])
    runner.invoke(app, ["train-boundary", str(path), "--attribute", "attr2", "--out", str(tmp_path / "b2.npz")])
    out = tmp_path / "edit"
    result = runner.invoke(app, ["edit", str(path), "--boundary", str(tmp_path / "b1.npz"), "--condition",
                                 str(tmp_path / "b2.npz"), "--steps", "5", "--range", "-2", "2", "--num", "3",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    grid = Image.open(out / "grid.png")
    pad, size = 2, model.resolution
    assert grid.size == (5 * size + 6 * pad, 3 * size + 4 * pad)
    gif = Image.open(out / "edit.gif")
    assert gif.n_frames == 5 + 3  # forward, then back (bounce)
    conditional = Boundary.load(out / "direction.npz")  # the direction actually used, for reuse
    assert conditional.kind == "conditional" and conditional.attribute == "attr1|attr2"
    assert abs(float(conditional.normal @ Boundary.load(tmp_path / "b2.npz").normal)) < 1e-6
    # distance mode in W+ with a flattened-wp boundary also works
    runner.invoke(app, ["train-boundary", str(path), "--attribute", "attr0", "--space", "wp", "--ratio", "0.1",
                        "--out", str(tmp_path / "wp.npz")])  # fmt: skip
    result = runner.invoke(app, ["edit", str(path), "--boundary", str(tmp_path / "wp.npz"), "--mode", "distance",
                                 "--num", "2", "--out", str(tmp_path / "edit2")])  # fmt: skip
    assert result.exit_code == 0, result.output
    # one row is counted in the singular ("1 samples" before)
    result = runner.invoke(app, ["edit", str(path), "--boundary", str(tmp_path / "b1.npz"), "--steps", "2",
                                 "--num", "1", "--out", str(tmp_path / "edit3")])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "edited 1 sample along 'attr1'" in text and "-3 .. +3 in 2 steps" in text


def test_edit_errors_for_wrong_boundary(run, tmp_path, monkeypatch, capsys):
    path, _ = run
    np.save(tmp_path / "wrong_dim.npy", np.ones((1, 100), np.float32))
    err = cli_error(monkeypatch, capsys, "edit", path, "--boundary", tmp_path / "wrong_dim.npy", "--out", tmp_path / "e")
    assert "dimension 100" in err and "(16,)" in err
    Boundary(normal=np.ones(16), attribute="yaw", model="dcgan-digiface").save(tmp_path / "other_model.npz")
    err = cli_error(monkeypatch, capsys, "edit", path, "--boundary", tmp_path / "other_model.npz", "--out", tmp_path / "e")
    assert "belongs to model 'dcgan-digiface'" in err
    Boundary(normal=np.ones(16), attribute="a", model="toy").save(tmp_path / "a.npz")
    err = cli_error(monkeypatch, capsys, "edit", path, "--boundary", tmp_path / "a.npz", "--condition",
                    tmp_path / "a.npz", "--out", tmp_path / "e")  # fmt: skip
    assert "span of the conditions" in err
    err = cli_error(monkeypatch, capsys, "train-boundary", path, "--attribute", "nope")
    assert "no scores ['nope']" in err
    err = cli_error(monkeypatch, capsys, "train-boundary", path, "--attribute", "attr0", "--count", "30", "--ratio",
                    "0.1", "--out", tmp_path / "e.npz")  # fmt: skip
    assert "give --ratio or --count, not both" in err and not (tmp_path / "e.npz").exists()  # --ratio was ignored
    assert not (tmp_path / "e").exists()


def test_sefa_and_name_directions(tmp_path):
    from fastapi.testclient import TestClient

    from interfacegan.rescoring.naming import NAMING_NUM, NAMING_RULE, name_directions
    from interfacegan.ui.build import build_editor_app

    out = tmp_path / "sefa"
    result = runner.invoke(app, ["sefa", "--model", "toy", "-k", "3", "--out", str(out), "--num", "2", "--steps", "3",
                                 "--name-with", "toy", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "named after an attribute only when" in " ".join(result.output.split())  # the rule, in the caption
    assert sorted(p.name for p in out.glob("sefa_*")) == [f"sefa_{i}.{e}" for i in range(3) for e in ("npz", "png")]
    b = load_direction(out / "sefa_0.npz")
    assert b.kind == "sefa" and b.model == "toy" and b.metrics["eigenvalue"] > 0
    names = json.loads((out / "names.json").read_text())
    assert [d["direction"] for d in names["directions"]] == ["sefa_0", "sefa_1", "sefa_2"]
    assert names["settings"]["num"] == NAMING_NUM and names["settings"]["rule"] == NAMING_RULE
    # the command names with the API's defaults: the same names as the API and the editor's SeFa sliders
    api = name_directions(ToyGenerator(), [load_direction(out / f"sefa_{i}.npz") for i in range(3)], ["toy"])
    assert [d["label"] for d in names["directions"]] == [n.label for n in api]
    assert {n.label for n in api} == {"", "+attr0", "+attr2"}  # the toy's (normalised) SeFa directions: two clear, one mixed
    for d, n in zip(names["directions"], api):
        assert d["effects"]["attr0"]["change_std"] == pytest.approx(n.effects["attr0"].change_std, abs=1e-9)
    editor = build_editor_app(model="toy", sefa=3, name_with=["toy"], device="cpu")
    titles = {d["key"]: d["label"] for d in TestClient(editor, base_url="http://127.0.0.1:8000").get("/api/config").json()["directions"]}
    assert titles == {n.direction: n.title for n in api}
    result = runner.invoke(app, ["name-directions", str(out / "sefa_1.npz"), "--scorer", "toy", "--num", "8",
                                 "--out", str(tmp_path / "n.json"), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "n.json").read_text())["directions"][0]["direction"] == "sefa_1"


def test_edit_refuses_a_reversed_range_and_layers_on_a_z_only_model(run, tmp_path, monkeypatch, capsys):
    from interfacegan.models import load_model

    path, model = run
    Boundary(normal=model.true_normal(0), attribute="a", model="toy").save(tmp_path / "a.npz")
    for lo, hi in (("3", "-3"), ("1", "1")):
        err = cli_error(monkeypatch, capsys, "edit", path, "--boundary", tmp_path / "a.npz", "--range", lo, hi,
                        "--out", tmp_path / "e")  # fmt: skip
        assert "lo < hi" in err
    for command in (["edit", path, "--boundary", tmp_path / "a.npz"], ["sefa", "--model", "toy", "-k", "2"]):
        # one step drew only the range's start (a silent no-op of the rest): refused before any work
        err = cli_error(monkeypatch, capsys, *command, "--steps", "1", "--range", "-2", "2", "--out", tmp_path / "e")
        assert "--steps must be in [2, 1000], got 1" in err
    for command in ("sefa", "ganspace"):  # naming settings without a scorer to name with were ignored
        err = cli_error(monkeypatch, capsys, command, "--model", "toy", "-k", "2", "--name-num", "10", "--out",
                        tmp_path / "e")  # fmt: skip
        assert "--name-num and --alpha set how directions are named: add --name-with SCORER" in err
    for command, rows in (("sefa", "--num"), ("ganspace", "--rows")):  # grid settings without grids were ignored
        err = cli_error(monkeypatch, capsys, command, "--model", "toy", "-k", "2", "--no-grids", rows, "3", "--scale",
                        "2", "--out", tmp_path / "e")  # fmt: skip
        assert f"{rows}, --scale set the grids, which --no-grids leaves out" in err
    dcgan = load_model("dcgan-digiface", device="cpu")  # the embedded GAN: Z space only
    sample_to_store(dcgan, tmp_path / "faces", num=4, progress=False)
    Boundary(normal=np.ones(100), attribute="b", model="dcgan-digiface").save(tmp_path / "b.npz")
    err = cli_error(monkeypatch, capsys, "edit", tmp_path / "faces", "--boundary", tmp_path / "b.npz", "--layers",
                    "0-1", "--out", tmp_path / "e")  # fmt: skip
    assert "model 'dcgan-digiface' has no W+ layers (its spaces: z): leave --layers unset" in err
    with socket.socket() as sock:  # a port that is free right now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = cli_error(monkeypatch, capsys, "ui", "--model", "dcgan-digiface", "--sefa-layers", "0-1", "--port", port,
                    "--device", "cpu")  # fmt: skip
    assert "has no layers to choose from" in err and "leave --sefa-layers unset" in err
    assert not (tmp_path / "e").exists()
