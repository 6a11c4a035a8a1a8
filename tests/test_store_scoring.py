"""Scores in the store: names, versions, resume after a crash, conflicts; official .npy import/export."""

from __future__ import annotations

import numpy as np
import pytest

from interfacegan.errors import InterfaceGANError
from interfacegan.interop import export_official, import_official
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.base import Scorer
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer
from interfacegan.store import SampleStore


def test_scores_are_stored_with_names_and_scorer_version(toy_run, toy_generator):
    assert toy_run.score_names == ["attr0", "attr1", "attr2"]
    info = toy_run.score_info("attr1")
    assert info["scorer"] == "toy" and info["version"] == "1"
    z = toy_run.codes("z")
    truth = z @ toy_generator.normals.T
    got = np.stack([toy_run.scores()[f"attr{k}"] for k in range(3)], axis=1)
    assert np.corrcoef(truth.ravel(), got.ravel())[0, 1] > 0.99
    one = toy_run.scores("attr1")  # one name as a string, not its letters ("no scores ['a', 't', ...]")
    assert list(one) == ["attr1"] and np.array_equal(one["attr1"], toy_run.scores()["attr1"])


class FlakyScorer(ToyScorer):
    """Fails on the n-th call, like a process that dies mid-run."""

    def __init__(self, fail_at: int):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def score(self, images, indices=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("killed")
        return super().score(images, indices)


def test_scoring_resumes_and_equals_an_uninterrupted_run(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=1500, seed=1, chunk_rows=200, progress=False)
    with pytest.raises(RuntimeError):
        score_store(store, FlakyScorer(fail_at=4), model=toy_generator, progress=False)
    assert 0 < store.done_chunks("score-toy").sum() < store.num_chunks
    score_store(store, ToyScorer(), model=toy_generator, progress=False)
    reference = ToyScorer().score(toy_generator.synthesize(store.codes("z")))
    for name, values in store.scores().items():
        np.testing.assert_array_equal(values, reference[name])


class VectorScorer(Scorer):
    name, version = "vec", "2"

    @property
    def outputs(self):
        return {"embedding": (4,), "mean": ()}

    def score(self, images, indices=None):
        flat = images.reshape(len(images), -1).astype(np.float32)
        return {"embedding": flat[:, :4], "mean": flat.mean(1)}


def test_vector_outputs_go_to_features_and_versions_conflict(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=300, seed=1, chunk_rows=100, progress=False)
    assert score_store(store, VectorScorer(), model=toy_generator, progress=False) == ["mean"]
    assert store.feature_names == ["embedding"] and store.score_names == ["mean"]
    assert store.array("features/embedding").shape == (300, 4)
    newer = VectorScorer()
    newer.version = "3"
    with pytest.raises(InterfaceGANError, match="use overwrite"):
        score_store(store, newer, model=toy_generator, progress=False)
    score_store(store, newer, model=toy_generator, overwrite=True, progress=False)
    assert store.score_info("mean")["version"] == "3"
    score_store(store, VectorScorer(), model=toy_generator, prefix="old_", progress=False)
    assert store.score_names == ["mean", "old_mean"]


def test_scoring_uses_stored_images_without_a_model(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=300, seed=2, save_images=True, progress=False)
    score_store(store, ToyScorer(), progress=False)  # no model given: must read images from the store
    np.testing.assert_array_equal(store.scores()["attr0"], ToyScorer().score(store.images(slice(None)))["attr0"])


def test_score_before_sampling_finished_is_refused(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=1000, seed=2, chunk_rows=100, shard=(0, 2),
                            progress=False)  # fmt: skip
    with pytest.raises(InterfaceGANError, match="not completely sampled"):
        score_store(store, ToyScorer(), model=toy_generator, progress=False)


def test_official_npy_round_trip(tmp_path, toy_run):
    files = export_official(toy_run, tmp_path / "official")
    names = sorted(p.name for p in files)
    assert names == ["attr0_scores.npy", "attr1_scores.npy", "attr2_scores.npy", "z.npy"]
    z = np.load(tmp_path / "official" / "z.npy")
    scores = np.load(tmp_path / "official" / "attr1_scores.npy")
    assert z.shape == (2000, 16) and scores.shape == (2000, 1) and z.dtype == np.float32
    back = import_official(tmp_path / "imported", {"z": tmp_path / "official" / "z.npy"},
                           {"attr1": tmp_path / "official" / "attr1_scores.npy"}, model="toy")  # fmt: skip
    np.testing.assert_array_equal(back.codes("z"), toy_run.codes("z"))
    np.testing.assert_array_equal(back.scores()["attr1"], toy_run.scores()["attr1"])
    meta = SampleStore.open(tmp_path / "imported").meta
    assert meta["model"] == "toy" and meta["model_info"]["z_dim"] == 16  # the codes were checked against the model


def test_export_refuses_before_writing_anything(tmp_path, toy_run):
    with pytest.raises(InterfaceGANError, match=r"no scores \['nope'\]"):
        export_official(toy_run, tmp_path / "official", attributes=["nope"])
    with pytest.raises(InterfaceGANError, match="no codes in space 'w'"):
        export_official(toy_run, tmp_path / "official", spaces=["z", "w"])
    assert not (tmp_path / "official").exists()  # no z.npy left behind (issue 11)


def test_import_refuses_mismatched_or_malformed_files(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((10, 4), np.float32))
    np.save(tmp_path / "short.npy", np.zeros((9, 1), np.float32))
    np.save(tmp_path / "wide.npy", np.zeros((10, 3), np.float32))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InterfaceGANError, match="9 rows but the codes have 10"):
        import_official(tmp_path / "a", {"z": tmp_path / "z.npy"}, {"s": tmp_path / "short.npy"})
    with pytest.raises(InterfaceGANError, match=r"expected \(N,\) or \(N, 1\)"):
        import_official(tmp_path / "b", {"z": tmp_path / "z.npy"}, {"s": tmp_path / "wide.npy"})
    with pytest.raises(InterfaceGANError, match="not a plain .npy"):
        import_official(tmp_path / "c", {"z": tmp_path / "obj.npy"})
    with pytest.raises(InterfaceGANError, match="does not exist"):
        import_official(tmp_path / "d", {"z": tmp_path / "none.npy"})
    assert not any((tmp_path / name).exists() for name in "abcd")
