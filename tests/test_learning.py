"""Boundary learning: known-normal recovery, the selection and its refusals, solvers against the official SVC,
non-convergence reported, store training and the one file-naming convention of train_boundaries."""

import logging

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from interfacegan.directions import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.learning import BoundaryTrainer, boundary_path, fit_linear_svm, select_samples, train_boundaries
from interfacegan.learning.solver import OFFICIAL_MAX_ROWS
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.toy import ToyScorer
from tests.helpers import cli_error


@pytest.mark.parametrize("attribute", [0, 1, 2])
def test_recovers_known_normal_in_z(toy_samples, attribute):
    model, z, scores = toy_samples
    boundary = BoundaryTrainer(ratio=0.1, seed=3).fit(z, scores[f"attr{attribute}"], attribute=f"attr{attribute}").boundary_
    assert float(boundary.normal @ model.true_normal(attribute)) > 0.99
    assert boundary.metrics["val_accuracy"] >= 0.99
    assert abs(np.linalg.norm(boundary.normal) - 1) < 1e-6


def test_fitted_trainer_has_n_iter_as_scikit_learn_and_the_readme_say(toy_samples):
    _, z, scores = toy_samples
    trainer = BoundaryTrainer(ratio=0.1, solver="liblinear").fit(z, scores["attr0"], attribute="attr0")
    assert trainer.n_iter_ == trainer.boundary_.metrics["n_iter"] and trainer.n_iter_ >= 1


def test_recovers_known_normal_in_w(toy_samples):
    model, z, scores = toy_samples
    w = model.map(z, "w")
    boundary = BoundaryTrainer(ratio=0.1).fit(w, scores["attr1"], attribute="attr1", space="w").boundary_
    assert boundary.space == "w"
    assert float(boundary.normal @ model.true_normal(1, "w")) > 0.99


def test_flattened_wp_boundary_keeps_code_shape(toy_samples):
    model, z, scores = toy_samples
    wp = model.map(z[:1500], "wp")
    boundary = BoundaryTrainer(ratio=0.1).fit(wp, scores["attr0"][:1500], space="wp").boundary_
    assert boundary.code_shape == (model.num_ws, model.w_dim)
    assert boundary.direction().shape == (model.num_ws, model.w_dim)
    # every layer's slice points the same way as the W normal (all layers carry the same w)
    per_layer = boundary.direction() / np.linalg.norm(boundary.direction(), axis=1, keepdims=True)
    assert (per_layer @ model.true_normal(0, "w") > 0.95).all()
    assert boundary.distance(wp[:5]).shape == (5,)


def test_intercept_follows_shifted_codes():
    # Codes far from the origin (like W codes): the hyperplane must still sit between the two groups,
    # i.e. the centring used for the primal solver is undone in the intercept.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 8))
    n = np.eye(8)[2]
    shift = np.full(8, 4.0)
    boundary = BoundaryTrainer(ratio=0.3).fit(x + shift, x @ n).boundary_
    assert float(boundary.normal @ n) > 0.99
    assert abs(float(boundary.distance(shift))) < 0.1  # x = 0 is on the hyperplane (symmetric classes)
    np.testing.assert_allclose(boundary.distance(x[:100] + shift), x[:100] @ boundary.normal.astype(np.float64)
                               + boundary.distance(shift), atol=1e-9)  # fmt: skip
    assert boundary.metrics["train_accuracy"] == 1.0


def test_selection_drops_nans_and_counts():
    scores = np.arange(100, dtype=np.float32)
    scores[[3, 50, 97]] = np.nan
    sel = select_samples(scores, ratio=0.1, split=0.7, seed=0)
    assert sel.num_valid == 97 and sel.num_dropped == 3
    chosen = int(97 * 0.1)  # 9 per side
    assert len(sel.pos_train) + len(sel.pos_val) == chosen == len(sel.neg_train) + len(sel.neg_val)
    assert len(sel.pos_train) == int(chosen * 0.7)
    pos = np.concatenate([sel.pos_train, sel.pos_val])
    neg = np.concatenate([sel.neg_train, sel.neg_val])
    assert set(pos) == {99, 98, 96, 95, 94, 93, 92, 91, 90}
    assert set(neg) == set(range(0, 10)) - {3}
    assert len(sel.remaining) == 97 - 2 * chosen and not set(sel.remaining) & (set(pos) | set(neg) | {3, 50, 97})
    assert sel.threshold == pytest.approx((90 + 9) / 2)  # edges: lowest positive, highest negative
    assert select_samples(scores, ratio=0.1, threshold="extremes").threshold == pytest.approx((99 + 0) / 2)
    by_count = select_samples(scores, count=20)
    assert len(by_count.pos_train) + len(by_count.pos_val) == 20
    # the seed changes the split but not the selection
    other = select_samples(scores, ratio=0.1, seed=1)
    assert set(np.r_[other.pos_train, other.pos_val]) == set(pos)


