"""Refusals of the store and direction commands (sample, score, import-official, export-official, ganspace, demo):
one line on stderr, exit code 2, no traceback, and nothing written; and runs given as URLs (edit, train-boundary)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from interfacegan.interop import import_official
from interfacegan.models import ToyGenerator
from tests.helpers import cli_error


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refusals(f: Path, t: Path) -> list[tuple[list, str]]:
    """(arguments, the refusal): `f` holds conftest's command_inputs, `t` a folder with `afile` (a file), `z512.npy`
    (512-d codes), `znan.npy` (16-d toy codes with one NaN); every output named lies under `t`."""
    run, out = f / "run", t / "out"
    sample = ["sample", "--model", "toy", "--num", "10", "--quiet"]
    score = ["score", run, "--scorer", "toy", "--quiet"]
    imp = ["import-official", "--out", out]
    gs = ["ganspace", "--model", "toy", "-k", "2", "--num", "20", "--quiet"]
    return [
        ([*sample, "--out", t / "afile"], f"output {t / 'afile'} is a file, not a folder"),
        ([*sample, "--out", t / "afile" / "run"], "which is a file: choose a path in a folder"),
        ([*sample, "--out", t / "gone"], "is a link to "),  # to nothing: was a FileExistsError traceback
        ([*sample, "--out", "/proc/1/run"], "output /proc/1/run is under /proc, a system folder"),
        ([*sample, "--out", out, "--seed", "-1"], "seed must be a whole number from 0 to 2**63 - 1, got -1"),
        ([*sample, "--out", out, "--batch-size", "0"], "--batch-size must be positive, got 0"),
        ([*sample, "--out", out, "--chunk-rows", "0"], "--chunk-rows must be positive, got 0"),
        ([*sample, "--out", out, "--thumbnails", "0"], "thumbnail_size must be positive, got 0"),
        ([*sample, "--out", out, "--thumbnails", "-3"], "thumbnail_size must be positive, got -3"),
        ([*sample, "--out", out, "--thumbnails", "10" * 12], "thumbnail_size must be <= 8192"),
        ([*sample, "--out", out, "--num", "9" * 23], "num must be <= 1099511627776"),
        ([*sample, "--out", out, "--chunk-rows", "1000000000"], "would exceed 8 GiB: lower --chunk-rows"),
        (["export-official", run, "--out", t / "afile"], f"output {t / 'afile'} is a file, not a folder"),
        (["export-official", run, "--out", t / "afile" / "npy"], "which is a file: choose a path in a folder"),
        (["export-official", run, "--out", out, "--attribute", "nope"], "nope"),
        ([*imp, "--codes", f"z={t / 'z512.npy'}", "--model", "dcgan-digiface"],
         "codes of shape (10, 512) do not fit space 'z' of model 'dcgan-digiface': expected (N, 100)"),
        ([*imp, "--codes", f"w={t / 'z512.npy'}", "--model", "dcgan-digiface"], "has no latent space 'w'"),
        ([*imp, "--codes", f"z={t / 'znan.npy'}", "--model", "toy"],
         "z codes (rows 0-9) must be finite: 1 of 160 values are NaN or inf"),
        ([*imp, "--codes", f"z={t / 'znan.npy'}"], "must be finite"),  # checked without a model too
        ([*imp, "--codes", f"z={t / 'zhuge.npy'}", "--model", "toy"],  # was stored as inf codes, with a warning
         "z codes (rows 0-9) must be within +-3.4e+38 (float32): 1 of 160 values are beyond it"),
        ([*imp, "--codes", f"z={t / 'z16.npy'}", "--scores", f"a={t / 's_huge.npy'}"],
         "scores 'a' hold inf values: use NaN for samples without a score (and finite values within float32"),
        ([*imp, "--codes", f"z={t / 'z512.npy'}", "--seed", "-1"], "seed must be a whole number"),
        ([*imp, "--codes", f"z={t / 'z16.npy'}", "--scores", f"../x={t / 's_inf.npy'}"],
         "score name '../x' is not a plain name"),  # was a zarr traceback ('a/b' nested a group)
        ([*imp, "--codes", f"z={t / 'z16.npy'}", "--scores", f"a={t / 's_inf.npy'}"],
         "scores 'a' hold inf values: use NaN for samples without a score"),
        ([*imp, "--codes", f"z={t / 'z16.npy'}", "--scores", f"a={t / 's_text.npy'}"],
         "scores 'a' hold <U1 values, not numbers"),  # was a ValueError traceback
        ([*imp, "--codes", f"z={t / 'garbage.npy'}"],  # numpy calls any non-NumPy file "pickled" and suggests
         "is not a plain .npy array (it holds pickled objects or is not a NumPy file at all; interfacegan never "
         "unpickles files)"),
        (["edit", run, "--boundary", t / "garbage.npz", "--out", out], "garbage.npz is not a readable plain array (it holds pickled"),
        (["train-translator", "--boundary", f / "b.npz", "--num", "200000", "--out", t / "tr.pt"],
         "num must be <= 100000"),
        (["train-translator", "--boundary", f / "b.npz", "--batch-size", "100000000", "--out", t / "tr.pt"],
         "--batch-size must be <= 4096"),
        (["train-translator", "--boundary", f / "b.npz", "--space", "qq", "--out", t / "tr.pt"],  # was ignored
         "model 'toy' has no latent space 'qq'"),
        (["train-translator", "--boundary", f / "b.npz", "--space", "w", "--out", t / "tr.pt"],
         "boundary 'attr0' lives in space 'z', not 'w'"),
        (["train-encoder", "--model", "toy", "--batch-size", "100000000", "--out", t / "enc.pt"],
         "--batch-size must be <= 4096"),
        ([*score, "--batch-size", "0"], "--batch-size must be positive, got 0"),
        ([*score, "--prefix", "a/b/"], "prefix 'a/b/' is not a plain name: use letters, digits, '_', '-' and '.'"),
        ([*score, "--prefix", ".hidden"], "prefix '.hidden' is not a plain name"),
        (["score", t / "imported", "--scorer", "face", "--quiet"], "has no images and no model to synthesize them"),
        (["score", run, "--scorer", f"csv:{t / 'nested.csv'}"], "names an output 'a/b', which cannot be stored"),
        ([*gs, "--out", out, "--name-with", "foo"], "unknown scorer 'foo'"),
        ([*gs, "--out", out, "--scale", "0"], "scale must be in [1, 64], got 0"),
        ([*gs, "--out", out, "--rows", "0"], "rows must be positive, got 0"),
        ([*gs, "--out", out, "--seed", "-1"], "seed must be a whole number from 0 to 2**63 - 1, got -1"),
        ([*gs, "--out", out, "--block-size", "0"], "--block-size must be positive, got 0"),
        ([*gs, "--out", out, "--regression-num", "0"], "--regression-num must be positive, got 0"),
        ([*gs, "--out", out, "-k", "99"], "k must be between 1 and 16"),
        ([*gs, "--out", out, "--official", t / "pca.txt"], "GANSpace files end in .npz"),  # refused at the very end
        ([*gs, "--out", t / "afile"], f"output {t / 'afile'} is a file, not a folder"),
        ([*gs, "--out", t / "afile" / "g"], "which is a file: choose a path in a folder"),
        ([*gs, "--out", "/proc/1/g"], "output /proc/1/g is under /proc, a system folder"),
        ([*gs, "--out", out, "--official", t / "afile" / "pca.npz"], "which is a file: choose a path in a folder"),
        (["demo", "--quiet", "--out", t / "afile"], f"output {t / 'afile'} is a file, not a folder"),
        (["demo", "--quiet", "--out", t / "afile" / "demo"], "which is a file: choose a path in a folder"),
        (["demo", "--quiet", "--out", "/proc/1/demo"], "output /proc/1/demo is under /proc, a system folder"),
    ]


def _inputs(folder: Path) -> Path:
    (folder / "afile").write_text("x")
    (folder / "gone").symlink_to(folder / "nowhere")
    np.save(folder / "z512.npy", np.zeros((10, 512), np.float32))
    codes = ToyGenerator().sample(10, seed=1)
    codes[4, 2] = np.inf
    np.save(folder / "znan.npy", codes)
    (folder / "nested.csv").write_text("index,a/b\n0,1\n")
    (folder / "garbage.npy").write_bytes(b"not an array")
    (folder / "garbage.npz").write_bytes(b"not an archive")
    np.save(folder / "z16.npy", np.nan_to_num(codes, posinf=0.0))
    np.save(folder / "s_inf.npy", np.full(10, np.inf, np.float32))
    huge = np.nan_to_num(codes, posinf=0.0).astype(np.float64)
    huge[3, 5] = 1e300  # finite, beyond float32
    np.save(folder / "zhuge.npy", huge)
    np.save(folder / "s_huge.npy", np.full(10, 1e300))
    np.save(folder / "s_text.npy", np.array(["a"] * 10))
    import_official(folder / "imported", {"z": folder / "z16.npy"})  # a run without a model
    return folder


REFUSAL_IDS = [" ".join(map(str, args[:1] + args[-2:])) for args, _ in _refusals(Path("f"), Path("t"))]


@pytest.mark.parametrize("index", range(len(REFUSAL_IDS)), ids=REFUSAL_IDS)
def test_a_refused_command_is_one_line_and_writes_nothing(index, command_inputs, tmp_path, monkeypatch, capsys):
    before_run = _tree(command_inputs / "run")
    before, entries = _tree(_inputs(tmp_path)), sorted(tmp_path.iterdir())
    args, message = _refusals(command_inputs, tmp_path)[index]
    err = cli_error(monkeypatch, capsys, *args)
    assert message in err, err
    assert _tree(tmp_path) == before and sorted(tmp_path.iterdir()) == entries
    assert _tree(command_inputs / "run") == before_run


READ_ONLY_DRIVER = """
import contextlib, io, json, sys
from interfacegan.cli import main
report = {}
for args in json.loads(sys.argv[1]):
    sys.argv, err = ["interfacegan", *args], io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
    report[args[0]] = [code, err.getvalue().strip().splitlines()]
