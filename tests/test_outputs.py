"""Outputs appear whole or not at all: `atomic.check_output` refuses unusable paths before any work, `staged_dir`
commits a folder of files at the end, and every command in its scope leaves nothing behind when it refuses."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from interfacegan.atomic import atomic_path, check_output, staged_dir
from interfacegan.directions import Boundary
from interfacegan.errors import InterfaceGANError
from tests.helpers import cli_error, cli_path


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- check_output -----------------------------------------------------------------------------------------------
def test_check_output_refuses_the_wrong_kind_a_path_under_a_file_and_system_folders(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder").mkdir()
    assert check_output(tmp_path / "new" / "deeper" / "out.npz", "file") == tmp_path / "new" / "deeper" / "out.npz"
    assert check_output(tmp_path / "folder", "dir") == tmp_path / "folder"
    cases = [
        (tmp_path / "afile", "dir", "is a file, not a folder"),
        (tmp_path / "folder", "file", "is a folder, not a file"),
        (tmp_path / "afile" / "sub", "dir", "lies under .*afile, which is a file"),
        (tmp_path / "afile" / "a" / "b.npz", "file", "lies under .*afile, which is a file"),
        ("/proc/1/x", "dir", "under /proc, a system folder"),
        ("/sys/x.npz", "file", "under /sys, a system folder"),
        ("/dev/null", "file", "under /dev, a system folder"),
    ]
    for path, kind, message in cases:
        with pytest.raises(InterfaceGANError, match=message):
            check_output(path, kind)
    os.symlink("/dev/null", tmp_path / "link.npz")  # a link into /dev counts as /dev
    with pytest.raises(InterfaceGANError, match="under /dev"):
        check_output(tmp_path / "link.npz", "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder", "link.npz"]  # nothing was created


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
@pytest.mark.parametrize("command", ["sefa", "analyze"])
def test_a_read_only_output_folder_is_one_line_before_any_work(command, command_inputs, tmp_path):
    """A read-only mount refuses writes even to root (chmod does not): the command runs in a private mount namespace
    with a read-only tmpfs on its output's parent."""
    target = tmp_path / "ro"
    target.mkdir()
    argv = " ".join(f"'{a}'" for a in _commands(command_inputs, target / "out")[command])
    command = f'mount -t tmpfs -o ro tmpfs {target} && exec "$0" {argv}'
    done = subprocess.run(["unshare", "-m", "sh", "-c", command, cli_path()], capture_output=True, text=True)
    if done.returncode and "mount" in done.stderr:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: output {target / 'out'} cannot be written: {target} is "
                                                 "read-only for this process; choose another place"]  # fmt: skip


