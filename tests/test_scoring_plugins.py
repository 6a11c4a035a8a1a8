"""Bring-your-own scorers: ONNX models, Python callables and human-label CSVs, loaded through `load_scorer`."""

from __future__ import annotations

import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from interfacegan.errors import InterfaceGANError
from interfacegan.scoring import load_scorer
from interfacegan.scoring.callable import CallableScorer
from interfacegan.scoring.labels import LabelScorer
from interfacegan.scoring.onnx import OnnxScorer


def _save_model(path, nodes, input_shape, output_shape, names=None, extra_outputs=()):
    graph = helper.make_graph(
        nodes,
        "scorer",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, output_shape), *extra_outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"interfacegan.names": names})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def channel_means(tmp_path):
    """(N, 3, 8, 8) -> (N, 3) per-channel means, named red,green,blue in the model's metadata."""
    node = helper.make_node("ReduceMean", ["image", "axes"], ["scores"], keepdims=0)
    axes = helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [2], [2, 3]))
    return _save_model(tmp_path / "means.onnx", [axes, node], ["N", 3, 8, 8], ["N", 3], names="red,green,blue")


def _colour(rgb, n=2, size=16):
    return np.zeros((n, size, size, 3), np.uint8) + np.array(rgb, np.uint8)


def test_onnx_channel_means_known_values(channel_means):
    scorer = load_scorer(f"onnx:{channel_means}")
    assert isinstance(scorer, OnnxScorer) and scorer.needs_images
    assert scorer.outputs == {"red": (), "green": (), "blue": ()}  # names from the model's metadata
    assert scorer.size == (8, 8)  # the model's static input size: the 16-px images are resized to it
    out = scorer.score(_colour((255, 0, 51)))
    np.testing.assert_allclose(np.stack([out["red"], out["green"], out["blue"]], 1), [[1.0, 0.0, 0.2]] * 2, atol=1e-6)
    # explicit normalisation: (x - 0.5) / 0.5 maps [0, 1] to [-1, 1]
    signed = load_scorer(f"onnx:{channel_means}", mean=0.5, std="0.5", names="r,g,b")
    out = signed.score(_colour((255, 0, 51)))
    np.testing.assert_allclose([out["r"][0], out["g"][0], out["b"][0]], [1.0, -1.0, -0.6], atol=1e-6)
    assert signed.version != scorer.version  # normalisation changes the scores, so it changes the version
    # a half-white image keeps mean 0.5 through the antialiased resize
    half = np.zeros((1, 16, 16, 3), np.uint8)
    half[:, :, :8] = 255
    assert scorer.score(half)["red"][0] == pytest.approx(0.5, abs=0.02)


def test_onnx_scalar_output_dynamic_size_and_default_names(tmp_path):
    node = helper.make_node("ReduceMean", ["image", "axes"], ["scores"], keepdims=0)
    axes = helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [3], [1, 2, 3]))
    path = _save_model(tmp_path / "mean.onnx", [axes, node], ["N", 3, "H", "W"], ["N"])
    scorer = OnnxScorer(path)
    assert scorer.outputs == {"onnx_0": ()} and scorer.size is None
    out = scorer.score(_colour((30, 60, 90), n=3, size=20))["onnx_0"]
    np.testing.assert_allclose(out, [60 / 255] * 3, rtol=1e-6)
    assert OnnxScorer(path, size=4).preprocess(_colour((1, 2, 3), size=20)).shape == (2, 3, 4, 4)


def test_onnx_fixed_batch_and_probed_width(tmp_path):
    node = helper.make_node("ReduceMean", ["image", "axes"], ["scores"], keepdims=0)
    axes = helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [2], [2, 3]))
    one = _save_model(tmp_path / "one.onnx", [axes, node], [1, 3, 8, 8], [1, 3])  # batch of exactly one
    images = np.concatenate([_colour((255, 0, 0), n=1), _colour((0, 255, 0), n=1), _colour((0, 0, 255), n=1)])
    out = OnnxScorer(one, names=["r", "g", "b"]).score(images)
    np.testing.assert_allclose(np.stack([out["r"], out["g"], out["b"]], 1), np.eye(3), atol=1e-6)
    dynamic = _save_model(tmp_path / "dyn.onnx", [axes, node], ["N", 3, 8, 8], ["N", "K"])
    assert list(OnnxScorer(dynamic).outputs) == ["onnx_0", "onnx_1", "onnx_2"]  # width found by a probe run