print(json.dumps(report))
"""


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
def test_a_read_only_output_is_one_line_before_any_work(command_inputs, tmp_path):
    """A read-only mount refuses writes even to root: the commands run (in one process) in a private mount namespace
    with their output's parent bind-mounted read-only (`score` writes into a run there: it was an OSError traceback)."""
    import json

    target, out = tmp_path / "ro", str(tmp_path / "ro" / "out")
    shutil.copytree(command_inputs / "run", target / "run")
    commands = [["sample", "--model", "toy", "--num", "10", "--out", out],
                ["ganspace", "--model", "toy", "-k", "2", "--num", "20", "--out", out],
                ["demo", "--num", "200", "--out", out],
                ["export-official", str(command_inputs / "run"), "--out", out],
                ["score", str(target / "run"), "--scorer", "toy", "--overwrite"]]  # fmt: skip
    script = f'mount --bind {target} {target} && mount -o remount,bind,ro {target} && exec "$0" -c "$1" "$2"'
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, READ_ONLY_DRIVER, json.dumps(commands)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode and "mount" in done.stderr:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    line = "error: output {} cannot be written: " + f"{target} is read-only for this process; choose another place"
    expected = {args[0]: [2, [line.format(target / "run" if args[0] == "score" else out)]] for args in commands}
    assert json.loads(done.stdout.splitlines()[-1]) == expected


