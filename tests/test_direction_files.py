"""The one reader of direction files: its shape rule, folders, PATH:I, space guessing and names.json."""

import json

import numpy as np
import pytest

from interfacegan.directions import (
    Boundary,
    direction_labels,
    load_direction,
    model_named_by,
    read_directions,
    read_names,
    write_names,
)
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator


def unit_rows(k: int, d: int) -> np.ndarray:
    """k distinct directions of d values, row i scaled by i + 1 (the reader normalises them)."""
    rows = np.zeros((k, d), np.float32)
    rows[np.arange(k), np.arange(k) % d] = np.arange(1, k + 1)
    return rows


def test_one_shape_rule_for_every_plain_array(tmp_path):
    cases = {"flat.npy": (unit_rows(1, 6)[0], 1), "official.npy": (unit_rows(1, 6), 1),
             "stack.npy": (unit_rows(3, 6), 3), "ganspace_rows.npy": (unit_rows(4, 6)[:, None, :], 4),
             "wp.npy": (unit_rows(1, 12).reshape(1, 2, 6), 1)}  # fmt: skip
    for name, (array, count) in cases.items():
        np.save(tmp_path / name, array)
        found = read_directions([tmp_path / name])
        assert len(found) == count, name
        assert all(b.kind == "imported" and b.intercept == 0.0 for b in found)
        np.testing.assert_allclose(found[-1].normal, array.reshape(count, -1)[-1] / (count if count > 1 else 1))
    # exactly one: a stack needs PATH:I (or index), a one-row file does not
    assert load_direction(tmp_path / "official.npy").attribute == "official"
    assert load_direction(tmp_path / "wp.npy").dim == 12
    with pytest.raises(InterfaceGANError, match="holds 3 directions: pick one with .*stack.npy:I"):
        load_direction(tmp_path / "stack.npy")
    b = load_direction(f"{tmp_path / 'stack.npy'}:2")
    assert b.attribute == "stack_2" and b.settings["original_norm"] == pytest.approx(3.0)
    assert load_direction(tmp_path / "stack.npy", index=1).attribute == "stack_1"
    with pytest.raises(InterfaceGANError, match="out of range"):
        load_direction(tmp_path / "stack.npy", index=5)
    # the two ways to read agree on the same row
    one = read_directions([f"{tmp_path / 'ganspace_rows.npy'}:3"])
    assert len(one) == 1 and one[0].attribute == "ganspace_rows_3"
    np.testing.assert_array_equal(one[0].normal, load_direction(f"{tmp_path / 'ganspace_rows.npy'}:3").normal)


def test_plain_npz_ganspace_and_boundary_npz(tmp_path):
    np.savez(tmp_path / "ganspace.npz", lat_comp=unit_rows(3, 6)[:, None, :], lat_mean=np.zeros((1, 6)),
             lat_stdev=np.ones(3))  # fmt: skip
    assert [b.attribute for b in read_directions([tmp_path / "ganspace.npz"])] == [f"ganspace_{i}" for i in range(3)]
    assert load_direction(f"{tmp_path / 'ganspace.npz'}:1").normal[1] == pytest.approx(1.0)
    np.savez(tmp_path / "named.npz", directions=unit_rows(2, 6), other=np.ones(2))
    assert len(read_directions([tmp_path / "named.npz"])) == 2
    np.savez(tmp_path / "ambiguous.npz", a=np.ones(6), b=np.ones(6))
    with pytest.raises(InterfaceGANError, match="save the direction"):
        read_directions([tmp_path / "ambiguous.npz"])
    saved = Boundary(normal=np.eye(6)[0], intercept=0.5, attribute="smile", space="w", model="toy")
    saved.save(tmp_path / "smile_w.npz")
    for found in (load_direction(tmp_path / "smile_w.npz"), read_directions([f"{tmp_path / 'smile_w.npz'}:0"])[0]):
        assert (found.attribute, found.space, found.kind, found.intercept) == ("smile", "w", "svm", 0.5)
    with pytest.raises(InterfaceGANError, match="single boundary: drop the index 1"):
        load_direction(f"{tmp_path / 'smile_w.npz'}:1")
    assert model_named_by([tmp_path / "ganspace.npz", tmp_path / "smile_w.npz"]) == "toy"


