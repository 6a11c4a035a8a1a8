"""`analyze_run` and `interfacegan analyze` end to end on a toy run: files, skipped analyses, the HTML report
holding every CSV table with the same numbers, and the command line."""

from __future__ import annotations

import html
import json
import re
import subprocess

import numpy as np
import pytest

from interfacegan.analysis import ANALYSES, analyze_run
from interfacegan.analysis.separability import evaluate_on_run
from interfacegan.analysis.tables import read_csv
from interfacegan.directions.boundary import Boundary
from interfacegan.learning import BoundaryTrainer
from interfacegan.errors import InterfaceGANError

from tests.analysis_helpers import PixelFeatures, toy_run_with_w
from tests.helpers import cli_path

SMALL = dict(num_rescore=150, num_identity=8, num_distance=60, sweep=(-2.0, 2.0), sefa_k=4, progress=False)


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """One toy run (z and w codes, toy scores) for the whole module: (model, store)."""
    return toy_run_with_w(tmp_path_factory.mktemp("analysis") / "run", num=2000, chunk_rows=256)


@pytest.fixture(scope="module")
def analysed(shared_run, tmp_path_factory):
    model, store = shared_run
    return analyze_run(store, tmp_path_factory.mktemp("analysis") / "out", model=model, ratio=0.1,
                       identity_scorer=PixelFeatures(), **SMALL)  # fmt: skip


