"""Boundaries: known-direction recovery, selection semantics, SVC parity, file formats."""

import json

import numpy as np
import pytest

from interfacegan.directions import Boundary, load_direction
from interfacegan.learning import BoundaryTrainer, select_samples
from interfacegan.learning.solver import primal_l2svm
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.toy import ToyScorer


@pytest.fixture(scope="module")
def toy():
    model = ToyGenerator(z_dim=16, num_attributes=3, seed=1)
    z = model.sample(3000, seed=0)
    scores = ToyScorer(3)(model.synthesize(z))
    return model, z, scores


@pytest.mark.parametrize("attribute", [0, 1, 2])
def test_recovers_known_normal_in_z(toy, attribute):
    model, z, scores = toy
    boundary = BoundaryTrainer(ratio=0.1, seed=3).fit(z, scores[f"attr{attribute}"], attribute=f"attr{attribute}").boundary_
    assert float(boundary.normal @ model.true_normal(attribute)) > 0.99
    assert boundary.metrics["val_accuracy"] >= 0.99
    assert abs(np.linalg.norm(boundary.normal) - 1) < 1e-6


def test_recovers_known_normal_in_w(toy):
    model, z, scores = toy
    w = model.map(z, "w")
    boundary = BoundaryTrainer(ratio=0.1).fit(w, scores["attr1"], attribute="attr1", space="w").boundary_
    assert boundary.space == "w"
    assert float(boundary.normal @ model.true_normal(1, "w")) > 0.99


def test_flattened_wp_boundary_keeps_code_shape(toy):
    model, z, scores = toy
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


def test_same_accuracy_as_official_svc():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 32))
    n = rng.standard_normal(32)
    n /= np.linalg.norm(n)
    scores = x @ n + 0.3 * rng.standard_normal(3000)
    svc = BoundaryTrainer(ratio=0.2, solver="official").fit(x, scores).boundary_
    for solver in ("tron", "liblinear", "auto"):
        ours = BoundaryTrainer(ratio=0.2, solver=solver).fit(x, scores).boundary_
        assert abs(ours.metrics["val_accuracy"] - svc.metrics["val_accuracy"]) <= 0.01
        assert abs(ours.metrics["remaining_accuracy"] - svc.metrics["remaining_accuracy"]) <= 0.02
        assert float(ours.normal @ svc.normal) > 0.98


def l2svm_objective(x, y01, w, b, C=1.0):
    y = np.where(y01 > 0, 1.0, -1.0)
    slack = np.maximum(0.0, 1.0 - y * (x @ w + b))
    return 0.5 * w @ w + C * slack @ slack


@pytest.mark.parametrize("noise", [0.1, 1.0])
def test_primal_solver_reaches_the_l2svm_optimum(noise):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((800, 20)) + 3.0  # off-centre codes, free bias
    y = (x[:, 0] - x[:, 1] + noise * rng.standard_normal(800) > 0).astype(int)
    w, b, iterations = primal_l2svm(x, y, C=0.5, tol=1e-8)
    assert iterations >= 1
    # optimality: the gradient of the objective vanishes (bias included, as the bias is not regularised)
    ys = np.where(y > 0, 1.0, -1.0)
    out = x @ w + b
    act = ys * out < 1
    grad_w = w + 2 * 0.5 * x[act].T @ (out[act] - ys[act])
    grad_b = 2 * 0.5 * np.sum(out[act] - ys[act])
    assert np.linalg.norm(np.r_[grad_w, grad_b]) < 1e-3
    # and no other solution does better: small perturbations only raise the objective
    best = l2svm_objective(x, y, w, b, 0.5)
    for _ in range(20):
        dw = rng.standard_normal(20) * 1e-3
        assert l2svm_objective(x, y, w + dw, b + rng.standard_normal() * 1e-3, 0.5) >= best - 1e-9


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


