"""The method comparison (`analyze sefa`: SeFa paper Tab. 2, Tab. 3, Fig. 7) on a toy generator whose answers are
known: its first affine is the z read-out, so SeFa's directions are the top right singular vectors of the
row-normalised read-out and GANSpace's (PCA of the read-out values, regressed back to z) those of the read-out
itself; the toy scorer reads back n_k . x exactly, so re-scoring an edit along v changes attribute k by
alpha (n_k . v) / std: a matched direction's target change is the boundary's times their cosine."""

from __future__ import annotations

import numpy as np
import pytest

from interfacegan.analysis import analyze_run
from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer
from tests.analysis_helpers import ColourScorer, PixelFeatures
from tests.helpers import cli_error

SIZES = dict(num_rescore=150, num_identity=4, sweep=(-2.0, 2.0), sefa_k=4, ganspace_num=4000, progress=False)


def shaped_toy() -> ToyGenerator:
    """A toy whose read-out has two strong directions: 20 extra rows along attr0's normal and 10 along attr2's
    (orthonormal normals), so SeFa's and GANSpace's top two directions are near them; attr1's is weak."""
    q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((8, 8)))
    n0, n1, n2 = q[:, 0], q[:, 2], q[:, 1]
    return ToyGenerator(z_dim=8, normals=np.stack([n0, n1, n2, *[n0] * 20, *[n2] * 10]), seed=0)


def top_right_vectors(a: np.ndarray, k: int) -> np.ndarray:
    """The top k right singular vectors of `a`, each signed so that its largest-magnitude entry is positive
    (SeFa's documented sign rule)."""
    v = np.linalg.svd(a.astype(np.float64))[2][:k]
    return v * np.sign(v[np.arange(k), np.abs(v).argmax(axis=1)])[:, None]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    model = shaped_toy()
    path = tmp_path_factory.mktemp("methods")
    store = sample_to_store(model, path / "run", num=600, seed=3, chunk_rows=256, progress=False)
    score_store(store, ToyScorer(3), model=model, progress=False)
    true = [Boundary(normal=model.normals[k], attribute=f"attr{k}", kind="imported", model="toy") for k in range(3)]
    result = analyze_run(store, path / "out", analyses=["sefa"], boundaries=true, model=model,
                         identity_scorer=PixelFeatures(), **SIZES)  # fmt: skip
    return model, true, result


def test_matches_are_the_known_singular_vectors(compared):
    model, true, result = compared
    readout = model.readout.astype(np.float64)
    expected = {"sefa": top_right_vectors(readout / np.linalg.norm(readout, axis=1, keepdims=True), 4),
                "ganspace": top_right_vectors(readout, 4)}
    for method, tolerance in (("sefa", 1e-5), ("ganspace", 0.02)):  # GANSpace estimates from 4,000 samples
        rows = {r[0]: r for r in result.tables[f"{method}_match"].rows}
        # the weak attr1 lies in the noise bulk of the spectrum: GANSpace's estimate of those directions is not exact
        for b in true if method == "sefa" else [true[0], true[2]]:
            cos = expected[method] @ b.normal
            i = int(np.argmax(np.abs(cos)))
            assert rows[b.attribute][1].lstrip("+-") == f"{method}_{i}"
            if method == "sefa":  # GANSpace's Z directions follow another sign rule (they raise their PCA coordinate)
                assert rows[b.attribute][1][0] == ("+" if cos[i] > 0 else "-")
            assert rows[b.attribute][4] == pytest.approx(abs(cos[i]), abs=tolerance)
        assert rows["attr0"][2] == 0 and rows["attr2"][2] == 1  # the two strong directions, in order
        assert rows["attr0"][4] > 0.95 and rows["attr2"][4] > 0.9
    pair = {r[0]: r[3] for r in result.tables["matched_cosines"].rows}  # SeFa . GANSpace
    assert pair["attr0"] == pytest.approx(abs(expected["sefa"][0] @ expected["ganspace"][0]), abs=0.02)


def test_side_by_side_rescoring_scales_with_the_cosine(compared):
    _, _, result = compared
    table = result.tables["method_rescoring_z"]
    labels, matrix = [r[0] for r in table.rows], table.matrix()
    match = {m: {r[0]: r for r in result.tables[f"{m}_match"].rows} for m in ("sefa", "ganspace")}
    assert labels[:3] == ["attr0: InterFaceGAN", f"attr0: SeFa {match['sefa']['attr0'][1]}",
                          f"attr0: GANSpace {match['ganspace']['attr0'][1]}"]  # fmt: skip
    cosines = {m: {r[0]: r[4] for r in result.tables[f"{m}_match"].rows} for m in ("sefa", "ganspace")}
    for k in range(3):
        boundary, sefa, ganspace = matrix[3 * k : 3 * k + 3, k]
        assert boundary > 1.5  # alpha 2 along the exact normal: about 2 standard deviations
        assert sefa == pytest.approx(boundary * cosines["sefa"][f"attr{k}"], rel=0.05)
        assert ganspace == pytest.approx(boundary * cosines["ganspace"][f"attr{k}"], rel=0.05)
    match = {r[0]: r for r in result.tables["sefa_match"].rows}
    assert match["attr0"][6] == pytest.approx(matrix[1, 0]) and match["attr0"][5] == pytest.approx(matrix[0, 0])