def test_selection_errors():
    with pytest.raises(InterfaceGANError, match="ratio"):
        select_samples(np.arange(10.0), ratio=0.6)
    with pytest.raises(InterfaceGANError, match="cannot select"):
        select_samples(np.r_[np.arange(6.0), [np.nan] * 10], count=4)
    with pytest.raises(InterfaceGANError, match="split"):
        select_samples(np.arange(100.0), ratio=0.1, split=1.0)
    with pytest.raises(InterfaceGANError, match="match row for row"):
        BoundaryTrainer().fit(np.zeros((10, 3)), np.zeros(9))


def test_fit_store_matches_fit_on_arrays(tmp_path):
    model = ToyGenerator(z_dim=8, num_attributes=2, seed=2)
    store = sample_to_store(model, tmp_path / "run", num=2500, chunk_rows=512, progress=False)
    z = store.codes("z")
    scores = ToyScorer(2)(model.synthesize(z))["attr1"].copy()
    scores[::50] = np.nan  # some samples without a score
    store.ensure_array("scores/attr1", (), "float32", attrs={"scorer": "toy", "version": "1"})
    store.write_rows("scores/attr1", 0, scores)
    a = BoundaryTrainer(ratio=0.1).fit(z, scores, attribute="attr1", model="toy").boundary_
    b = BoundaryTrainer(ratio=0.1).fit_store(store, "attr1").boundary_
    np.testing.assert_allclose(a.normal, b.normal, atol=1e-6)
    for key in ("train_accuracy", "val_accuracy", "remaining_accuracy", "num_remaining", "num_dropped"):
        assert a.metrics[key] == b.metrics[key]
    assert b.metrics["num_dropped"] == 50
    assert b.model == "toy" and b.model_info["z_dim"] == 8


def test_constant_and_nearly_constant_scores_are_refused():
    with pytest.raises(InterfaceGANError, match=r"attribute 'red' has one value for all samples \(0.5 for all 99\)"):
        select_samples(np.r_[np.full(99, 0.5), np.nan], attribute="red")
    rare = np.r_[np.ones(3), np.zeros(97)]  # 3% ones: the top 10% holds zeros too
    with pytest.raises(InterfaceGANError, match="'red' is nearly constant: its top and bottom 10 samples share the "
                                                "score 0 .2 distinct values among 100"):  # fmt: skip
        select_samples(rare, ratio=0.1, attribute="red")
    sel = select_samples(rare, count=3)  # the top 3 are all ones: separable
    assert set(np.r_[sel.pos_train, sel.pos_val]) == {0, 1, 2} and sel.threshold == 0.5
    with pytest.raises(InterfaceGANError, match="the score has one value"):  # select_samples without a name
        select_samples(np.ones(50))
    with pytest.raises(InterfaceGANError, match="attribute .attribute. has one value"):
        BoundaryTrainer().fit(np.ones((50, 3)), np.ones(50))


def test_train_boundary_command_refuses_a_constant_score(tmp_path, monkeypatch, capsys):
    store = sample_to_store(ToyGenerator(z_dim=4), tmp_path / "run", num=200, progress=False)
    store.ensure_array("scores/red", (), "float32", attrs={"scorer": "test", "version": "1"})
    store.write_rows("scores/red", 0, np.full(200, 3.0, np.float32))
    err = cli_error(monkeypatch, capsys, "train-boundary", tmp_path / "run", "--attribute", "red")
    assert "attribute 'red' has one value for all samples" in err
    assert not (tmp_path / "run-boundaries").exists()


