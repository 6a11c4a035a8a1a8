"""Sampling into the store: determinism, resume after a crash or kill -9, shards, bounded memory."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from interfacegan.errors import InterfaceGANError
from interfacegan.models import Truncation, gaussian_codes, load_model
from interfacegan.sampling import SAMPLE_TASK, make_truncation, parse_shard, sample_to_store
from interfacegan.store import SampleStore
from tests.helpers import cli_path


def test_codes_do_not_depend_on_how_they_are_chunked():
    full = gaussian_codes(7, 0, 5000, 8)
    pieces = np.concatenate([gaussian_codes(7, a, min(a + 333, 5000), 8) for a in range(0, 5000, 333)])
    np.testing.assert_array_equal(full, pieces)
    assert not np.array_equal(full, gaussian_codes(8, 0, 5000, 8))
    assert abs(full.mean()) < 0.02 and abs(full.std() - 1) < 0.02


def test_same_seed_gives_bit_identical_codes_and_images(embedded_gan):
    model = embedded_gan
    z1, z2 = model.sample(6, seed=11), model.sample(6, seed=11)
    np.testing.assert_array_equal(z1, z2)
    a = model.synthesize(z1, batch_size=4)
    b = model.synthesize(z2, batch_size=6)
    assert a.dtype == np.uint8 and a.shape == (6, 64, 64, 3)
    np.testing.assert_array_equal(a, b)
    assert a.std() > 20  # real faces, not a constant image


def test_store_holds_codes_images_and_metadata(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=1000, seed=5, spaces=["w", "wp"], save_images=True,
                            chunk_rows=128, progress=False)  # fmt: skip
    assert store.spaces == ["w", "wp", "z"]
    np.testing.assert_array_equal(store.codes("z"), toy_generator.sample(1000, seed=5))
    np.testing.assert_allclose(store.codes("w"), toy_generator.map(toy_generator.sample(1000, 5), "w"), rtol=1e-6)
    assert store.codes("wp").shape == (1000, toy_generator.num_ws, toy_generator.w_dim)
    expected = toy_generator.synthesize(toy_generator.sample(1000, 5)[10:20])
    np.testing.assert_array_equal(store.images(slice(10, 20)), expected)
    meta = SampleStore.open(tmp_path / "run").meta
    assert meta["model"] == "toy" and meta["seed"] == 5 and meta["num"] == 1000
    assert meta["created"] and meta["spaces"] == ["z", "w", "wp"]
    assert store.is_complete(SAMPLE_TASK)


def test_resume_rewrites_a_chunk_that_was_half_written(tmp_path, toy_generator):
    reference = sample_to_store(toy_generator, tmp_path / "ref", num=900, seed=2, save_images=True, chunk_rows=100,
                                progress=False)  # fmt: skip
    store = sample_to_store(toy_generator, tmp_path / "run", num=900, seed=2, save_images=True, chunk_rows=100,
                            progress=False)  # fmt: skip
    # Simulate a crash in the middle of chunk 4: garbage rows, flag cleared.
    store.write_rows("codes/z", 400, np.full((50, toy_generator.z_dim), 99.0, np.float32))
    store.group["progress/sample"][4] = 0
    resumed = sample_to_store(toy_generator, tmp_path / "run", num=900, seed=2, save_images=True, chunk_rows=100,
                              progress=False)  # fmt: skip
    np.testing.assert_array_equal(resumed.codes("z"), reference.codes("z"))
    np.testing.assert_array_equal(resumed.images(slice(None)), reference.images(slice(None)))


def test_shards_fill_disjoint_chunks_and_together_equal_one_run(tmp_path, toy_generator):
    for index in range(3):
        store = sample_to_store(toy_generator, tmp_path / "run", num=1000, seed=4, chunk_rows=64, shard=(index, 3),
                                progress=False)  # fmt: skip
        done = store.done_chunks(SAMPLE_TASK)
        assert done.sum() == sum(1 for k in range(store.num_chunks) if k % 3 <= index)
    np.testing.assert_array_equal(store.codes("z"), toy_generator.sample(1000, seed=4))


def test_the_command_says_what_one_shard_left_to_the_others(tmp_path):
    """One shard of two fills 2 of 3 chunks: the command counts what is left in the singular and out of how many."""
    from typer.testing import CliRunner

    from interfacegan.cli import app

    result = CliRunner().invoke(app, ["sample", "--model", "toy", "--num", "300", "--chunk-rows", "100", "--out",
                                      str(tmp_path / "run"), "--shard", "0/2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(1 chunk of 3 left for other shards)" in " ".join(result.output.split()), result.output


def test_refuses_other_arguments_unknown_model_and_bad_num(tmp_path, toy_generator, embedded_gan):
    sample_to_store(toy_generator, tmp_path / "run", num=100, seed=1, progress=False)
    with pytest.raises(InterfaceGANError, match="other arguments: seed 1 .asked 2."):
        sample_to_store(toy_generator, tmp_path / "run", num=100, seed=2, progress=False)
    with pytest.raises(InterfaceGANError, match="other arguments: num 100 .asked 200."):
        sample_to_store(toy_generator, tmp_path / "run", num=200, seed=1, progress=False)
    with pytest.raises(InterfaceGANError, match="unknown model 'stylegan9'"):
        load_model("stylegan9")
    with pytest.raises(InterfaceGANError, match="must be positive"):
        sample_to_store(toy_generator, tmp_path / "other", num=0, progress=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(InterfaceGANError, match="not empty"):
        sample_to_store(toy_generator, tmp_path / "full", num=10, progress=False)
    with pytest.raises(InterfaceGANError, match="is a file, not a folder"):
        sample_to_store(toy_generator, tmp_path / "full" / "notes.txt", num=10, progress=False)
    with pytest.raises(InterfaceGANError, match="is under /proc"):
        sample_to_store(toy_generator, "/proc/run", num=10, progress=False)
    with pytest.raises(InterfaceGANError, match="no latent space 'w'"):
        sample_to_store(embedded_gan, tmp_path / "dc", num=10, spaces=["w"], progress=False)


def test_w_space_under_a_truncation_cutoff_is_refused_and_wp_reproduces_the_images(tmp_path, toy_generator):
    """A w code cannot carry a truncation that only the first layers get: re-synthesized images would differ from
    the run's. Refused with a pointer to wp, which reproduces the images exactly."""
    cutoff = Truncation(psi=0.5, cutoff=2)
    z = toy_generator.sample(50, seed=0)
    images = toy_generator.synthesize(z, "z", truncation=cutoff)
    from_w = toy_generator.synthesize(toy_generator.map(z, "w", cutoff), "w")
    assert np.abs(from_w.astype(int) - images).max() > 10  # why w is refused
    with pytest.raises(InterfaceGANError, match="use space 'wp'"):
        sample_to_store(toy_generator, tmp_path / "w", num=50, spaces=["w"], truncation=cutoff, progress=False)
    assert not (tmp_path / "w").exists()
    store = sample_to_store(toy_generator, tmp_path / "wp", num=50, spaces=["wp"], truncation=cutoff, save_images=True,
                            progress=False)  # fmt: skip
    np.testing.assert_array_equal(toy_generator.synthesize(store.codes("wp"), "wp"), store.images(slice(None)))
    every_layer = Truncation(psi=0.5, cutoff=toy_generator.num_ws)  # truncates all layers, as w does: allowed
    store = sample_to_store(toy_generator, tmp_path / "all", num=50, spaces=["w"], truncation=every_layer,
                            save_images=True, progress=False)  # fmt: skip
    np.testing.assert_array_equal(toy_generator.synthesize(store.codes("w"), "w"), store.images(slice(None)))