def _run_cli(monkeypatch, *args) -> None:
    """Run the real entry point in-process; it must succeed."""
    from interfacegan.cli import main

    monkeypatch.setattr(sys, "argv", ["interfacegan", *map(str, args)])
    main()


def test_edit_train_boundary_analyze_and_ui_read_a_run_at_a_url(command_inputs, tmp_path, monkeypatch, capsys):
    """A run given as an fsspec URL (here memory://, which this process shares with the commands run in it) is read
    as a local one is; train-boundary then needs --out, since a URL has no local folder beside it."""
    import socket

    import uvicorn

    from interfacegan.directions import Boundary
    from interfacegan.sampling import sample_to_store
    from interfacegan.store import SampleStore

    url, local = "memory://refusals/url-run", SampleStore.open(command_inputs / "run", mode="r")
    remote = sample_to_store(ToyGenerator(), url, num=local.num, chunk_rows=local.num, progress=False)
    np.testing.assert_array_equal(remote.codes("z"), local.codes("z"))
    remote.ensure_array("scores/attr0", (), "float32", attrs={"scorer": "toy", "version": "1"})
    remote.write_rows("scores/attr0", 0, local.scores(["attr0"])["attr0"])

    _run_cli(monkeypatch, "edit", url, "--boundary", command_inputs / "b.npz", "--num", "2", "--steps", "3",
             "--out", tmp_path / "edit")  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "edit").iterdir()) == ["edit.gif", "grid.png"]
    _run_cli(monkeypatch, "train-boundary", url, "--attribute", "attr0", "--ratio", "0.2", "--out", tmp_path / "b.npz")
    assert Boundary.load(tmp_path / "b.npz").attribute == "attr0"
    err = cli_error(monkeypatch, capsys, "train-boundary", url, "--attribute", "attr0")
    assert f"run {url} is a URL, with no local folder beside it for the boundaries: name one with --out" in err
    _run_cli(monkeypatch, "analyze", "separability", url, "--ratio", "0.2", "--out", tmp_path / "analysis")
    assert "attr0" in (tmp_path / "analysis" / "separability.csv").read_text()

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    with socket.socket() as sock:  # a port free now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _run_cli(monkeypatch, "ui", "--run", url, "--sefa", "1", "--port", port)
    assert served[0].state.editor.model.spec == "toy"  # the run's model, read from the URL


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/run", "ftp://127.0.0.1:1/run"])
def test_a_run_at_an_unreachable_url_is_one_line(url, tmp_path, monkeypatch, capsys):
    """Probe: a URL nothing answers at (loopback port 1) was a ConnectionRefusedError or aiohttp traceback, for a
    new run (sample) and for reading one (info, export-official)."""
    for args in (["sample", "--model", "toy", "--num", "10", "--quiet", "--out", url], ["info", url],
                 ["export-official", url, "--out", tmp_path / "out"]):  # fmt: skip
        err = cli_error(monkeypatch, capsys, *args)
        assert f"cannot reach {url} (" in err and "check the address, the network and the credentials" in err
    assert not (tmp_path / "out").exists()
