"""What `analyze` works with besides the run: the user's boundaries (given, a train-boundary folder found beside the
run, or trained here, always checked against the model) and the scorers that re-score (never code a run names)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from interfacegan.analysis import analyze_run
from interfacegan.analysis.inputs import RUN_SCORERS, rescoring_scorers
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.learning import default_boundary_dir, train_boundaries
from interfacegan.scoring.toy import ToyScorer

SMALL = dict(num_rescore=60, num_identity=4, num_distance=20, sweep=(-1.0, 1.0), sefa_k=3, progress=False,
             estimate=False)  # fmt: skip


def _settings(result) -> dict[str, str]:
    return dict(result.settings)


def _cli(*args):
    from typer.testing import CliRunner

    from interfacegan.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_train_boundary_folder_beside_the_run_is_used_not_retrained(toy_run, toy, tmp_path):
    folder = default_boundary_dir(toy_run.path)
    assert folder == tmp_path / "run-boundaries"  # what `train-boundary RUN` writes by default
    made = train_boundaries(toy_run, ["attr0", "attr1"], ["z"], folder, ratio=0.1)
    result = analyze_run(toy_run, tmp_path / "out", analyses=["separability", "boundaries"], model=toy, **SMALL)
    assert not (tmp_path / "out" / "boundaries").exists()  # nothing trained
    assert [b.attribute for b in result.boundaries] == ["attr0", "attr1"]
    assert np.array_equal(result.boundaries[0].normal, made[0].normal)
    text = _settings(result)["boundaries"]
    assert str(folder) in text and "ratio 0.1" in text and "280 training and 120 validation samples" in text
    assert [r[6] for r in result.tables["separability"].rows] == ["training split"] * 2

    # asked by name for an attribute the folder lacks: that one is trained here, and said so
    more = analyze_run(toy_run, tmp_path / "more", analyses=["separability"], attributes=["attr0", "attr2"],
                       model=toy, **SMALL)  # fmt: skip
    assert [(b.attribute, b.settings.get("ratio")) for b in more.boundaries] == [("attr0", 0.1), ("attr2", 0.02)]
    assert [p.name for p in (tmp_path / "more" / "boundaries").iterdir()] == ["attr2_z.npz"]
    trained = "1 boundary trained here on this run (ratio 0.02: 56 training and 24 validation"
    assert trained in _settings(more)["boundaries"]

    # --retrain ignores the folder; --boundaries names one explicitly
    done = _cli("analyze", "separability", toy_run.path, "--out", tmp_path / "again", "--retrain", "--ratio", "0.05",
                "--quiet")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "again" / "boundaries").glob("*.npz"))) == 3 and "ratio 0.05" in done.output
    other = tmp_path / "elsewhere"
    train_boundaries(toy_run, ["attr2"], ["z"], other, ratio=0.2)
    named = analyze_run(toy_run, tmp_path / "named", analyses=["separability"], boundaries_dir=other, model=toy,
                        **SMALL)  # fmt: skip
    assert [b.attribute for b in named.boundaries] == ["attr2"] and "ratio 0.2" in _settings(named)["boundaries"]
    with pytest.raises(InterfaceGANError, match="`boundaries` or `boundaries_dir`, not both"):
        analyze_run(toy_run, tmp_path / "both", boundaries=[other], boundaries_dir=other, model=toy, **SMALL)


def test_trained_boundaries_state_their_ratio_and_counts(toy_run, toy, tmp_path):
    result = analyze_run(toy_run, tmp_path / "out", analyses=["separability"], model=toy, ratio=0.05, **SMALL)
    assert _settings(result)["boundaries"] == ("3 boundaries trained here on this run (ratio 0.05: 140 training and "
                                               "60 validation samples)")  # fmt: skip
    assert "ratio 0.05" in result.report.read_text()


def test_analyze_refuses_a_boundary_of_another_model_through_the_command_line(toy_run, tmp_path, monkeypatch, capsys):
    """Regression: `analyze` accepted a boundary trained on another model, which `edit` refuses (one check now)."""
    from tests.helpers import cli_error

    other = Boundary(np.ones(16), attribute="attr0", model="dcgan-digiface").save(tmp_path / "other.npz")
    err = cli_error(monkeypatch, capsys, "analyze", "rescore", toy_run.path, "--out", tmp_path / "a", "--boundary",
                    other)
    assert "belongs to model 'dcgan-digiface', not 'toy'" in err
    err = cli_error(monkeypatch, capsys, "edit", toy_run.path, "--boundary", other, "--out", tmp_path / "e")
    assert "belongs to model 'dcgan-digiface', not 'toy'" in err
    other_folder = default_boundary_dir(toy_run.path)  # a foreign boundary in the folder beside the run, likewise
    Boundary(np.ones(16), attribute="attr0", model="dcgan-digiface").save(other_folder / "attr0_z.npz")
    err = cli_error(monkeypatch, capsys, "analyze", toy_run.path, "--out", tmp_path / "b")
    assert "belongs to model 'dcgan-digiface'" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_run_never_names_code_to_run(toy_run, tmp_path, monkeypatch):
    """Issue 11: a score's metadata naming `module:function` or `builtins:print` is provenance only."""
    module = tmp_path / "mods" / "planted_scorer.py"
    module.parent.mkdir()
    sentinel = tmp_path / "imported"
    module.write_text(f"open({str(sentinel)!r}, 'w').write('ran')\ndef score(images):\n    return {{}}\n")
    monkeypatch.syspath_prepend(str(module.parent))
    toy_run.array("scores/attr0").attrs["scorer"] = "planted_scorer:score"
    for name in ("attr1", "attr2"):
        toy_run.array(f"scores/{name}").attrs["scorer"] = "builtins:print"
    calls = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: calls.append(a))

    done = _cli("analyze", "rescore", toy_run.path, "--out", tmp_path / "out", "--quiet")
    monkeypatch.undo()
    assert done.exit_code == 0, done.output
    assert not sentinel.exists() and "planted_scorer" not in sys.modules and not calls
    said = ("rescore skipped: the run's scores were made by 'planted_scorer:score', 'builtins:print', which are not "
            "loaded from a run (only the built-in face, identity, gender, age, toy are): name the scorers to re-score "
            "with (--scorer)")  # fmt: skip
    plan_line = next(line for line in done.output.splitlines() if "'builtins:print'" in line)
    assert " ".join(plan_line.split()) == said  # one line of the plan printed before the work
    assert "(--scorer)" in " ".join(done.output.split()).split("analyses")[-1]  # and in the final table
    assert not (tmp_path / "out" / "rescoring_z.csv").exists()

    choice = rescoring_scorers(toy_run, None, toy_run.score_names)
    assert choice.scorers == [] and "(`scorers`)" in choice.note  # the library names the parameter
    given = rescoring_scorers(toy_run, ["toy"], toy_run.score_names)  # what the user names is used
    assert [s.name for s in given.scorers] == ["toy"]


