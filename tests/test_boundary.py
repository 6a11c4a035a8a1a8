"""The Boundary value: geometry, its .npz format, the official .npy export, and the fit check."""

import json
import re

import numpy as np
import pytest

from interfacegan.directions import Boundary, load_direction
from interfacegan.errors import InterfaceGANError
from interfacegan.learning import BoundaryTrainer


def test_save_load_round_trip(tmp_path, toy_samples):
    model, z, scores = toy_samples
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


def test_official_npy_round_trip(tmp_path, toy_samples):
    model, z, scores = toy_samples
    b = BoundaryTrainer(ratio=0.1).fit(z, scores["attr0"], attribute="attr0").boundary_
    path = b.to_official_npy(tmp_path / "attr0.npy")
    raw = np.load(path)
    assert raw.shape == (1, 16) and raw.dtype == np.float32
    imported = load_direction(path, space="z", model="toy")
    assert imported.kind == "imported" and imported.intercept == 0.0 and imported.attribute == "attr0"
    np.testing.assert_array_equal(imported.normal, b.normal)
    assert load_direction(path).normal @ b.normal == pytest.approx(1.0, abs=1e-6)


def test_geometry_and_copies():
    b = Boundary(normal=[3.0, 0.0, 4.0, 0.0], intercept=10.0, attribute="yaw", space="wp", code_shape=(2, 2))
    np.testing.assert_allclose(b.normal, [0.6, 0, 0.8, 0])  # unit normal, same hyperplane
    assert b.intercept == pytest.approx(2.0) and b.dim == 4 and b.direction().shape == (2, 2)
    codes = np.arange(8.0).reshape(2, 2, 2)
    np.testing.assert_allclose(b.distance(codes), codes.reshape(2, -1) @ b.normal + 2.0, rtol=1e-6)
    assert b.distance(codes[0]).shape == ()
    with pytest.raises(InterfaceGANError, match="do not fit boundary 'yaw' of dimension 4"):
        b.distance(np.ones((3, 5)))
    turned = b.with_normal([0.0, 1.0, 0.0, 0.0], kind="conditional")
    assert (turned.attribute, turned.kind, turned.code_shape) == ("yaw", "conditional", (2, 2)) and b.kind == "svm"
    stacked = Boundary.from_vectors(np.eye(4)[:2] * 5, "dirs.npy", index=1, space="w")
    assert (stacked.attribute, stacked.kind, stacked.settings["original_norm"]) == ("dirs_1", "imported", 5.0)
    with pytest.raises(InterfaceGANError, match="zero or non-finite"):
        Boundary(normal=np.zeros(3))
    with pytest.raises(InterfaceGANError, match="unknown boundary kind"):
        Boundary(normal=np.ones(3), kind="magic")
    with pytest.raises(InterfaceGANError, match=".npz"):
        Boundary(normal=np.ones(3)).save("b.json")


def _crafted(path, meta=None, normal=None, intercept=0.0):
    """A boundary .npz with the given arrays and metadata (JSON text, or a value to dump), as a user might edit it."""
    meta = {"format": 1, "attribute": "a", "space": "z", "code_shape": [4]} if meta is None else meta
    text = meta if isinstance(meta, str) else json.dumps(meta)
    normal = np.ones(4, np.float32) if normal is None else normal
    np.savez(path, normal=normal, intercept=np.asarray(intercept), meta=np.array(text))
    return path


@pytest.mark.parametrize(
    "meta,message",
    [
        ({"format": 1, "code_shape": "abc"}, "broken boundary config (code_shape is 'abc', not list or NoneType)"),
        ({"format": 1, "code_shape": ["4"]}, "code_shape must hold at most 8 integers"),
        ({"format": 1, "metrics": [1, 2]}, "metrics is [1, 2], not dict or NoneType"),
        ({"format": 1, "space": 5}, "space is 5, not str"),
        ({"format": 1, "settings": "x", "attribute": "a"}, "settings is 'x', not dict or NoneType"),
        ({"format": 1, "attribute": ["a"]}, "attribute is ['a'], not str"),
        ([1, 2], "a list, not an object"),
        ("{broken", "not valid JSON"),
        ({"format": "1"}, "format is '1', not int"),
        ({"format": 2}, "has boundary format 2, this version reads 1"),
        ({"format": 1, "code_shape": [3]}, "code shape (3,) does not hold 4 values"),
    ],
)
def test_boundary_metadata_of_the_wrong_types_is_one_line(tmp_path, meta, message):
    path = _crafted(tmp_path / "b.npz", meta)
    with pytest.raises(InterfaceGANError) as err:
        Boundary.load(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_boundary_files_with_non_finite_or_non_numeric_values_are_refused(tmp_path):
    cases = [
        (dict(intercept=np.nan), "has intercept nan, not a finite number"),
        (dict(intercept=np.inf), "not a finite number"),
        (dict(intercept=np.ones(3)), "has intercept of shape (3,), not a finite number"),
        (dict(normal=np.array([1.0, np.nan, 0.0, 0.0])), "zero or non-finite normal"),
        (dict(normal=np.array(["a", "b"])), "a normal of <U1 values, not numbers"),
    ]
    for arrays, message in cases:
        with pytest.raises(InterfaceGANError, match=re.escape(message)):
            Boundary.load(_crafted(tmp_path / "b.npz", **arrays))
    np.savez(tmp_path / "m.npz", normal=np.ones(4), meta=np.ones(2))
    with pytest.raises(InterfaceGANError, match="boundary metadata is float64 \\(2,\\), not a JSON string"):
        Boundary.load(tmp_path / "m.npz")