# ---- staged_dir and atomic_path -----------------------------------------------------------------------------------
def test_staged_dir_creates_the_folder_whole_and_merges_into_an_existing_one(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with staged_dir(out) as stage:
        (stage / "one.txt").write_text("1")
        (stage / "sub").mkdir()
        (stage / "sub" / "two.txt").write_text("2")
        assert not out.exists()  # nothing under the real name until the block ends
    assert _tree(tmp_path / "a") == {"b/out/one.txt": b"1", "b/out/sub/two.txt": b"2"}
    (out / "mine.txt").write_text("the user's")
    with staged_dir(out) as stage:
        (stage / "one.txt").write_text("new")
    assert _tree(out) == {"mine.txt": b"the user's", "one.txt": b"new", "sub/two.txt": b"2"}


def test_staged_dir_leaves_everything_as_it_was_on_failure(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with staged_dir(out) as stage:
            (stage / "grid.png").write_bytes(b"half")
            raise RuntimeError("refused midway")
    assert list(tmp_path.iterdir()) == []  # not even the parent folder
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep")
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(existing) as stage:
            (stage / "mine.txt").write_text("replaced?")
            raise KeyboardInterrupt
    assert _tree(existing) == {"mine.txt": b"keep"}


def test_staged_dir_refuses_a_file_where_a_folder_goes_before_moving_anything(tmp_path):
    (tmp_path / "inputs").write_text("a file named like the output's folder")
    with pytest.raises(InterfaceGANError, match="it is a file where a folder belongs"):
        with staged_dir(tmp_path) as stage:
            (stage / "codes.npy").write_bytes(b"codes")
            (stage / "inputs").mkdir()
            (stage / "inputs" / "0.png").write_bytes(b"png")
    assert _tree(tmp_path) == {"inputs": b"a file named like the output's folder"}


def test_atomic_path_creates_missing_folders_only_on_success(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "x" / "y" / "b.npz") as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError
    assert list(tmp_path.iterdir()) == []
    with atomic_path(tmp_path / "x" / "y" / "b.npz") as tmp:
        tmp.write_bytes(b"whole")
    assert _tree(tmp_path) == {"x/y/b.npz": b"whole"}


def test_save_edit_failing_midway_writes_nothing(tmp_path, monkeypatch, toy_generator):
    """The animation fails after the grid was rendered: neither file appears (the issue's `edit --fps 0` case)."""
    import interfacegan.editing.run as run_module
    from interfacegan.editing.run import EditRequest, edit_codes, save_edit

    request = EditRequest(Boundary(toy_generator.true_normal(0), model="toy"), steps=3)
    result = edit_codes(toy_generator, toy_generator.sample(2, seed=0), request)

    def broken(*args, **kwargs):
        raise InterfaceGANError("the encoder failed")

    monkeypatch.setattr(run_module, "save_animation", broken)
    with pytest.raises(InterfaceGANError, match="encoder failed"):
        save_edit(result, tmp_path / "edit")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    paths = save_edit(result, tmp_path / "edit", mp4=False)
    assert [p.name for p in paths] == ["grid.png", "edit.gif"] and all(p.is_file() for p in paths)


# ---- every command: refusals leave nothing behind ------------------------------------------------------------------
def _commands(inputs: Path, out: Path) -> dict[str, list]:
    """Each command of this sweep with `out` as its output (a folder, or a file where it writes one)."""
    run, b, face = inputs / "run", inputs / "b.npz", inputs / "face.png"
    return {
        "train-boundary": ["train-boundary", run, "--attribute", "attr0", "--ratio", "0.2", "--out", out],
        "edit": ["edit", run, "--boundary", b, "--num", "2", "--steps", "3", "--out", out],
        "sefa": ["sefa", "--model", "toy", "-k", "2", "--num", "2", "--steps", "3", "--out", out],
        "name-directions": ["name-directions", b, "--scorer", "toy", "--num", "4", "--out", out],
        "invert": ["invert", face, "--model", "toy", "--steps", "1", "--candidates", "2", "--out", out],
        "edit-image": ["edit-image", face, "--boundary", b, "--invert-steps", "1", "--candidates", "2", "--out", out],
        "train-encoder": ["train-encoder", "--model", "toy", "--steps", "1", "--width", "4", "--out", out],
        "train-translator": ["train-translator", "--boundary", b, "--num", "2", "--steps", "1", "--out", out],
        "translate": ["translate", face, "--translator", inputs / "no-translator.pt", "--out", out],
        "analyze": ["analyze", "rescore", run, "--ratio", "0.2", "--num", "40", "--quiet", "--out", out],
    }


FOLDER_OUTPUTS = ("train-boundary", "edit", "sefa", "invert", "edit-image", "translate", "analyze")


@pytest.mark.parametrize("command", list(_commands(Path("."), Path("."))))
def test_output_paths_that_cannot_be_written_are_refused_first(command, command_inputs, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere" / "x")  # a link to nothing: written through, it made
    wrong_kind = tmp_path / ("afile" if command in FOLDER_OUTPUTS else "folder")  # folders where it pointed, or a
    expected = "is a file, not a folder" if command in FOLDER_OUTPUTS else "is a folder, not a file"  # traceback
    dangling = f"is a link to {tmp_path / 'nowhere' / 'x'}, which does not exist"
    for out, message in [(wrong_kind, expected), (tmp_path / "afile" / "x.pt", "lies under"),
                         ("/proc/1/x.pt", "under /proc, a system folder"), (tmp_path / "gone", dangling),
                         (tmp_path / "gone" / "x.pt", dangling)]:  # fmt: skip
        err = cli_error(monkeypatch, capsys, *_commands(command_inputs, Path(out))[command])
        assert message in err, err
    assert _tree(tmp_path) == {"afile": b"x"} and (tmp_path / "folder").is_dir()
    assert not (tmp_path / "nowhere").exists()


REFUSALS = [  # (command, extra options that make it refuse late, the refusal)
    ("edit", ["--fps", "0"], "fps must be in (0, 1000], got 0"),
    ("edit", ["--fps", "nan"], "fps must be a finite number"),
    ("edit", ["--scale", "0"], "scale must be in [1, 64]"),
    ("sefa", ["--name-with", "foo"], "unknown scorer 'foo'"),
    ("sefa", ["--name-with", "toy", "--name-num", "1"], "num must be >= 2"),
    ("sefa", ["-k", "99"], "k must be between 1 and the latent dimension 16"),
    ("train-boundary", ["--seed", "-1"], "seed must be a whole number from 0 to 2**63 - 1, got -1"),
    ("name-directions", ["--alpha", "nan"], "alpha must be a finite number"),
    ("invert", ["--scale", "0"], "scale must be in [1, 64]"),
    ("edit-image", ["--fps", "0"], "fps must be in (0, 1000]"),
    ("edit-image", ["--lr", "nan"], "lr must be a finite number"),
    ("train-encoder", ["--image-weight", "nan"], "--image-weight must be a finite number"),
    ("train-translator", ["--lr", "inf"], "lr must be a finite number"),
    ("translate", ["--scale", "0"], "scale must be in [1, 64]"),
    ("analyze", ["--condition", "attr0|nope"], "condition 'attr0|nope' names nope without a boundary"),
    ("analyze", ["--attribute", "nope"], "has no scores ['nope']"),
    ("analyze", ["--scorer", "nope"], "unknown scorer 'nope'"),
    ("analyze", ["--sweep", "1,nan"], "sweep must be a finite number"),
    ("analyze", ["--layer-group", "9"], "layer(s) 9 out of range"),
    ("analyze", ["--executor", "nope"], "unknown executor 'nope'"),
    ("analyze", ["--gpus-per-worker", "1"], "--ray-address and --gpus-per-worker need --executor ray"),
]


@pytest.mark.parametrize("command,extra,message", REFUSALS)
def test_a_refused_command_leaves_nothing_behind(command, extra, message, command_inputs, tmp_path, monkeypatch,
                                                  capsys):  # fmt: skip
    out = tmp_path / "new" / ("out" if command in FOLDER_OUTPUTS else "out.pt")
    if command == "name-directions":
        out = out.with_suffix(".json")
    err = cli_error(monkeypatch, capsys, *_commands(command_inputs, out)[command], *extra)
    assert message in err, err
    assert list(tmp_path.iterdir()) == []


def test_analyze_writes_every_file_or_none_and_reruns_into_the_same_folder(command_inputs, tmp_path, monkeypatch,
                                                                          capsys):  # fmt: skip
    """An analysis failing midway (after tables were written) leaves an existing --out as it was; a rerun into it
    replaces the files of the same name and keeps the user's other files."""
    from interfacegan.analysis.steps.rescore import Rescoring
    from interfacegan.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    real_run = Rescoring.run

    def fails_midway(self, ctx, writer):
        real_run(self, ctx, writer)  # every table and plot written (into the stage)
        raise InterfaceGANError("the scorer failed")

    monkeypatch.setattr(Rescoring, "run", fails_midway)
    assert "the scorer failed" in cli_error(monkeypatch, capsys, *_commands(command_inputs, out)["analyze"])
    assert _tree(tmp_path) == {"out/notes.txt": b"mine"}
    monkeypatch.undo()
    for _ in range(2):
        monkeypatch.setattr("sys.argv", ["interfacegan", *map(str, _commands(command_inputs, out)["analyze"])])
        main()  # returns (no SystemExit) when the command succeeds
    files = _tree(out)
    assert files["notes.txt"] == b"mine" and "rescoring_z.csv" in files and "report.html" in files
    assert not [name for name in files if "partial" in name]
    assert "boundaries/attr0_z.npz" in files and b"rescoring_z.csv" in files["analysis.json"]


def test_train_boundary_writes_every_boundary_or_none_and_keeps_other_files(command_inputs, tmp_path):
    from interfacegan.learning import train_boundaries
    from interfacegan.store import SampleStore

    store = SampleStore.open(command_inputs / "run", mode="r")
    out = tmp_path / "boundaries"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InterfaceGANError, match="no scores"):  # the second attribute is missing: nothing is written
        train_boundaries(store, ["attr0", "nope"], out=out, ratio=0.2)
    assert _tree(out) == {"notes.txt": b"mine"}
    train_boundaries(store, ["attr0", "attr1"], out=out, official=True, ratio=0.2)
    assert sorted(_tree(out)) == ["attr0_z.npy", "attr0_z.npz", "attr1_z.npy", "attr1_z.npz", "notes.txt"]
    assert np.load(out / "attr1_z.npy").shape == (1, 16)