def test_truncation_and_shard_arguments_are_checked_by_the_api():
    assert make_truncation() == Truncation() and make_truncation(0.7, 4) == Truncation(0.7, 4)
    with pytest.raises(InterfaceGANError, match=r"truncation psi must be in \[0, 1\], got 1.5"):
        make_truncation(1.5)
    with pytest.raises(InterfaceGANError, match="truncation cutoff must be >= 0"):
        make_truncation(0.5, -1)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/2", "a/b", "1", "-1/2"):
        with pytest.raises(InterfaceGANError, match="bad shard"):
            parse_shard(bad)


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    cases = [
        (["sample", "--model", "nope", "--num", "5", "--out", str(tmp_path / "a")], "unknown model 'nope'"),
        (["sample", "--model", "toy", "--num", "0", "--out", str(tmp_path / "a")], "num must be positive"),
        (["sample", "--model", "toy", "--num", "5", "--out", str(tmp_path / "a"), "--shard", "3/2"], "bad shard"),
        (["score", str(tmp_path / "missing"), "--scorer", "toy"], "does not exist"),
        (["info", str(tmp_path)], "is not an interfacegan sample store"),
    ]
    # all at once, one process each: the test takes about as long as one of them
    procs = [subprocess.Popen([cli_path(), *args], stderr=subprocess.PIPE, text=True) for args, _ in cases]
    for proc, (args, message) in zip(procs, cases):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (args, err)
        assert message in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "a").exists()