def test_only_built_in_scorer_names_are_read_from_a_run_and_they_get_the_runs_framing(toy_run):
    from interfacegan.scoring import available_scorers
    from interfacegan.scoring.calibration import save_framing

    assert set(RUN_SCORERS) <= set(available_scorers())
    assert not any(":" in name for name in RUN_SCORERS)
    toy_run.array("scores/attr0").attrs["scorer"] = "face"
    save_framing(toy_run, {"framing": "ffhq", "source": "given"})
    choice = rescoring_scorers(toy_run, None, ["attr0", "attr1"])
    assert [s.name for s in choice.scorers] == ["face", "toy"] and choice.note == ""
    assert choice.scorers[0].framing.name == "ffhq"  # bound to the run (scoring.base.bind_run), not the default
    assert isinstance(choice.scorers[1], ToyScorer)


def test_sefa_layers_on_a_model_with_one_first_layer_are_refused_up_front(toy_run, toy, tmp_path):
    with pytest.raises(InterfaceGANError, match="leave sefa_layers unset"):
        analyze_run(toy_run, tmp_path / "out", model=toy, sefa_layers="0-1", **SMALL)
    assert not (tmp_path / "out").exists()


def test_unknown_conditions_are_refused_before_anything_is_written(toy_run, toy, tmp_path):
    with pytest.raises(InterfaceGANError, match="without a boundary"):
        analyze_run(toy_run, tmp_path / "out", model=toy, conditions=["attr0|age"], **SMALL)
    with pytest.raises(InterfaceGANError, match="PRIMAL"):
        analyze_run(toy_run, tmp_path / "out", model=toy, conditions=["attr0"], **SMALL)
    assert not (tmp_path / "out").exists()


def test_unsupervised_directions_are_given_but_not_measured_as_boundaries(toy_run, toy, tmp_path):
    given = [Boundary(toy.true_normal(0), attribute="attr0", kind="imported", model="toy"),
             Boundary(toy.true_normal(1), attribute="sefa_0", kind="sefa", model="toy"),
             Boundary(toy.true_normal(2), attribute="pc_0", kind="ganspace", model="toy")]  # fmt: skip
    result = analyze_run(toy_run, tmp_path / "out", analyses=["separability"], boundaries=given, model=toy, **SMALL)
    assert [r[0] for r in result.tables["separability"].rows] == ["attr0"]
    assert _settings(result)["boundaries"] == "3 boundaries given (1 ganspace; 1 imported; 1 sefa)"
