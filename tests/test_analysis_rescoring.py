"""Re-scoring, layer-wise and identity measurements on the toy generator, whose answers are known exactly:
the toy scorer reads attr_k = n_k . z back, so editing along n_i by alpha moves attr_k by alpha * n_i . n_k."""

from __future__ import annotations

import numpy as np
import pytest

from interfacegan.editing.codes import CodeSource
from interfacegan.analysis.identity import identity_discrepancy, unedited_features
from interfacegan.rescoring.matrix import Edit, compute_baseline, rescoring_matrix
from interfacegan.rescoring.rescore import rescore
from interfacegan.editing.manipulation import conditional_direction
from interfacegan.execution import Executor
from interfacegan.execution.local import LocalExecutor
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.toy import ToyScorer
from tests.analysis_helpers import PixelFeatures, PositionScorer

NORMALS = np.zeros((3, 8))
NORMALS[0, 0] = 1.0
NORMALS[1, :2] = [0.6, 0.8]
NORMALS[2, 2] = 1.0
COS = NORMALS @ NORMALS.T


@pytest.fixture
def known(tmp_path):
    model = ToyGenerator(z_dim=8, normals=NORMALS, num_ws=4, resolution=8, seed=0)
    store = sample_to_store(model, tmp_path / "run", num=600, seed=5, spaces=("z", "w"), chunk_rows=200, progress=False)
    return model, store


def _edits(model, space="z"):
    return [Edit(f"a{k}", model.true_normal(k, space), space, attribute=f"attr{k}") for k in range(3)]


def test_rescoring_matrix_equals_alpha_times_normal_cosines(known):
    model, store = known
    source = CodeSource(store, model, "z", 500)
    baseline = compute_baseline(model, source, [ToyScorer()], progress=False)
    result = rescoring_matrix(model, source, baseline, _edits(model), 1.5, [ToyScorer()], progress=False)
    assert result.attributes == ["attr0", "attr1", "attr2"] and result.num == 500
    assert np.allclose(result.raw_change, 1.5 * COS, atol=0.02)
    std = np.array([baseline.std(a) for a in result.attributes])
    assert np.allclose(result.change, result.raw_change / std[None, :])
    assert np.all(result.valid == 500)
    assert np.all(result.increased[np.arange(3), np.arange(3)] > 0.97)
    dom = result.dominance()
    assert [d["dominant"] for d in dom] == [True, True, True]
    assert dom[1]["largest_other"] == "attr0" and dom[1]["largest_other_change"] == pytest.approx(result.change[1, 0])


def test_scorer_that_ignores_the_image_gives_zero_change(known):
    model, store = known
    source = CodeSource(store, model, "z", 300)
    baseline = compute_baseline(model, source, [PositionScorer()], progress=False)
    assert baseline.std("position") > 0
    result = rescoring_matrix(model, source, baseline, _edits(model), 3.0, [PositionScorer()], progress=False)
    assert np.all(result.raw_change == 0.0) and np.all(result.change == 0.0)


def test_conditional_direction_leaves_the_condition_unchanged(known):
    model, store = known
    source = CodeSource(store, model, "z", 400)
    baseline = compute_baseline(model, source, [ToyScorer()], progress=False)
    direction = conditional_direction(NORMALS[1], [NORMALS[0]])
    edits = [Edit("a1", NORMALS[1], "z", attribute="attr1"), Edit("a1 | a0", direction, "z", attribute="attr1")]
    result = rescoring_matrix(model, source, baseline, edits, 2.0, [ToyScorer()], progress=False)
    assert result.raw_change[0, 0] == pytest.approx(2.0 * 0.6, abs=0.02)  # unconditional drags attr0 along
    assert abs(result.raw_change[1, 0]) < 0.02  # conditional does not
    assert result.raw_change[1, 1] == pytest.approx(2.0 * 0.8, abs=0.02)  # n1 . (unit n1 - 0.6 n0) = 0.8


def test_streaming_in_small_blocks_gives_the_same_matrix(known):
    model, store = known
    results = []
    for block in (37, 10_000):
        source = CodeSource(store, model, "z", 300, block_rows=block)
        baseline = compute_baseline(model, source, [ToyScorer()], progress=False)
        results.append(rescoring_matrix(model, source, baseline, _edits(model), 1.0, [ToyScorer()], progress=False))
    assert np.allclose(results[0].change, results[1].change, atol=1e-9)


def test_layer_wise_edits_only_act_through_the_layers_that_draw_the_scored_pixels(known):
    """Toy W+: image row i comes from layer i*num_ws//resolution, the toy scorer reads row 0 (layer 0)."""
    model, store = known
    source = CodeSource(store, model, "wp", 300)  # mapped from z: the run holds no wp codes
    assert not source.from_store
    baseline = compute_baseline(model, source, [ToyScorer()], progress=False)
    n = model.true_normal(0, "w")
    edits = [Edit(f"a0 @ {g}", n, "wp", attribute="attr0", layers=g, kind="layers") for g in ("all", "0-1", "2-3")]
    result = rescoring_matrix(model, source, baseline, edits, 2.0, [ToyScorer()], progress=False)
    assert result.change[0, 0] > 1.0
    assert result.change[1, 0] == pytest.approx(result.change[0, 0])
    assert np.all(result.raw_change[2] == 0.0)


