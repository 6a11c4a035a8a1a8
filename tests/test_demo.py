"""The demo pipeline end to end on the embedded GAN (small sizes), and the editing API behind `edit`."""

from __future__ import annotations

import re

import numpy as np
import pytest

from interfacegan.directions.boundary import Boundary
from interfacegan.demo import DemoSettings, run_demo
from interfacegan.editing.run import EditRequest, edit_codes, edit_run, save_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.sampling import sample_to_store


def test_demo_writes_a_complete_report_and_resumes(tmp_path):
    settings = DemoSettings(num=1000, sefa_k=3, name_num=8, edit_rows=2, steps=3,
                            analysis=dict(num_rescore=40, num_identity=2, num_distance=8))  # fmt: skip
    report = run_demo(tmp_path / "demo", settings, progress=False)
    html = report.read_text()
    for heading in ("Boundaries: separability", "Edits along each boundary", "Conditional edits", "SeFa",
                    "Re-scoring (paper Tab. 3)", "Identity discrepancy", "Property 2"):  # fmt: skip
        assert heading in html
    assert "src='http" not in html and "<script" not in html  # self-contained, opens with no server
    attributes = ["yaw", "smile", "mouth_open", "eye_open", "eyeglasses", "eyeglasses_edges", "brightness"]
    for a in attributes:
        b = Boundary.load(tmp_path / "demo" / "boundaries" / f"{a}_z.npz")
        assert b.attribute == a and b.model == "dcgan-digiface" and 0.5 < b.metrics["val_accuracy"] <= 1
        assert (tmp_path / "demo" / "edits" / f"{a}_edit.gif").stat().st_size > 0
    yaw_row = re.search(r"<td class='label'>yaw</td><td>([0-9.]+)</td><td>([0-9.]+)</td>", html)
    assert yaw_row and float(yaw_row.group(2)) > 0.9  # yaw is the most separable face attribute
    cond = Boundary.load(tmp_path / "demo" / "edits" / "eyeglasses_edges_given_brightness_direction.npz")
    brightness = Boundary.load(tmp_path / "demo" / "boundaries" / "brightness_z.npz")
    assert abs(float(cond.normal @ brightness.normal)) < 1e-5
    assert len(list((tmp_path / "demo" / "sefa").glob("sefa_*.npz"))) == 3
    # A second run with the same settings resumes the finished store instead of refusing it.
    assert run_demo(tmp_path / "demo", settings, progress=False) == report


def test_demo_refuses_too_few_samples(tmp_path):
    with pytest.raises(InterfaceGANError, match="at least 1000 samples"):
        run_demo(tmp_path, DemoSettings(num=10), progress=False)


def test_edit_run_moves_the_known_attribute_and_saves_outputs(tmp_path, toy):
    from interfacegan.scoring.toy import ToyScorer

    store = sample_to_store(toy, tmp_path / "run", num=50, seed=0, progress=False)
    boundary = Boundary(toy.normals[0], attribute="attr0", model="toy")
    result = edit_run(toy, store, EditRequest(boundary, steps=5, lo=-2, hi=2), rows=[3, 4, 5])
    assert result.grid.shape == (3, 5, 8, 8, 3)
    scores = ToyScorer().score(result.grid.reshape(-1, 8, 8, 3))["attr0"].reshape(3, 5)
    np.testing.assert_allclose(np.diff(scores, axis=1), 1.0, atol=0.1)  # +1 per step along the true normal
    paths = save_edit(result, tmp_path / "out", stem="a_")
    assert [p.name for p in paths] == ["a_grid.png", "a_edit.gif"]
    with pytest.raises(InterfaceGANError, match="sample rows must lie in"):
        edit_run(toy, store, EditRequest(boundary), rows=[49, 50])
    with pytest.raises(InterfaceGANError, match="unknown edit mode"):
        edit_codes(toy, store.codes("z", slice(0, 2)), EditRequest(boundary, mode="sideways"))


def test_demo_rescores_a_run_left_by_an_older_scorer_version(toy_run, toy):
    """An upgraded scorer (new version, maybe new outputs) recomputes the demo's scores instead of refusing them
    or leaving the new outputs empty."""
    from interfacegan.demo import _scored_by_another_version
    from interfacegan.scoring.run import score_store
    from interfacegan.scoring.toy import ToyScorer

    scorer = ToyScorer()
    assert not _scored_by_another_version(toy_run, scorer)
    name = toy_run.score_names[0]
    before = toy_run.scores([name])[name].copy()
    toy_run.array(f"scores/{name}").attrs["version"] = "old"
    assert _scored_by_another_version(toy_run, scorer)
    with pytest.raises(InterfaceGANError, match="--overwrite"):
        score_store(toy_run, scorer, model=toy, progress=False)
    score_store(toy_run, scorer, model=toy, progress=False, overwrite=_scored_by_another_version(toy_run, scorer))
    assert toy_run.score_info(name)["version"] == scorer.version
    np.testing.assert_array_equal(toy_run.scores([name])[name], before)
