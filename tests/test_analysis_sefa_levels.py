"""SeFa per level (`analyze sefa_levels`: SeFa paper Fig. 2, Tab. 1) on a tiny random StyleGAN2 (32 px, 8 W+
layers): the paper's bottom / middle / top split, each level's directions exactly SeFa of its layers, named by
the one naming rule, and an edit strip per level; models without W+ style layers say why they are skipped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from interfacegan.analysis import analyze_run
from interfacegan.analysis.steps.sefa_levels import STRIP_SAMPLES, default_levels, levels
from interfacegan.directions.sefa import sefa_boundaries
from interfacegan.errors import InterfaceGANError
from interfacegan.models.checkpoints import build_random
from interfacegan.rescoring.naming import name_directions
from interfacegan.sampling import sample_to_store
from tests.analysis_helpers import ColourScorer

K = 2


@pytest.fixture(scope="module")
def tiny_levels(tmp_path_factory):
    model = build_random("stylegan2", resolution=32, w_dim=16, channel_base=512, channel_max=32, device="cpu")
    path = tmp_path_factory.mktemp("levels")
    store = sample_to_store(model, path / "run", num=4, seed=0, progress=False)
    scorer = ColourScorer()
    result = analyze_run(store, path / "out", analyses=["sefa_levels"], model=model, scorers=[scorer], level_k=K,
                         sweep=(-3.0, 3.0), estimate=False, progress=False)  # fmt: skip
    assert scorer.images == result.plan.images == 64 * (3 * K + 1)  # named on 64 samples each, one unedited set
    return model, result


def test_the_papers_split_and_smaller_models():
    assert default_levels(18) == ["0-1", "2-5", "6-17"]  # SeFa paper Tab. 1: bottom 0-1, middle 2-5, top 6-
    assert default_levels(14) == ["0-1", "2-5", "6-13"]  # the official interface's 256 px groups
    assert default_levels(8) == ["0-1", "2-5", "6-7"]
    assert default_levels(6) == ["0-1", "2-3", "4-5"] and default_levels(4) == ["0-1", "2", "3"]
    assert default_levels(2) == ["0", "1"]


def test_each_level_is_sefa_of_its_layers_named_by_the_naming_rule(tiny_levels):
    model, result = tiny_levels
    assert levels(model) == [("bottom", "0-1"), ("middle", "2-5"), ("top", "6-7")]
    table = result.tables["sefa_levels"]
    assert table.header == ["level", "layers", "direction", "named", "eigenvalue", "brightness", "redness"]
    assert [(r[0], r[1]) for r in table.rows] == [(lv, g) for lv, g in levels(model) for _ in range(K)]
    directions = [d for _, g in levels(model) for d in sefa_boundaries(model, k=K, layers=g)]
    assert [r[4] for r in table.rows] == pytest.approx([d.metrics["eigenvalue"] for d in directions])
    names = name_directions(model, directions, [ColourScorer()])  # called directly: the same names and changes
    assert [r[3] for r in table.rows] == [n.label for n in names]
    assert np.allclose(table.matrix()[:, 1:], [[n.effects[a].change_std for a in ("brightness", "redness")]
                                                for n in names])  # fmt: skip
    assert set(result.summary["sefa_levels"]) == {"bottom", "middle", "top"}
    assert not (result.out / "boundaries").exists()  # the study needs no boundaries: none were trained


def test_an_edit_strip_per_level(tiny_levels):
    model, result = tiny_levels
    for level in ("bottom", "middle", "top"):
        path = result.out / f"sefa_level_{level}.png"
        assert path in result.files
        width, height = Image.open(path).size
        # K directions x STRIP_SAMPLES rows of 32 px tiles, 3 columns (alpha -3, 0, 3), 2 px apart, labels above
        assert height >= K * STRIP_SAMPLES * 34 and width >= 3 * 34
    assert "sefa_levels.png" in {p.name for p in result.files}


def test_models_without_style_layers_are_skipped_or_refused(toy_run, toy, tmp_path):
    result = analyze_run(toy_run, tmp_path / "out", analyses=["sefa_levels"], model=toy, progress=False)
    assert "per-level study is for style-based generators" in result.skipped["sefa_levels"]
    with pytest.raises(InterfaceGANError, match="leave sefa_levels unset"):
        analyze_run(toy_run, tmp_path / "bad", analyses=["sefa_levels"], model=toy, sefa_levels=["0-1"])
    model = build_random("stylegan2", resolution=16, w_dim=8, channel_base=64, channel_max=8, device="cpu")
    with pytest.raises(InterfaceGANError, match=r"sefa_levels: layer\(s\) 9 out of range .* layers 0-5"):
        levels(model, ["0-1", "9"])