def _cells(report_html: str) -> set[str]:
    return {html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", report_html)}


def test_every_analysis_runs_or_says_why_not(analysed):
    assert set(analysed.seconds) >= set(ANALYSES) - {"sefa_levels"} and list(analysed.skipped) == ["sefa_levels"]
    for name in ("separability", "correlation_synthesized", "boundary_cosine_z", "rescoring_z", "rescoring_summary_z",
                 "layers_rescoring", "identity", "distance_scores_z", "distance_identity_z", "property2", "sefa_match",
                 "ganspace_match", "method_rescoring_z"):  # fmt: skip
        assert name in analysed.tables
        assert (analysed.out / f"{name}.csv").is_file()
    assert all(p.exists() for p in analysed.files)
    assert len(list(analysed.out.glob("boundaries/*.npz"))) == 6  # 3 attributes x (z, w)
    summary = json.loads((analysed.out / "analysis.json").read_text())
    assert summary["skipped"] == analysed.skipped and "rescoring_z.csv" in summary["files"]


def test_report_contains_every_csv_table_with_its_numbers(analysed):
    text = analysed.report.read_text(encoding="utf-8")
    cells = _cells(text)
    csvs = sorted(analysed.out.glob("*.csv"))
    assert len(csvs) == len(analysed.tables) >= 12
    for path in csvs:
        table = analysed.tables[path.stem]
        assert f"file: {path.name}" in text and html.escape(table.title) in text
        notes, header, rows = read_csv(path)
        for note in notes:
            assert html.escape(note) in text
        formats = table.column_formats()
        for row in rows:
            for value, spec in zip(row[table.label_columns :], formats[table.label_columns :]):
                try:
                    number = float(value)
                except ValueError:
                    number = None
                if value == "":
                    expected = "–"
                elif number is not None and ("." in value or "e" in value or "nan" in value):
                    expected = f"{number:{spec}}" if spec else f"{number:.{table.digits}f}"
                else:
                    expected = value
                assert expected in cells, (path.name, value, expected)
    assert text.count("<img src='data:image/png;base64,") == len(list(analysed.out.glob("*.png")))


def test_rescoring_of_the_toy_run_is_diagonal_and_property2_holds(analysed, shared_run):
    toy = shared_run[0]
    matrix = analysed.tables["rescoring_z"].matrix()
    assert np.all(np.abs(np.diag(matrix)) > np.abs(matrix - np.diag(np.diag(matrix))).max(axis=1))
    assert analysed.summary["property2"]["all_consistent"]
    cos = analysed.tables["boundary_cosine_z"].matrix()
    assert np.allclose(cos, toy.normals @ toy.normals.T, atol=0.06)  # SVM normals recover the true ones


def test_identity_table_has_spaces_and_layer_groups(analysed):
    table = analysed.tables["identity"]
    assert table.header == ["attribute", "Z", "W", "W+ all", "W+ 0-1", "W+ 2-3"]
    values = table.matrix()
    assert np.all(values > 0) and np.all(np.isfinite(values))
    curve = analysed.tables["distance_identity_z"].matrix()  # alphas -2, 2: the alpha = 2 column is Tab. 5's
    assert np.allclose(curve[:, 1], values[:, 0])


def test_skipped_analyses_carry_a_reason(toy_run, toy, tmp_path):
    result = analyze_run(toy_run, tmp_path / "out", analyses=["identity", "layers", "correlation"], model=toy, **SMALL)
    assert "identity" in result.skipped["identity"] and "W" in result.skipped["layers"]
    text = result.report.read_text()
    assert "Analyses not run" in text and html.escape(result.skipped["layers"]) in text


def test_separability_uses_training_metrics_or_evaluates_foreign_boundaries(analysed, shared_run):
    toy, toy_run = shared_run
    rows = {(r[0], r[1]): r for r in analysed.tables["separability"].rows}
    trainer = BoundaryTrainer(ratio=0.1).fit_store(toy_run, "attr0", "z")
    assert rows[("attr0", "Z")][2] == pytest.approx(trainer.boundary_.metrics["val_accuracy"])
    assert rows[("attr0", "Z")][6] == "training split"
    true = Boundary(normal=toy.true_normal(0), attribute="attr0", kind="imported")
    row = evaluate_on_run(toy_run, true, ratio=0.1)
    assert row.val_accuracy == 1.0 and row.remaining_accuracy > 0.97 and row.num_val == 400


def test_given_boundaries_and_explicit_conditions(toy_run, toy, tmp_path):
    paths = []
    for k in range(3):
        b = Boundary(normal=toy.true_normal(k), attribute=f"attr{k}", kind="imported", model="toy")
        paths.append(b.save(tmp_path / f"b{k}.npz"))
    result = analyze_run(toy_run, tmp_path / "out", analyses=["rescore", "boundaries"], boundaries=paths,
                         conditions=["attr1|attr0,attr2", "auto"], condition_threshold=0.35, model=toy,
                         **SMALL)  # fmt: skip
    assert not (tmp_path / "out" / "boundaries").exists()
    assert dict(result.settings)["boundaries"] == "3 boundaries given (3 imported)"
    labels = [r[0] for r in result.tables["rescoring_conditional_z"].rows]
    # auto adds attr1|attr2 and attr2|attr1 (|cos| 0.40 >= 0.35); attr0's largest |cos| is 0.24
    assert labels == ["attr1", "attr1 | attr2", "attr2", "attr2 | attr1", "attr1", "attr1 | attr0, attr2"]
    effect = result.tables["conditional_effect_z"]
    assert [r[1] for r in effect.rows] == ["attr2", "attr1", "attr0", "attr2"]
    for row in effect.rows:
        assert abs(row[3]) < 0.05 < abs(row[2])  # conditioning removed what the plain edit dragged along
    assert np.allclose(result.tables["boundary_cosine_z"].matrix(), toy.normals @ toy.normals.T, atol=1e-6)
    one = analyze_run(toy_run, tmp_path / "one", analyses=["rescore"], boundaries=paths, model=toy,
                      conditions="attr1|attr0,attr2", **SMALL)  # a single item may be given as a string
    assert [r[0] for r in one.tables["rescoring_conditional_z"].rows] == ["attr1", "attr1 | attr0, attr2"]


def test_bad_requests_are_one_line_errors(toy_run, toy, tmp_path):
    with pytest.raises(InterfaceGANError, match="unknown analysis"):
        analyze_run(toy_run, tmp_path / "o", analyses=["nope"], model=toy)
    with pytest.raises(InterfaceGANError, match="no scores"):
        analyze_run(toy_run, tmp_path / "o", attributes=["age"], model=toy)
    with pytest.raises(InterfaceGANError, match="PRIMAL"):
        analyze_run(toy_run, tmp_path / "o", analyses=["rescore"], conditions=["attr0"], model=toy, **SMALL)
    with pytest.raises(InterfaceGANError, match="without a boundary"):
        analyze_run(toy_run, tmp_path / "o", analyses=["rescore"], conditions=["attr0|age"], model=toy, **SMALL)
    assert set(ANALYSES) == {"separability", "correlation", "boundaries", "rescore", "layers", "identity",
                             "distance", "sefa_levels", "sefa"}  # fmt: skip


def test_cli_runs_everything_by_default_and_one_analysis_by_name(toy_run, tmp_path):
    from typer.testing import CliRunner

    from interfacegan.cli import app

    common = ["--num", "100", "--num-distance", "40", "--sweep", "-1,1", "--ratio", "0.1", "--sefa-k", "3", "--quiet"]
    runner = CliRunner()
    done = runner.invoke(app, ["analyze", str(toy_run.path), "--out", str(tmp_path / "all"), *common])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "all" / "report.html").is_file() and (tmp_path / "all" / "sefa_match.csv").is_file()
    assert "skipped" in done.output and "report" in done.output
    one = runner.invoke(app, ["analyze", "boundaries", str(toy_run.path), "--out", str(tmp_path / "one"), *common])
    assert one.exit_code == 0, one.output
    assert sorted(p.name for p in (tmp_path / "one").glob("*.csv")) == ["boundary_cosine_z.csv", "correlation_vs_cosine.csv"]
    quick = runner.invoke(app, ["analyze", "rescore", str(toy_run.path), "--out", str(tmp_path / "quick"), "--quick",
                                "--ratio", "0.1", "--quiet"])  # fmt: skip
    assert quick.exit_code == 0, quick.output
    assert "# M = 300 samples" in (tmp_path / "quick" / "rescoring_z.csv").read_text()  # QUICK, not the default 2,000