def test_solvers_match_the_official_svc():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 32))
    n = rng.standard_normal(32)
    n /= np.linalg.norm(n)
    scores = x @ n + 0.3 * rng.standard_normal(3000)
    official = BoundaryTrainer(ratio=0.2, solver="official").fit(x, scores).boundary_
    assert official.metrics["solver"] == "official" and official.metrics["converged"]
    for solver in ("liblinear", "tron"):  # 'tron': the old name, now liblinear's trust-region Newton solver
        b = BoundaryTrainer(ratio=0.2, solver=solver).fit(x, scores).boundary_
        assert b.metrics["solver"] == "liblinear" and b.settings["solver"] == "liblinear"
        assert abs(b.metrics["val_accuracy"] - official.metrics["val_accuracy"]) <= 0.01
        assert abs(b.metrics["remaining_accuracy"] - official.metrics["remaining_accuracy"]) <= 0.02
        assert float(b.normal @ official.normal) > 0.98
    auto = BoundaryTrainer(ratio=0.2).fit(x, scores).boundary_  # 840 training rows: the official SVC itself
    assert auto.metrics["solver"] == "official" and auto.settings["solver"] == "auto"
    np.testing.assert_array_equal(auto.normal, official.normal)
    y = np.r_[np.ones(OFFICIAL_MAX_ROWS // 2 + 1), np.zeros(OFFICIAL_MAX_ROWS // 2 + 1)]
    x = rng.standard_normal((len(y), 4)) + y[:, None]
    assert fit_linear_svm(x, y).solver == "liblinear" and fit_linear_svm(x[1:-1], y[1:-1]).solver == "official"
    with pytest.raises(InterfaceGANError, match="unknown solver 'sgd': use one of auto, liblinear, official"):
        BoundaryTrainer(solver="sgd").fit(x, y)


def test_non_convergence_is_recorded_and_warned(caplog, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 20))
    scores = x[:, 0] + rng.standard_normal(400)
    with caplog.at_level(logging.WARNING, logger="interfacegan.learning"):
        with pytest.warns(ConvergenceWarning):
            b = BoundaryTrainer(ratio=0.3, solver="liblinear", max_iter=1).fit(x, scores, attribute="yaw").boundary_
    assert b.metrics["converged"] is False and b.metrics["n_iter"] == 1 and b.settings["max_iter"] == 1
    assert "boundary 'yaw' (z): the liblinear solver stopped at max_iter=1 without converging" in caplog.text
    done = BoundaryTrainer(ratio=0.3, solver="liblinear").fit(x, scores).boundary_
    assert done.metrics["converged"] is True and 1 <= done.metrics["n_iter"] < 1000
    loaded = Boundary.load(b.save(tmp_path / "yaw_z.npz"))  # the flag survives the file format
    assert loaded.metrics["converged"] is False and loaded.metrics["n_iter"] == 1


def test_train_boundaries_one_naming_convention(tmp_path):
    model = ToyGenerator(z_dim=8, num_attributes=2, seed=2)
    store = sample_to_store(model, tmp_path / "run", num=1500, spaces=["z", "w"], progress=False)
    for name, values in ToyScorer(2)(model.synthesize(store.codes("z"))).items():
        store.ensure_array(f"scores/{name}", (), "float32", attrs={"scorer": "toy", "version": "1"})
        store.write_rows(f"scores/{name}", 0, values)
    out = tmp_path / "boundaries"
    trained = train_boundaries(store, ["attr0", "attr1"], ["z", "w"], out, official=True, ratio=0.1, seed=1)
    assert [(b.attribute, b.space) for b in trained] == [("attr0", "z"), ("attr1", "z"), ("attr0", "w"), ("attr1", "w")]
    assert sorted(p.name for p in out.glob("*.npz")) == ["attr0_w.npz", "attr0_z.npz", "attr1_w.npz", "attr1_z.npz"]
    assert boundary_path(out, "attr1", "w") == out / "attr1_w.npz" and (out / "attr1_w.npy").is_file()
    saved = Boundary.load(out / "attr1_w.npz")
    assert saved.settings["run"] == str(store.path) and saved.settings["seed"] == 1 and "n_iter" in saved.metrics
    assert float(saved.normal @ model.true_normal(1, "w")) > 0.99
    one = train_boundaries(store, ["attr0"], ["z"], tmp_path / "attr0.npz", ratio=0.1)
    assert (tmp_path / "attr0.npz").is_file() and one[0].attribute == "attr0"
    # nothing is written unless every boundary can be fitted; errors name the problem
    store.ensure_array("scores/flat", (), "float32", attrs={"scorer": "test", "version": "1"})
    store.write_rows("scores/flat", 0, np.zeros(1500, np.float32))
    with pytest.raises(InterfaceGANError, match="'flat' has one value"):
        train_boundaries(store, ["attr0", "flat"], ["z"], tmp_path / "partial", ratio=0.1)
    assert not (tmp_path / "partial").exists()
    with pytest.raises(InterfaceGANError, match="one .npz file but 2 boundaries"):
        train_boundaries(store, ["attr0", "attr1"], ["z"], tmp_path / "two.npz")
    with pytest.raises(InterfaceGANError, match="no scores"):
        train_boundaries(store, ["nope"], ["z"], out)
    with pytest.raises(InterfaceGANError, match="wp"):
        train_boundaries(store, ["attr0"], ["wp"], out)