def test_bad_files_are_one_line_errors(tmp_path):
    np.save(tmp_path / "zero.npy", np.zeros((1, 6)))
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    for item, message in [("zero.npy", "zero"), ("text.npy", "not numbers"), ("missing.npy", "does not exist"),
                          ("b.json", ".npz boundaries or .npy arrays"), ("empty", "holds no .npz or .npy")]:  # fmt: skip
        with pytest.raises(InterfaceGANError, match=message):
            read_directions([tmp_path / item])
    with pytest.raises(InterfaceGANError, match="is a folder"):
        load_direction(tmp_path / "empty")


def test_folders_read_in_natural_order_without_official_copies(tmp_path):
    folder = tmp_path / "sefa"
    for i in (0, 2, 10):
        Boundary(normal=np.eye(6)[i % 6] + 0.1, attribute=f"sefa_{i}", kind="sefa").save(folder / f"sefa_{i}.npz")
    Boundary(normal=np.ones(6), attribute="smile").to_official_npy(folder / "sefa_2.npy")  # export of sefa_2.npz
    np.save(folder / "extra.npy", unit_rows(2, 6))
    np.save(folder / ".hidden.npy", unit_rows(1, 6))
    found = read_directions([folder])
    assert [b.attribute for b in found] == ["extra_0", "extra_1", "sefa_0", "sefa_2", "sefa_10"]


def test_space_of_plain_arrays_from_the_model(tmp_path):
    toy = ToyGenerator(z_dim=8, num_ws=3, seed=0)
    np.save(tmp_path / "z.npy", unit_rows(1, 8))
    np.save(tmp_path / "wp.npy", unit_rows(1, 24))
    np.save(tmp_path / "odd.npy", unit_rows(1, 7))
    z = load_direction(tmp_path / "z.npy", model=toy)
    assert (z.space, z.code_shape, z.model) == ("z", (8,), "toy")  # the SeFa space of the toy model
    wp = load_direction(tmp_path / "wp.npy", model=toy)
    assert (wp.space, wp.code_shape) == ("wp", (3, 8)) and wp.direction().shape == (3, 8)
    assert load_direction(tmp_path / "z.npy", model=toy, space="w").space == "w"
    with pytest.raises(InterfaceGANError, match="7 values fits no latent space of model 'toy'"):
        load_direction(tmp_path / "odd.npy", model=toy)
    # without a model: the space given, else z; a model spec only marks the direction
    assert load_direction(tmp_path / "odd.npy").space == "z"
    named = load_direction(tmp_path / "odd.npy", model="toy", space="w")
    assert (named.space, named.model, named.code_shape) == ("w", "toy", (7,))


def test_names_round_trip_and_labels(tmp_path):
    class Named:  # what rescoring.name_directions returns: objects with as_dict()
        def __init__(self, direction, label):
            self.direction, self.label = direction, label

        def as_dict(self):
            return {"direction": self.direction, "attribute": self.label[1:], "label": self.label}

    folder = tmp_path / "sefa"
    folder.mkdir()
    for i in range(2):
        Boundary(normal=np.eye(4)[i], attribute=f"sefa_{i}", kind="sefa").save(folder / f"sefa_{i}.npz")
    path = write_names(folder / "names.json", [Named("sefa_0", "+yaw"), {"direction": "sefa_1", "label": "-smile"}],
                       {"model": "toy", "alpha": np.float32(3.0)})  # fmt: skip
    payload = json.loads(path.read_text())
    assert payload["settings"] == {"model": "toy", "alpha": 3.0}
    assert payload["directions"][0] == {"direction": "sefa_0", "attribute": "yaw", "label": "+yaw"}
    assert read_names(folder) == {"sefa_0": "+yaw", "sefa_1": "-smile"}
    assert direction_labels([folder]) == direction_labels([folder / "sefa_1.npz"]) == read_names(folder)
    assert read_names(tmp_path) == {}
    (tmp_path / "names.json").write_text('{"directions": [{"label": "x"}]}')
    with pytest.raises(InterfaceGANError, match="not a names file"):
        read_names(tmp_path)
