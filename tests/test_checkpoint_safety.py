"""Loading a checkpoint never runs code from it, and broken files fail with one clear line naming the file.

Each malicious file below would create a marker file (or run a shell command) if a plain `pickle.load` /
`torch.load(weights_only=False)` opened it; the tests check that our loaders refuse it and that the marker
does not exist afterwards.
"""

from __future__ import annotations

import builtins
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models import load_model
from interfacegan.models.checkpoints import build_random
from interfacegan.models.nvidia_pkl import read_nvidia_pickle
from tests.nvidia_pickles import FAKE_SOURCE, dump_nvidia_snapshot, nvidia_stylegan2, write_stylegan2_pkl


class Shell:
    """Unpickles as os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def raw_call(module: str, name: str, *args: str) -> bytes:
    """A protocol-0 pickle {'G_ema': module.name(*args)} written opcode by opcode (names the global literally)."""
    call = f"c{module}\n{name}\n(" + "".join(f"V{a}\n" for a in args) + "tR"
    return f"(dVG_ema\n{call}s.".encode()


class Popen:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.path],))


class Eval:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (builtins.eval, (f"open({self.path!r}, 'w')",))


@pytest.fixture(scope="module")
def tiny():
    return build_random("stylegan2", resolution=8, w_dim=8, device="cpu")


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


PAYLOADS = {
    "os.system": (lambda m: pickle.dumps({"G_ema": Shell(f"touch {m}")}), "system"),
    "builtins.open": (lambda m: raw_call("builtins", "open", str(m), "w"), "builtins.open"),
    "builtins.eval": (lambda m: pickle.dumps({"G_ema": Eval(str(m))}), "builtins.eval"),
    "builtins.exec": (lambda m: raw_call("builtins", "exec", f"open({str(m)!r}, 'w')"), "builtins.exec"),
    "subprocess.Popen": (lambda m: pickle.dumps({"G_ema": Popen(str(m))}), "subprocess.Popen"),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_code_carrying_pickles_are_refused(payload, tmp_path):
    make, refused = PAYLOADS[payload]
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(make(marker))
    armed = tmp_path / "armed"  # the payload is real: a plain pickle.load creates its marker
    loaded = pickle.loads(make(armed))
    if isinstance(loaded["G_ema"], subprocess.Popen):
        loaded["G_ema"].wait()
    elif hasattr(loaded["G_ema"], "close"):
        loaded["G_ema"].close()
    assert armed.exists()
    for spec in (str(path), f"stylegan2:{path}", f"nvidia:{path}", f"stylegan3:{path}"):
        with pytest.raises(InterfaceGANError) as exc:
            load_model(spec, device="cpu")
        text = one_line(exc)
        assert str(path) in text and refused in text and "refused" in text
    assert not marker.exists()


def test_payload_hidden_inside_a_real_snapshot_is_refused(tiny, tmp_path):
    """A valid NVIDIA snapshot with a payload in a side entry: nothing is built, nothing runs."""
    marker = tmp_path / "pwned"
    path = tmp_path / "snapshot.pkl"
    dump_nvidia_snapshot(path, lambda easy: nvidia_stylegan2(tiny, easy), extra={"progress": Shell(f"touch {marker}")})
    with pytest.raises(InterfaceGANError, match="posix.system|nt.system"):
        load_model(str(path), device="cpu")
    assert not marker.exists()


def test_module_source_stored_in_the_pickle_is_never_executed(tiny, tmp_path, monkeypatch):
    """NVIDIA pickles carry module source that their loader exec's; ours records a hash and ignores it."""
    marker = tmp_path / "pwned"
    import tests.nvidia_pickles as writer

    monkeypatch.setattr(writer, "FAKE_SOURCE", f"open({str(marker)!r}, 'w').write('ran')\n" + FAKE_SOURCE)
    path = write_stylegan2_pkl(tiny, tmp_path / "g.pkl")
    assert f"open({str(marker)!r}".encode() in path.read_bytes()  # the source really is in the file
    model = load_model(str(path), device="cpu")
    assert not marker.exists()
    assert "torch_utils" not in sys.modules and "dnnlib" not in sys.modules
    z = tiny.sample(2)
    np.testing.assert_array_equal(model.synthesize(z), tiny.synthesize(z))
    record = read_nvidia_pickle(path)["G_ema"]
    assert record.class_name == "Generator" and len(record.source_sha256) == 64 and "module_src" not in record.state