def test_onnx_bad_files_and_options(tmp_path, channel_means):
    with pytest.raises(InterfaceGANError, match="not found"):
        load_scorer(f"onnx:{tmp_path / 'missing.onnx'}")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 this is not a protobuf model" * 10)
    with pytest.raises(InterfaceGANError, match="cannot load ONNX model"):
        load_scorer(f"onnx:{corrupt}")
    flat = _save_model(
        tmp_path / "flat.onnx", [helper.make_node("Identity", ["image"], ["scores"])], ["N", 12], ["N", 12]
    )
    with pytest.raises(InterfaceGANError, match="expected NCHW"):
        load_scorer(f"onnx:{flat}")
    with pytest.raises(InterfaceGANError, match="declares input size 8x8"):
        OnnxScorer(channel_means, size=16)
    with pytest.raises(InterfaceGANError, match="3 scores but 2 names"):
        OnnxScorer(channel_means, names="a,b")
    with pytest.raises(InterfaceGANError, match="mean"):
        OnnxScorer(channel_means, mean="dark")


def test_onnx_loop_bomb_is_stopped_by_the_time_budget(tmp_path, channel_means):
    """A crafted graph: a Loop of 10^12 iterations before the scores. The watchdog stops it after the budget with
    one line; the session then runs normally again, and honest models never meet the budget."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [])],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )  # fmt: skip
    constants = {"trips": (TensorProto.INT64, 10**12), "go": (TensorProto.BOOL, True), "v0": (TensorProto.FLOAT, 0.0),
                 "zero": (TensorProto.FLOAT, 0.0)}  # fmt: skip
    nodes = [helper.make_node("Constant", [], [k], value=helper.make_tensor(k, t, [], [v]))
             for k, (t, v) in constants.items()]  # fmt: skip
    nodes += [
        helper.make_node("Loop", ["trips", "go", "v0"], ["total"], body=body),
        helper.make_node("ReduceMean", ["image"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["mean", "nothing"], ["scores"]),
    ]
    bomb = _save_model(tmp_path / "bomb.onnx", nodes, ["N", 3, 8, 8], ["N"], names="score")
    scorer = load_scorer(f"onnx:{bomb}?time_budget=0.3")  # options ride along as a query, as for checkpoints
    assert scorer.time_budget == 0.3 and scorer.names == ["score"]
    with pytest.raises(InterfaceGANError, match=r"ran past its time budget of 0.3 s on a batch of 2 images"):
        scorer.score(_colour((10, 20, 30)))
    honest = OnnxScorer(channel_means, time_budget=0.3)
    for _ in range(2):
        np.testing.assert_allclose(honest.score(_colour((10, 20, 30)))["red"], 10 / 255, rtol=1e-6)
    for bad in (-1, float("nan"), "soon"):
        with pytest.raises(InterfaceGANError, match="time_budget"):
            OnnxScorer(channel_means, time_budget=bad)
    assert OnnxScorer(channel_means, time_budget=0).time_budget is None  # 0: no limit
    with pytest.raises(InterfaceGANError, match="has no option budget: its options are path, names"):
        load_scorer(f"onnx:{channel_means}?budget=3")


def test_onnx_scorer_pickles_without_its_session(channel_means):
    import pickle

    scorer = OnnxScorer(channel_means)
    copy = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(copy.score(_colour((1, 2, 3)))["green"], scorer.score(_colour((1, 2, 3)))["green"])


def _user_module(tmp_path, monkeypatch, source: str, name: str = "my_scorers") -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_callable_scorer_dict_and_array_results(tmp_path, monkeypatch):
    module = _user_module(
        tmp_path,
        monkeypatch,
        """
        import numpy as np

        def colours(images, scale=1.0):
            x = images.astype(np.float64) * scale
            return {"red": x[..., 0].mean((1, 2)), "rgb": x.mean((1, 2))}
        colours.outputs = {"red": (), "rgb": (3,)}
        colours.version = "7"

        def redness(images):
            return images[..., 0].mean((1, 2)) - images[..., 2].mean((1, 2))

        def wrong_rows(images):
            return {"x": np.zeros(len(images) + 1)}
        wrong_rows.outputs = ["x"]
        """,
    )
    scorer = load_scorer(f"{module}:colours", scale=2.0)
    assert isinstance(scorer, CallableScorer)
    assert scorer.outputs == {"red": (), "rgb": (3,)} and scorer.attributes == ["red"]
    assert scorer.version == "1+7"
    out = scorer.score(_colour((10, 20, 30)))
    assert out["red"].dtype == np.float32
    np.testing.assert_allclose(out["red"], [20.0, 20.0])
    np.testing.assert_allclose(out["rgb"], [[20.0, 40.0, 60.0]] * 2)
    probed = load_scorer(f"{module}:redness")  # no declared outputs: one probe call finds a scalar
    assert probed.outputs == {"redness": ()}
    np.testing.assert_allclose(probed.score(_colour((50, 0, 20)))["redness"], [30.0, 30.0])
    with pytest.raises(InterfaceGANError, match="first axis must be N"):
        load_scorer(f"{module}:wrong_rows").score(_colour((1, 1, 1)))


def test_callable_scorer_bad_specs(tmp_path, monkeypatch):
    module = _user_module(tmp_path, monkeypatch, "CONSTANT = 3\n", name="other_scorers")
    with pytest.raises(InterfaceGANError, match="cannot import module"):
        load_scorer("no_such_module_for_interfacegan:score")
    with pytest.raises(InterfaceGANError, match="has no 'missing'"):
        load_scorer(f"{module}:missing")
    with pytest.raises(InterfaceGANError, match="not callable"):
        load_scorer(f"{module}:CONSTANT")


def _write_csv(tmp_path, text: str, name="labels.csv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_label_csv_lookup_with_missing_rows_and_cells(tmp_path):
    path = _write_csv(
        tmp_path,
        """
        smiling,index,age
        1,4,30
        0,0,
        ,2,61.5
        """,
    )
    scorer = load_scorer(f"csv:{path}")
    assert isinstance(scorer, LabelScorer) and not scorer.needs_images
    assert scorer.outputs == {"smiling": (), "age": ()}
    out = scorer.score(None, np.array([0, 1, 2, 3, 4, 99]))
    np.testing.assert_array_equal(out["smiling"], [0, np.nan, np.nan, np.nan, 1, np.nan])
    np.testing.assert_array_equal(out["age"], [np.nan, np.nan, 61.5, np.nan, 30, np.nan])
    assert out["age"].dtype == np.float32
    np.testing.assert_array_equal(scorer.labelled, [0, 2, 4])
    with pytest.raises(InterfaceGANError, match="pass indices"):
        scorer.score(None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,smiling\n0,1\n", "no 'index' column"),
        ("index,smiling\n0,1\n3,0\n0,1\n", "line 4 repeats index 0"),
        ("index,smiling\n0,1\n1,yes\n", "line 3, column 'smiling': 'yes' is not a number"),
        ("index,smiling\n-1,1\n", "not a non-negative integer"),
    ],
)
def test_label_csv_errors(tmp_path, text, message):
    path = _write_csv(tmp_path, text)
    with pytest.raises(InterfaceGANError, match=message):
        load_scorer(f"csv:{path}")


def test_bad_specs_raise_interfacegan_errors(tmp_path):
    for spec in ("no-such-scorer", f"csv:{tmp_path / 'absent.csv'}", "onnx:", "just_a_module:"):
        with pytest.raises(InterfaceGANError):
            load_scorer(spec)


def test_onnx_outputs_that_are_not_bounded_numbers_are_one_line(tmp_path):
    """Probes: a model giving 100,000 scores per image made `score` create an array per score for hours; one giving
    strings was a ValueError traceback. Refused before any array is created (a run keeps at most MAX_OUTPUTS)."""
    from interfacegan.models import ToyGenerator
    from interfacegan.sampling import sample_to_store
    from interfacegan.scoring.run import MAX_OUTPUTS, score_store

    consts = [helper.make_node("Constant", [], [k], value=helper.make_tensor(k, TensorProto.INT64, [len(v)], v))
              for k, v in (("axes", [1, 2, 3]), ("column", [-1, 1]), ("wide", [1, MAX_OUTPUTS + 1]))]  # fmt: skip
    mean = [*consts, helper.make_node("ReduceMean", ["image", "axes"], ["m"], keepdims=1),
            helper.make_node("Reshape", ["m", "column"], ["c"])]  # fmt: skip
    wide = _save_model(tmp_path / "wide.onnx", [*mean, helper.make_node("Expand", ["c", "wide"], ["scores"])],
                       ["N", 3, 8, 8], ["N", MAX_OUTPUTS + 1])  # fmt: skip
    graph = helper.make_graph([*mean, helper.make_node("Cast", ["c"], ["scores"], to=TensorProto.STRING)], "text",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.STRING, ["N", 1])])  # fmt: skip
    text = tmp_path / "text.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(text))
    store = sample_to_store(ToyGenerator(), tmp_path / "run", num=8, progress=False)
    with pytest.raises(InterfaceGANError, match=f"gives {MAX_OUTPUTS + 1:,} outputs, more than the {MAX_OUTPUTS:,}"):
        score_store(store, load_scorer(f"onnx:{wide}"), model=ToyGenerator(), progress=False)
    assert store.score_names == []
    with pytest.raises(InterfaceGANError, match="returned object values, not numbers"):
        load_scorer(f"onnx:{text}").score(np.zeros((2, 8, 8, 3), np.uint8))
