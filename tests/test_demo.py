"""The demo pipeline end to end on the embedded GAN (small sizes), and the editing API behind `edit`."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from interfacegan.directions.boundary import Boundary
from interfacegan.analysis.registry import ANALYSES
from interfacegan.demo import DemoSettings, run_demo
from interfacegan.editing.run import EditRequest, edit_codes, edit_run, save_edit
from interfacegan.errors import InterfaceGANError
from interfacegan.paper_attributes import PAPER_ATTRIBUTES
from interfacegan.sampling import sample_to_store


# The smallest demo that still runs every step and every analysis but one: 300 samples (30 each side of a boundary
# at ratio 0.1). The method comparison ('sefa': naming SeFa and GANSpace directions on the fixed naming samples) is
# left out here (a third of the test's time); tests/test_analysis_sefa_methods.py covers it against known answers.
TINY = DemoSettings(num=300, sefa_k=2, name_num=4, edit_rows=2, steps=7, target_num=6,
                    analysis=dict(num_rescore=8, num_identity=1, num_distance=2, sweep=(-1.0, 1.0),
                                  analyses=[a for a in ANALYSES if a != "sefa"]))  # fmt: skip


def test_demo_writes_a_complete_report_and_resumes(tmp_path):
    steps = []
    report = run_demo(tmp_path / "demo", TINY, progress=False, on_step=steps.append)
    assert steps[0] == "sampling 300 faces" and steps[-1] == "the analyses of the face attributes" and len(steps) == 10
    html = report.read_text()
    for heading in ("Boundaries: separability", "Edits along each boundary", "Conditional edits", "SeFa",
                    "Re-scoring (paper Tab. 3)", "Identity discrepancy", "Property 2"):  # fmt: skip
        assert heading in html
    # the paper's five attributes come first: targets, conditional edits and its analyses on those five
    paper = html.index("The paper&#x27;s five attributes: pose, smile, age, gender, eyeglasses")
    assert paper < html.index("Steps and timing")
    for item in ("gender edit raises male probability", "age|eyeglasses cuts the eyeglasses change of the age edit",
                 "age|gender keeps the age change", "The paper&#x27;s five: Separability of the latent space",
                 "The paper&#x27;s five: Attribute correlation", "The paper&#x27;s five: Boundary correlation",
                 "The paper&#x27;s five: Re-scoring (paper Tab. 3)", "age | eyeglasses", "age | gender",
                 "eyeglasses | age", "The paper&#x27;s five: Identity discrepancy (paper Tab. 5)"):  # fmt: skip
        assert paper < html.index(item) < html.index("Steps and timing"), item
    identity = (tmp_path / "demo" / "analysis-paper" / "identity.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in identity if not line.startswith("#")][1:] == list(PAPER_ATTRIBUTES)
    assert "src='http" not in html and "<script" not in html  # self-contained, opens with no server
    _grids_open_full_size_with_legible_labels(tmp_path / "demo", html)
    assert "{'psi'" not in html and "(s)" not in html and "1 samples" not in html
    attributes = ["yaw", "smile", "mouth_open", "eye_open", "eyeglasses", "eyeglasses_edges", "brightness", "gender",
                  "age"]  # fmt: skip
    for a in attributes:
        b = Boundary.load(tmp_path / "demo" / "boundaries" / f"{a}_z.npz")
        assert b.attribute == a and b.model == "dcgan-digiface" and 0.5 < b.metrics["val_accuracy"] <= 1
        assert (tmp_path / "demo" / "edits" / f"{a}_edit.gif").stat().st_size > 0
    boundaries_table = html[html.index("Boundaries: separability of each attribute"):]
    yaw_row = re.search(r"<td class='label'>yaw</td><td>([0-9.]+)</td><td>([0-9.]+)</td>", boundaries_table)
    assert yaw_row and float(yaw_row.group(2)) >= 0.8  # yaw separates well even on 30 faces each side
    cond = Boundary.load(tmp_path / "demo" / "edits" / "eyeglasses_edges_given_brightness_direction.npz")
    brightness = Boundary.load(tmp_path / "demo" / "boundaries" / "brightness_z.npz")
    assert abs(float(cond.normal @ brightness.normal)) < 1e-5
    assert len(list((tmp_path / "demo" / "sefa").glob("sefa_*.npz"))) == 2
    # A second run with the same run settings resumes the finished store instead of refusing it (one cheap analysis).
    again = dataclasses.replace(TINY, analysis={**TINY.analysis, "analyses": ["separability"]})
    assert run_demo(tmp_path / "demo", again, progress=False) == report


def _grids_open_full_size_with_legible_labels(folder, html: str, min_pixels: float = 9.0) -> None:
    """Each edit grid is a link to its PNG, and its column (alpha) labels are at least `min_pixels` tall as shown."""
    from PIL import Image

    grids = re.findall(r"<a href='([^']+)'[^>]*><img src='data:image/png;base64,[^']*' style='width:(\d+)px'", html)
    assert len(grids) == 9 + 4 + 8 + 2  # boundaries, plain and conditional pairs, the paper's pairs, SeFa directions
    for href, shown in grids:
        grey = np.asarray(Image.open(folder / href).convert("L"))
        top = int(np.argmax((grey < 250).mean(axis=1) > 0.5))  # the first row of the first tile
        ink = int(((grey[:top] < 128).any(axis=1)).sum())  # rows of the label band that hold text
        assert ink * int(shown) / grey.shape[1] >= min_pixels, (href, ink, grey.shape, shown)


def test_demo_refuses_too_few_samples_or_a_bad_ratio(tmp_path):
    with pytest.raises(InterfaceGANError, match="gives 1 samples each side of a boundary.*raise num to 200"):
        run_demo(tmp_path, DemoSettings(num=10), progress=False)
    with pytest.raises(InterfaceGANError, match=r"ratio must be in \(0, 0.5\], got 0.7"):
        run_demo(tmp_path, DemoSettings(ratio=0.7), progress=False)
    assert not any(tmp_path.iterdir())


def test_edit_run_moves_the_known_attribute_and_saves_outputs(tmp_path, toy_generator):
    from interfacegan.scoring.toy import ToyScorer

    store = sample_to_store(toy_generator, tmp_path / "run", num=50, seed=0, progress=False)
    boundary = Boundary(toy_generator.normals[0], attribute="attr0", model="toy")
    result = edit_run(toy_generator, store, EditRequest(boundary, steps=5, lo=-2, hi=2), rows=[3, 4, 5])
    assert result.grid.shape == (3, 5, 8, 8, 3)
    scores = ToyScorer().score(result.grid.reshape(-1, 8, 8, 3))["attr0"].reshape(3, 5)
    np.testing.assert_allclose(np.diff(scores, axis=1), 1.0, atol=0.1)  # +1 per step along the true normal
    paths = save_edit(result, tmp_path / "out", stem="a_")
    assert [p.name for p in paths] == ["a_grid.png", "a_edit.gif"]
    with pytest.raises(InterfaceGANError, match="sample rows must lie in"):
        edit_run(toy_generator, store, EditRequest(boundary), rows=[49, 50])
    with pytest.raises(InterfaceGANError, match="unknown edit mode"):
        edit_codes(toy_generator, store.codes("z", slice(0, 2)), EditRequest(boundary, mode="sideways"))


def test_demo_rescores_a_run_left_by_an_older_scorer_version(toy_run, toy_generator):
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
    with pytest.raises(InterfaceGANError, match="use overwrite"):
        score_store(toy_run, scorer, model=toy_generator, progress=False)
    overwrite = _scored_by_another_version(toy_run, scorer)
    score_store(toy_run, scorer, model=toy_generator, progress=False, overwrite=overwrite)
    assert toy_run.score_info(name)["version"] == scorer.version
    np.testing.assert_array_equal(toy_run.scores([name])[name], before)