def test_payload_inside_tensor_storage_bytes_is_refused(tmp_path):
    """Tensor storages arrive as torch.save bytes; they are read weights-only, so a payload there is refused too."""
    marker = tmp_path / "pwned"

    class EvilStorage:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (pickle.dumps(Shell(f"touch {marker}"), protocol=2),))

    path = tmp_path / "storage.pkl"
    path.write_bytes(pickle.dumps({"G_ema": EvilStorage()}))
    with pytest.raises(InterfaceGANError) as exc:
        load_model(str(path), device="cpu")
    assert str(path) in one_line(exc)
    assert not marker.exists()


def test_numpy_object_arrays_are_refused(tmp_path):
    path = tmp_path / "objects.pkl"
    path.write_bytes(pickle.dumps({"G_ema": np.array([1, "x"], dtype=object)}))
    with pytest.raises(InterfaceGANError, match="object arrays"):
        load_model(str(path), device="cpu")


def test_code_carrying_torch_files_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {"input.input": torch.zeros(1)}, "latent_avg": Shell(f"touch {marker}")}, path)
    for spec in (str(path), f"rosinality:{path}", f"stylegan2:{path}"):
        with pytest.raises(InterfaceGANError) as exc:
            load_model(spec, device="cpu")
        text = one_line(exc)
        assert str(path) in text and "system" in text
    assert not marker.exists()


def test_cli_refuses_a_malicious_checkpoint(tmp_path):
    from tests.helpers import cli_path

    marker = tmp_path / "pwned"
    path = tmp_path / "ffhq.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Shell(f"touch {marker}")}))
    args = ["sample", "--model", f"stylegan2:{path}", "--num", "4", "--out", str(tmp_path / "run"), "--quiet",
            "--device", "cpu"]  # fmt: skip
    proc = subprocess.run([cli_path(), *args], capture_output=True, text=True)
    assert proc.returncode == 2 and "refused" in proc.stderr + proc.stdout
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_truncated_and_corrupt_files_fail_with_one_line(tiny, tmp_path):
    good = write_stylegan2_pkl(tiny, tmp_path / "good.pkl")
    data = good.read_bytes()
    cases = {
        "truncated.pkl": data[: len(data) // 2],
        "flipped.pkl": data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:],
        "noise.pkl": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "empty.pkl": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InterfaceGANError) as exc:
            load_model(str(path), device="cpu")
        assert str(path) in one_line(exc), name
    pt = tmp_path / "model.pt"
    torch.save({"g_ema": {"input.input": torch.zeros(1, 4, 4, 4)}, "latent_avg": torch.zeros(8)}, pt)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(pt.read_bytes()[:300])
    for path in (pt, cut):  # an incomplete layout, then a truncated zip
        with pytest.raises(InterfaceGANError) as exc:
            load_model(f"stylegan2:{path}", device="cpu")
        assert str(path) in one_line(exc)


def test_unknown_layouts_are_named(tmp_path):
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(InterfaceGANError, match="no 'G_ema'") as exc:
        load_model(str(other), device="cpu")
    assert str(other) in one_line(exc)
    pt = tmp_path / "other.pt"
    torch.save({"state": {"fc.weight": torch.zeros(2, 2)}}, pt)
    with pytest.raises(InterfaceGANError, match="unknown checkpoint layout"):
        load_model(str(pt), device="cpu")
    tf = tmp_path / "tf.pkl"
    tf.write_bytes(b"\x80\x03cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01.")
    with pytest.raises(InterfaceGANError, match="TensorFlow StyleGAN pickle"):
        load_model(str(tf), device="cpu")


# ---- bounds: what a crafted file may make the loader allocate, recurse into or change -------------------------
def test_shared_submodules_are_refused_before_any_walk(tiny, tmp_path):
    """A real snapshot plus 25 levels of modules whose two children are one memoised module: 2**25 paths."""
    from tests.nvidia_pickles import nv

    def make(easy):
        g = nvidia_stylegan2(tiny, easy)
        shared = nv("Leaf", params={"w": torch.zeros(2)})
        for _ in range(25):
            shared = nv("Node", children={"a": shared, "b": shared})
        g.synthesis.b4.extra = shared
        return g

    path = tmp_path / "shared.pkl"
    dump_nvidia_snapshot(path, make)
    assert path.stat().st_size < 400_000  # the probe: ~280 KB
    with pytest.raises(InterfaceGANError, match="appears more than once") as exc:
        load_model(str(path), device="cpu")
    assert str(path) in one_line(exc)