def test_movers_identity_summary_and_strips(compared):
    _, _, result = compared
    movers = {(r[0], r[1]): r for r in result.tables["method_movers"].rows}
    for method in ("SeFa", "GANSpace"):  # the strong directions also move their attribute most
        assert movers[("attr0", method)][6] == "yes" and movers[("attr2", method)][6] == "yes"
        assert abs(movers[("attr0", method)][5]) > 2.0  # alpha 3 along a direction with |cos| > 0.95
    identity = result.tables["method_identity"].matrix()
    assert identity.shape == (3, 3) and np.all(np.isfinite(identity)) and np.all(identity > 0)
    summary = {r[0]: r for r in result.tables["method_summary"].rows}
    assert list(summary) == ["InterFaceGAN", "SeFa", "GANSpace"]
    sefa_cos = [r[4] for r in result.tables["sefa_match"].rows]
    assert summary["SeFa"][2] == pytest.approx(np.mean(sefa_cos)) and summary["InterFaceGAN"][2] == 1.0
    assert summary["GANSpace"][5] == pytest.approx(identity[:, 2].mean())
    assert (result.out / "method_edits.png").is_file()
    text = result.report.read_text()
    assert "stands in for both" in text and "FID" in text  # the report says identity is our stand-in


def test_the_plan_counts_the_distinct_matched_directions(compared):
    _, _, result = compared
    entry = next(a for a in result.plan.analyses if a.name == "sefa")
    matched = sum(len({r[1] for r in result.tables[f"{m}_match"].rows}) for m in ("sefa", "ganspace"))
    assert entry.work.directions == matched and f"{matched} matched" in entry.work.detail
    assert "GANSpace: PCA of 4,000 samples" in entry.work.detail
    # the unedited rows, the boundaries' matrix, each distinct match on M rows, and 64 x (8 named + 1 unedited)
    assert entry.images == 150 + 150 * 3 + 150 * matched + 64 * (8 + 1)


def test_a_model_ganspace_cannot_read_skips_the_comparison_with_the_reason(toy_run, toy, tmp_path, monkeypatch):
    def unreadable(z):
        raise InterfaceGANError("model 'toy' does not expose its first layer's activations")

    monkeypatch.setattr(toy, "first_layer_activations", unreadable)
    result = analyze_run(toy_run, tmp_path / "out", analyses=["sefa"], model=toy, ratio=0.1, **SIZES)
    assert result.skipped["sefa"].startswith("GANSpace cannot run on model 'toy': model 'toy' does not expose")


def test_bad_settings_are_one_line_errors(toy_run, toy, tmp_path, monkeypatch, capsys):
    with pytest.raises(InterfaceGANError, match="ganspace_num must be at least sefa_k = 4"):
        analyze_run(toy_run, tmp_path / "o", analyses=["sefa"], model=toy, **{**SIZES, "ganspace_num": 3})
    err = cli_error(monkeypatch, capsys, "analyze", "sefa", toy_run.path, "--out", tmp_path / "cli", "--sefa-k", "4",
                    "--ganspace-num", "2")  # fmt: skip
    assert "--ganspace-num must be at least --sefa-k = 4" in err and not (tmp_path / "cli").exists()


def test_the_command_runs_the_comparison_with_its_options(toy_run, tmp_path):
    import typer.main
    from typer.testing import CliRunner

    from interfacegan.analysis import QUICK
    from interfacegan.cli import app

    command = typer.main.get_command(app).commands["analyze"].commands["all"]  # every analysis takes the same options
    helps = {p.name: p.help for p in command.params}
    assert f"--quick: {QUICK['ganspace_num']}" in helps["ganspace_num"]
    assert f"GANSpace on {QUICK['ganspace_num']}" in helps["quick"]
    done = CliRunner().invoke(app, ["analyze", "sefa", str(toy_run.path), "--out", str(tmp_path / "out"), "--num",
                                    "60", "--num-identity", "2", "--sefa-k", "3", "--ganspace-num", "500", "--ratio",
                                    "0.1", "--quiet"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "# GANSpace: PCA of 500 samples" in (tmp_path / "out" / "ganspace_match.csv").read_text()
    assert (tmp_path / "out" / "method_summary.csv").is_file()


def test_on_a_style_model_both_methods_edit_the_chosen_style_layers(tmp_path, monkeypatch):
    """SeFa of layers 0-1 edits those W+ layers only; GANSpace's directions (PCA of w) edit the same layers, so
    the two are compared on the same edits, and the boundary (in W) moves every layer."""
    from interfacegan.analysis.context import AnalysisContext
    from interfacegan.models.checkpoints import build_random

    model = build_random("stylegan2", resolution=16, w_dim=8, channel_base=64, channel_max=8, device="cpu")
    store = sample_to_store(model, tmp_path / "run", num=200, seed=0, spaces=("z", "w"), progress=False)
    scorer = ColourScorer()
    score_store(store, scorer, model=model, progress=False)
    seen, rescore_edits = [], AnalysisContext.rescore_edits

    def recording(self, space, edits, *args, **kwargs):
        seen.append((space, [e.layers for e in edits]))
        return rescore_edits(self, space, edits, *args, **kwargs)

    monkeypatch.setattr(AnalysisContext, "rescore_edits", recording)
    result = analyze_run(store, tmp_path / "out", analyses=["sefa"], model=model, scorers=[scorer],
                         identity_scorer=None, spaces=["w"], ratio=0.1, num_rescore=20, sefa_k=2, ganspace_num=200,
                         sefa_layers="0-1", estimate=False, progress=False)  # fmt: skip
    assert scorer.images == store.num + result.plan.images  # the run's own scoring, then exactly the plan
    assert ("w", [None, None]) in seen  # the boundaries' matrix: whole w codes
    unsupervised = [layers for space, layers in seen if space == "wp"]
    assert unsupervised and all(layers == ["0-1"] for layers in unsupervised)
    notes = result.tables["ganspace_match"].notes
    assert "layers 0-1" in notes[0] and "GANSpace: PCA of 200 samples (of w)" in notes[-1]
    assert "identity change: not measured" in result.report.read_text()