def test_identity_distance_is_zero_for_a_constant_descriptor_and_matches_hand_computation(known):
    model, store = known
    source = CodeSource(store, model, "z", 40)
    edits = _edits(model)[:2]
    before = unedited_features(store, source, PixelFeatures(constant=True))
    flat = identity_discrepancy(model, source, before, edits, [1.0, 3.0], PixelFeatures(constant=True), progress=False)
    assert np.all(flat.distance == 0.0) and np.all(flat.valid == 40)

    scorer = PixelFeatures()
    before = unedited_features(store, source, scorer)
    result = identity_discrepancy(model, source, before, edits, [1.0, 3.0], scorer, progress=False)
    z = store.codes("z", slice(0, 40)).astype(np.float64)
    r = model.readout.astype(np.float64)
    for i, edit in enumerate(edits):
        for s, alpha in enumerate([1.0, 3.0]):
            a, b = z @ r.T, (z + alpha * edit.direction) @ r.T
            cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            assert result.distance[i, s] == pytest.approx(np.mean(1 - cos), abs=2e-3)
    assert np.all(result.distance[:, 1] > result.distance[:, 0])  # further edits change the "face" more


def test_stored_descriptors_of_the_run_are_reused(known):
    from interfacegan.scoring.run import score_store

    model, store = known
    scorer = PixelFeatures()
    score_store(store, scorer, model=model, progress=False)

    class Exploding(PixelFeatures):
        def score(self, images, indices=None):
            raise AssertionError("unedited descriptors should come from the run")

    exploding = Exploding()
    source = CodeSource(store, model, "z", 30)
    got = unedited_features(store, source, exploding)
    assert np.array_equal(got, store.array("features/identity")[:30])


def test_analyze_refuses_a_boundary_of_another_model_as_edit_does(known, tmp_path):
    """Regression: analyze checked boundaries with model=None and accepted one trained on another model."""
    from interfacegan.analysis import analyze_run
    from interfacegan.directions.boundary import Boundary
    from interfacegan.errors import InterfaceGANError

    model, store = known
    other = Boundary(NORMALS[0], attribute="attr0", space="z", model="dcgan-digiface")
    with pytest.raises(InterfaceGANError, match="belongs to model 'dcgan-digiface', not 'toy'"):
        analyze_run(store, tmp_path / "a", analyses=["rescore"], boundaries=[other], model=model,
                    scorers=[ToyScorer()], progress=False, report=False)  # fmt: skip
    assert not (tmp_path / "a" / "rescoring_z.csv").exists()


class _ReversedExecutor(Executor):
    """Blocks delivered last first, in this process: the order a distributed engine may hand them back in."""

    name = "reversed"

    def run(self, store, job, chunks, on_chunk=None):
        raise NotImplementedError

    def map(self, job, blocks, on_result):
        job.setup()
        for start, stop in reversed(list(blocks)):
            on_result(start, stop, job.compute(start, stop, job.prefetch(start, stop)))


def test_the_blocks_give_the_same_numbers_in_any_order_and_the_one_loops_sums(known):
    """Re-scoring, unedited scores and identity distances run as jobs that an executor maps over blocks of rows:
    blocks handed back in another order give the local executor's arrays bit for bit, and those are the sums one
    loop over the blocks in order adds up (the computation before the executor seam)."""
    model, store = known
    source = CodeSource(store, model, "wp", 230, block_rows=50)
    n = model.true_normal(0, "w")
    edits = [Edit(f"a0 @ {g}", n, "wp", attribute="attr0", layers=g, kind="layers") for g in ("all", "0-1")]
    scorers, features, results = [ToyScorer(), PositionScorer()], PixelFeatures(), []
    for engine in (LocalExecutor(), _ReversedExecutor()):
        baseline = compute_baseline(model, source, scorers, progress=False, executor=engine)
        matrix = rescoring_matrix(model, source, baseline, edits, 1.5, scorers, progress=False, executor=engine)
        before = unedited_features(store, source, features, executor=engine)
        identity = identity_discrepancy(model, source, before, edits, [1.0, -2.0], features, progress=False,
                                        executor=engine)  # fmt: skip
        results.append([*baseline.scores.values(), matrix.change, matrix.stderr, matrix.increased, matrix.valid,
                        before, identity.distance, identity.stderr, identity.valid])  # fmt: skip
    for local, other in zip(*results):
        np.testing.assert_array_equal(local, other)

    total, count = np.zeros((len(edits), len(baseline.attributes))), np.zeros_like(matrix.valid)
    for start, stop in source.blocks():  # the loop of rescoring_matrix before the seam
        for i, edit in enumerate(edits):
            out = rescore(model, source.read(start, stop), "wp", edit.direction, [1.5], scorers, layers=edit.layers)
            for j, name in enumerate(baseline.attributes):
                diff = out[name][:, 0].astype(np.float64) - baseline.scores[name][start:stop].astype(np.float64)
                total[i, j] += diff.sum()
                count[i, j] += len(diff)
    np.testing.assert_array_equal(matrix.raw_change, total / count)
    np.testing.assert_array_equal(matrix.valid, count)
    whole = rescore(model, source.read(0, 230), "wp", np.zeros_like(n), [0.0], scorers)
    np.testing.assert_array_equal(baseline.scores["attr0"], whole["attr0"][:, 0])