def test_deeply_nested_modules_are_one_line(tmp_path):
    from tests.nvidia_pickles import nested_modules_pickle

    path = tmp_path / "nested.pkl"
    path.write_bytes(nested_modules_pickle(5000))
    for spec in (str(path), f"stylegan2:{path}"):
        with pytest.raises(InterfaceGANError, match="nested more than 32 deep") as exc:
            load_model(spec, device="cpu")
        assert str(path) in one_line(exc)


def test_zero_stride_tensors_declaring_giant_shapes_are_refused(tiny, tmp_path):
    """A 16-byte storage viewed as 100,000 x 100,000 floats (40 GB if materialised): refused in every reader."""
    giant = torch.zeros(4).as_strided((100_000, 100_000), (0, 0))
    pt = tmp_path / "giant.pt"
    torch.save({"g_ema": {"style.1.weight": giant}, "latent_avg": torch.zeros(8)}, pt)
    assert pt.stat().st_size < 10_000
    for spec in (str(pt), f"rosinality:{pt}", f"genforce:{pt}"):
        with pytest.raises(InterfaceGANError, match="overlapping views") as exc:
            load_model(spec, device="cpu")
        assert str(pt) in one_line(exc)

    def make(easy):
        g = nvidia_stylegan2(tiny, easy)
        g.mapping._buffers["w_avg"] = giant
        return g

    pkl = tmp_path / "giant.pkl"
    dump_nvidia_snapshot(pkl, make)
    with pytest.raises(InterfaceGANError, match="overlapping views") as exc:
        load_model(str(pkl), device="cpu")
    assert str(pkl) in one_line(exc)
    shared = tmp_path / "views.pt"  # 2,000 full views of one 4 MB storage: 8 GB of weights from a 4 MB file
    big = torch.zeros(1 << 20)
    torch.save({"g_ema": {f"w{i}": big[:] for i in range(2000)}}, shared)
    with pytest.raises(InterfaceGANError, match="far more bytes") as exc:
        load_model(str(shared), device="cpu")