def test_save_load_round_trip(tmp_path, toy):
    model, z, scores = toy
    trainer = BoundaryTrainer(count=200, seed=4, C=0.5).fit(z, scores["attr2"], attribute="attr2", model="toy")
    b = trainer.boundary_
    path = b.save(tmp_path / "attr2.npz")
    loaded = Boundary.load(path)
    np.testing.assert_array_equal(loaded.normal, b.normal)
    assert loaded.intercept == b.intercept
    assert (loaded.attribute, loaded.space, loaded.model, loaded.kind) == ("attr2", "z", "toy", "svm")
    assert loaded.metrics == pytest.approx(b.metrics)
    assert loaded.settings["count"] == 200 and loaded.settings["C"] == 0.5 and loaded.settings["seed"] == 4
    # the documented format: plain arrays plus a JSON string, no pickles
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"normal", "intercept", "meta"}
        assert data["normal"].dtype == np.float32 and data["normal"].shape == (16,)
        assert json.loads(str(data["meta"]))["format"] == 1
    np.testing.assert_allclose(loaded.distance(z[:10]), b.distance(z[:10]))


def test_official_npy_round_trip(tmp_path, toy):
    model, z, scores = toy
    b = BoundaryTrainer(ratio=0.1).fit(z, scores["attr0"], attribute="attr0").boundary_
    path = b.to_official_npy(tmp_path / "attr0.npy")
    raw = np.load(path)
    assert raw.shape == (1, 16) and raw.dtype == np.float32
    imported = load_direction(path, space="z", model="toy")
    assert imported.kind == "imported" and imported.intercept == 0.0 and imported.attribute == "attr0"
    np.testing.assert_array_equal(imported.normal, b.normal)
    assert load_direction(path).normal @ b.normal == pytest.approx(1.0, abs=1e-6)


def test_load_direction_stacks_and_errors(tmp_path):
    stack = np.stack([np.eye(6)[i] * (i + 1) for i in range(3)]).astype(np.float32)
    np.save(tmp_path / "dirs.npy", stack)
    b = load_direction(tmp_path / "dirs.npy", index=2)
    np.testing.assert_allclose(b.normal, np.eye(6)[2])  # normalised
    assert b.settings["original_norm"] == pytest.approx(3.0)
    assert load_direction(f"{tmp_path / 'dirs.npy'}:1").attribute == "dirs_1"
    with pytest.raises(InterfaceGANError, match="holds 3 directions"):
        load_direction(tmp_path / "dirs.npy")
    with pytest.raises(InterfaceGANError, match="out of range"):
        load_direction(tmp_path / "dirs.npy", index=5)
    np.savez(tmp_path / "ganspace.npz", lat_comp=stack[:, None, :], lat_mean=np.zeros((1, 6)))
    assert load_direction(tmp_path / "ganspace.npz", index=0).normal[0] == pytest.approx(1.0)
    np.save(tmp_path / "zero.npy", np.zeros((1, 6)))
    with pytest.raises(InterfaceGANError, match="zero"):
        load_direction(tmp_path / "zero.npy")
    with pytest.raises(InterfaceGANError, match="does not exist"):
        load_direction(tmp_path / "missing.npz")
    with pytest.raises(InterfaceGANError, match=".npz"):
        Boundary(normal=np.ones(3)).save(tmp_path / "b.json")


def test_check_fits_names_the_problem():
    b = Boundary(normal=np.ones(4), attribute="yaw", space="z", model="dcgan-digiface")
    b.check_fits("z", (4,), "dcgan-digiface")
    with pytest.raises(InterfaceGANError, match="dimension 4"):
        b.check_fits("z", (5,), "dcgan-digiface")
    with pytest.raises(InterfaceGANError, match="belongs to model 'dcgan-digiface'"):
        b.check_fits("z", (4,), "toy")
    with pytest.raises(InterfaceGANError, match="lives in space 'z'"):
        b.check_fits("w", (4,), "dcgan-digiface")
