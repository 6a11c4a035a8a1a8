"""Loading a checkpoint never runs code from it, and broken files fail with one clear line naming the file.

Each malicious file below would create a marker file (or run a shell command) if a plain `pickle.load` /
`torch.load(weights_only=False)` opened it; the tests check that our loaders refuse it and that the marker
does not exist afterwards.
"""

from __future__ import annotations

import builtins
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
    from tests.conftest import cli_path

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