def test_legacy_files_declaring_more_storage_than_they_hold_are_refused(tmp_path):
    """A legacy torch.save file whose storage declares 14.4e9 floats (57.6 GB) but holds 4 bytes."""

    class Storage:
        pass

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 14_400_000_000) if isinstance(obj, Storage) else None

    path = tmp_path / "legacy.pt"
    with open(path, "wb") as f:
        for header in ((0x1950A86A20F9469CFC6C), 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        Writer(f, protocol=2).dump({"g_ema": Storage()})
        pickle.dump(["0"], f, protocol=2)
        f.write((1).to_bytes(8, "little") + b"\0" * 4)
    with pytest.raises(InterfaceGANError, match="declare 57600000000 bytes") as exc:
        load_model(f"rosinality:{path}", device="cpu")
    assert str(path) in one_line(exc)


@pytest.mark.parametrize("target", ["dnnlib.util\nEasyDict", "torch\nTensor", "torch._utils\n_rebuild_tensor_v2"])
def test_build_never_changes_a_class_or_function(target, tmp_path):
    """BUILD with (None, {'__init__': 1}) on an allowed class or function: refused, and nothing changed."""
    from interfacegan.models import nvidia_pkl

    before = {"easy": nvidia_pkl.EasyDict.__init__, "tensor": torch.Tensor.__init__}
    path = tmp_path / "build.pkl"
    path.write_bytes(f"}}VG_ema\nc{target}\n(N}}V__init__\nI1\nsV__defaults__\nI2\nstbs.".encode())
    with pytest.raises(InterfaceGANError, match="did not create") as exc:
        load_model(str(path), device="cpu")
    assert str(path) in one_line(exc)
    assert before == {"easy": nvidia_pkl.EasyDict.__init__, "tensor": torch.Tensor.__init__}
    assert torch._utils._rebuild_tensor_v2.__defaults__ != 2 and nvidia_pkl._rebuild_tensor.__defaults__ != 2


def test_pickle_work_is_bounded_by_its_size(tmp_path):
    """set() called 20,000 times on one memoised 50,000-item list (10**9 element copies from a 400 KB file), and
    calls that would allocate 10**12 items: refused."""
    items = "(l" + "I1\na" * 50_000 + "p0\n0"
    calls = "(" + "cbuiltins\nset\n(g0\ntR" * 20_000 + "l"
    bomb = tmp_path / "work.pkl"
    bomb.write_bytes(f"{items}}}VG_ema\n{calls}s.".encode())
    with pytest.raises(InterfaceGANError, match="far more work") as exc:
        load_model(str(bomb), device="cpu")
    assert str(bomb) in one_line(exc)
    for callee in ("builtins\nbytearray", "numpy\nndarray", "torch\nTensor"):  # each would allocate 10**12 items
        alloc = tmp_path / "alloc.pkl"
        alloc.write_bytes(f"}}VG_ema\nc{callee}\n(I1000000000000\ntRs.".encode())
        with pytest.raises(InterfaceGANError, match="bytearray|not callable") as exc:
            load_model(str(alloc), device="cpu")
        assert str(alloc) in one_line(exc)


def test_nan_and_inf_weights_are_refused_on_load(tiny, tmp_path):
    from interfacegan.models.rosinality import save_rosinality

    def make(easy):
        g = nvidia_stylegan2(tiny, easy)
        g.synthesis.b8.conv0.bias.data[0] = float("nan")
        return g

    pkl = tmp_path / "nan.pkl"
    dump_nvidia_snapshot(pkl, make)
    pt = save_rosinality(build_random("stylegan2", resolution=8, w_dim=8, conv_clamp=None), tmp_path / "inf.pt")
    ckpt = torch.load(pt, weights_only=True)
    ckpt["g_ema"]["style.1.weight"][0, 0] = float("inf")
    torch.save(ckpt, pt)
    for path in (pkl, pt):
        with pytest.raises(InterfaceGANError, match="NaN or infinite") as exc:
            load_model(str(path), device="cpu")
        assert str(path) in one_line(exc)


def test_crafted_encoder_and_translator_configs_are_one_line(tmp_path):
    """Wrong types, missing keys, unknown fields, deep JSON and giant declared networks: one line, no allocation."""
    from interfacegan.inversion.encoder import ENCODER_FORMAT, Encoder, EncoderConfig, build_net
    from interfacegan.models.weights import write_tagged_file
    from interfacegan.translation.checkpoint import TRANSLATOR_FORMAT, load_translator

    config = EncoderConfig(model="toy", resolution=8, space="z", code_shape=[4], width=4, max_width=8, hidden=8)
    state = {k: v.detach() for k, v in build_net(config).state_dict().items()}
    good = json.loads(config.to_json())
    encoders = {
        "types": {"config": json.dumps({**good, "resolution": "8"}), "state_dict": state},
        "missing": {"state_dict": state},
        "no_weights": {"config": config.to_json()},
        "unknown": {"config": json.dumps({**good, "evil": 1}), "state_dict": state},
        "deep": {"config": "[" * 100_000, "state_dict": state},
        "not_json": {"config": 5, "state_dict": state},
        "giant": {"config": json.dumps({**good, "hidden": 65536, "width": 4096, "max_width": 4096, "resolution": 4096}),
                  "state_dict": state},
    }  # fmt: skip
    for name, payload in encoders.items():
        path = write_tagged_file(tmp_path / f"{name}.enc", ENCODER_FORMAT, 1, payload)
        with pytest.raises(InterfaceGANError) as exc:
            Encoder.load(path)
        assert str(path) in one_line(exc), name
    translators = {
        "types": {"config": json.dumps({"resolution": [8]})},
        "giant": {"config": json.dumps({"resolution": 4096, "width": 4096, "max_width": 4096}),
                  "identity": {"w": torch.zeros(1)}, "edited": {"w": torch.zeros(1)}, "meta": "{}"},
        "meta": {"config": json.dumps({"resolution": 8}), "meta": "[1]"},
    }  # fmt: skip
    for name, payload in translators.items():
        path = write_tagged_file(tmp_path / f"{name}.tr", TRANSLATOR_FORMAT, 1, payload)
        with pytest.raises(InterfaceGANError) as exc:
            load_translator(path)
        assert str(path) in one_line(exc), name