KILL_SCRIPT = """
import sys
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
sample_to_store(ToyGenerator(z_dim=64, resolution=16), sys.argv[1], num=int(sys.argv[2]), seed=9,
                save_images=True, chunk_rows=128, batch_size=128, progress=False)
"""


def test_kill_minus_9_then_resume_equals_uninterrupted(tmp_path):
    """The real thing: a sampling process killed with SIGKILL mid-run, then run again with the same arguments."""
    num = 8_000  # 63 chunks: killed after 3, long before the last
    target = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target), str(num)])
    flags = target / "progress" / "sample" / "c"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if flags.is_dir() and len(list(flags.iterdir())) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted = SampleStore.open(target)
    done = interrupted.done_chunks(SAMPLE_TASK)
    assert 0 < done.sum() < interrupted.num_chunks, "the process should have been killed mid-run"

    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(target), str(num)], check=True)
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "clean"), str(num)], check=True)
    resumed, clean = SampleStore.open(target), SampleStore.open(tmp_path / "clean")
    assert resumed.is_complete(SAMPLE_TASK)
    np.testing.assert_array_equal(resumed.codes("z"), clean.codes("z"))
    np.testing.assert_array_equal(resumed.images(slice(None)), clean.images(slice(None)))
    assert not np.isnan(resumed.codes("z")).any()


MEMORY_SCRIPT = """
import resource, sys
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
sample_to_store(ToyGenerator(z_dim=512, resolution=8), sys.argv[1], num=int(sys.argv[2]), seed=0,
                chunk_rows=1024, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ outside Linux")
def test_memory_stays_bounded_whatever_n(tmp_path):
    """120,000 x 512 float32 codes are 246 MB; the peak must not grow with N (streamed chunk by chunk)."""

    def peak_mib(num: int) -> float:
        out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / f"r{num}"), str(num)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        return int(out.split()[-1]) / 1024

    small, large = peak_mib(2_000), peak_mib(120_000)
    assert large - small < 100, f"peak memory grew from {small:.0f} MiB to {large:.0f} MiB"


def test_w_truncation_on_a_model_without_w_is_refused(tmp_path, monkeypatch, capsys):
    """Regression: `sample --truncation-psi 0.5` (and `ui --truncation-psi 0.5`) on the embedded DCGAN, which has
    only Z, recorded a truncation that changed nothing. Refused with one line before anything is written."""
    from tests.helpers import cli_error

    dcgan = load_model("dcgan-digiface", device="cpu")
    with pytest.raises(InterfaceGANError, match=r"has no W space \(its spaces: z\): W truncation \(psi 0.5\)"):
        sample_to_store(dcgan, tmp_path / "run", num=4, truncation=Truncation(psi=0.5), progress=False)
    sample_to_store(dcgan, tmp_path / "plain", num=4, truncation=Truncation(psi=1.0, cutoff=2), progress=False)
    import socket

    with socket.socket() as sock:  # a port that is free right now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for command in (["sample", "--num", "4", "--out", tmp_path / "cli"], ["ui", "--port", port]):
        err = cli_error(monkeypatch, capsys, *command, "--model", "dcgan-digiface", "--truncation-psi", "0.5",
                        "--device", "cpu")  # fmt: skip
        assert "has no W space" in err and "leave the truncation psi at 1" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "cli").exists()