def test_cli_user_errors_are_one_red_line(toy_run, tmp_path):
    # `analyze all` (what `analyze RUN` means) skips loading the registry, which imports torch
    bad = subprocess.run([cli_path(), "analyze", "all", str(toy_run.path), "--out", str(tmp_path / "bad"), "--sweep",
                          "x"], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "--sweep" in bad.stderr and "Traceback" not in bad.stderr


def test_every_image_of_the_report_opens_full_size_and_settings_read_as_text(analysed):
    """Issue 10 item 8: images link to their files; the settings are sentences, not Python values."""
    text = analysed.report.read_text(encoding="utf-8")
    figures = re.findall(r"<figure>(.*?)</figure>", text)
    assert len(figures) == len(list(analysed.out.glob("*.png")))
    for figure in figures:
        link = re.match(r"<a href='([^']+)'[^>]*><img src='data:image/png;base64,", figure)
        assert link, figure[:80]
        assert (analysed.out / html.unescape(link.group(1))).is_file()
    settings = dict(analysed.settings)
    assert settings["truncation"] == "none (psi 1)"
    assert settings["boundaries"].startswith("6 boundaries trained here on this run (ratio 0.1: ")
    table = text[text.index("Run and settings") : text.index("Contents:")]
    assert "{" not in table and "'psi'" not in table and "None" not in table and "(s)" not in table


def test_settings_helpers_write_sentences():
    from interfacegan.analysis.report import conditions_text, truncation_text
    from interfacegan.models.base import Truncation
    from interfacegan.report import plural

    assert truncation_text(Truncation(0.7, 8)) == "psi 0.7 on the first 8 W+ layers"
    assert truncation_text(Truncation(0.5)) == "psi 0.5 on all layers"
    assert conditions_text(("none",), 0.3) == "none"
    assert conditions_text(("a|b,c",), 0.3) == "a given b, c"
    assert [plural(n, "direction") for n in (0, 1, 2)] == ["0 directions", "1 direction", "2 directions"]
    assert plural(1, "boundary", "boundaries") == "1 boundary" and plural(3, "boundary", "boundaries") == "3 boundaries"


def test_heatmap_colour_bars_say_their_unit():
    from interfacegan.analysis import plots

    fig = plots.heatmap(np.eye(2), ["a", "b"], ["c", "d"], "title", "cosine of the unit normals")
    colour_bar = fig.axes[-1]
    assert colour_bar is not fig.axes[0] and colour_bar.get_ylabel() == "cosine of the unit normals"
    with pytest.raises(TypeError):
        plots.heatmap(np.eye(2), ["a", "b"], ["c", "d"], "a heatmap without a unit")  # every caller must say it


def test_each_sefa_rescoring_progress_bar_names_its_direction(shared_run, tmp_path, monkeypatch):
    from interfacegan.analysis import context
    from interfacegan.rescoring.matrix import rescoring_matrix

    descriptions = []

    def recording(*args, description="", **kwargs):
        descriptions.append(description)
        return rescoring_matrix(*args, description=description, **kwargs)

    monkeypatch.setattr(context, "rescoring_matrix", recording)
    model, store = shared_run
    result = analyze_run(store, tmp_path / "out", analyses=["sefa"], model=model, ratio=0.1, **SMALL)
    labels = sorted({row[1] for row in result.tables["sefa_match"].rows})
    assert sorted(d for d in descriptions if d.startswith("SeFa")) == [f"SeFa re-scoring ({label})" for label in labels]
    assert "re-scoring (Z)" in descriptions  # the InterFaceGAN matrix it is compared with
