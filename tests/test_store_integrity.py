"""Stores never lie (issue 11): one set of arguments claims a store atomically, concurrent writers never crash, a kill
between any two writes leaves a folder the same command resumes, and a missing or damaged chunk or metadata file is
one line naming it and its repair, never NaN."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from zarr.storage import LocalStore

from interfacegan.editing.codes import run_codes
from interfacegan.errors import InterfaceGANError
from interfacegan.interop import export_official
from interfacegan.sampling import SAMPLE_TASK, sample_to_store
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer
from interfacegan.store import SampleStore
from tests.helpers import cli_error, cli_path

RUN = dict(num=600, chunk_rows=100, progress=False)


def _together(*calls):
    """Run the calls in threads released at the same instant; {index: 'ok' or the exception}."""
    barrier, results = threading.Barrier(len(calls)), {}

    def run(i, call):
        barrier.wait()
        try:
            call()
            results[i] = "ok"
        except Exception as exc:  # noqa: BLE001  (the test inspects what each writer got)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_of_two_writers_with_different_seeds_exactly_one_proceeds(tmp_path, toy_generator):
    """Before: both said complete while the store held one seed's data, or one crashed (ContainsArrayError)."""
    for round_ in range(6):
        out = tmp_path / f"run{round_}"
        results = _together(*[lambda s=s: sample_to_store(toy_generator, out, seed=s, **RUN) for s in (1, 2)])
        assert sorted(r == "ok" for r in results.values()) == [False, True], results
        loser = next(r for r in results.values() if r != "ok")
        assert isinstance(loser, InterfaceGANError) and "made with other arguments: seed" in str(loser)
        store = SampleStore.open(out)
        np.testing.assert_array_equal(store.codes("z"), toy_generator.sample(600, seed=store.meta["seed"]))


def test_concurrent_shard_workers_never_crash_and_fill_one_store(tmp_path, toy_generator):
    """Before: two `--shard` workers started together crashed one worker in 2 of 5 races."""
    for round_ in range(4):
        out = tmp_path / f"run{round_}"
        calls = [lambda i=i: sample_to_store(toy_generator, out, seed=4, shard=(i, 2), save_images=True, **RUN)
                 for i in range(2)]  # fmt: skip
        assert set(_together(*calls).values()) == {"ok"}
        store = SampleStore.open(out)
        assert store.is_complete(SAMPLE_TASK)
        np.testing.assert_array_equal(store.codes("z"), toy_generator.sample(600, seed=4))


def test_two_sample_commands_racing_one_line_for_the_loser(tmp_path):
    out = tmp_path / "run"
    procs = [subprocess.Popen([cli_path(), "sample", "--model", "toy", "--num", "300", "--seed", str(seed), "--out",
                               str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]  # fmt: skip
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in outcomes) == [0, 2], outcomes
    _, said, _ = next(o for o in outcomes if o[0] == 0)
    _, _, err = next(o for o in outcomes if o[0] == 2)
    assert "complete" in said
    assert "made with other arguments" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


class RecordingStore(LocalStore):
    """A LocalStore that records every key it writes, in order, with the bytes written."""

    writes: list = []

    async def set(self, key, value):
        RecordingStore.writes.append((key, value.to_bytes()))
        await super().set(key, value)

    async def set_if_not_exists(self, key, value):
        if not await self.exists(key):
            RecordingStore.writes.append((key, value.to_bytes()))
        await super().set_if_not_exists(key, value)


def test_a_kill_between_any_two_writes_leaves_a_folder_the_same_command_resumes(tmp_path, toy_generator, monkeypatch):
    """Every key is written whole (temp file + rename), so a kill -9 leaves the keys written so far plus stray
    temporary files. Replay every prefix of a real run's writes, including those that create the store: the same
    command resumes each one to the uninterrupted run's content (before: a kill between creating the group and
    writing its metadata made every rerun refuse)."""
    import interfacegan.storage as storage

    kwargs = dict(num=250, seed=3, chunk_rows=100, save_images=True, spaces=["w"], progress=False)
    reference = sample_to_store(toy_generator, tmp_path / "reference", **kwargs)
    RecordingStore.writes = []
    monkeypatch.setattr(storage, "LocalStore", RecordingStore)
    sample_to_store(toy_generator, tmp_path / "recorded", **kwargs)
    monkeypatch.undo()
    writes = RecordingStore.writes
    assert writes[0][0] == "zarr.json" and len(writes) > 12  # the claim comes first, then arrays, chunks, flags
    for cut in range(len(writes)):
        out = tmp_path / f"cut{cut}"
        out.mkdir()
        for key, data in writes[:cut]:
            (out / key).parent.mkdir(parents=True, exist_ok=True)
            (out / key).write_bytes(data)
        stray = out / writes[cut][0]
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.with_name(stray.name + ".0123abcd.partial").write_bytes(writes[cut][1][:7])  # the write killed midway
        resumed = sample_to_store(toy_generator, out, **kwargs)
        for name in ("codes/z", "codes/w", "images"):
            np.testing.assert_array_equal(resumed.array(name)[:], reference.array(name)[:], err_msg=f"cut {cut}")
        shutil.rmtree(out)


def test_a_deleted_codes_chunk_is_an_error_naming_it_and_a_rerun_refills_it(tmp_path, toy_generator, monkeypatch,
                                                                            capsys):  # fmt: skip
    """Before: it read as NaN (black rows in `edit`, NaN in `export-official`) and a `sample` rerun said complete."""
    store = sample_to_store(toy_generator, tmp_path / "run", seed=1, **RUN)
    (tmp_path / "run" / "codes" / "z" / "c" / "2" / "0").unlink()
    with pytest.raises(InterfaceGANError) as exc:
        store.codes("z")
    message = str(exc.value)
    assert "codes/z/c/2/0 (rows 200-299 of codes/z) is missing" in message
    assert "run the same `interfacegan sample` command again" in message
    with pytest.raises(InterfaceGANError, match="rows 200-299 of codes/z"):
        run_codes(store, toy_generator, "w", slice(150, 250))  # what `edit` reads (no black rows)
    with pytest.raises(InterfaceGANError, match="rows 200-299 of codes/z"):
        export_official(store, tmp_path / "official")
    assert not list((tmp_path / "official").glob("*.npy"))  # nothing half-written
    err = cli_error(monkeypatch, capsys, "export-official", tmp_path / "run", "--out", tmp_path / "official")
    assert "codes/z/c/2/0" in err and "is missing" in err

    resumed = sample_to_store(toy_generator, tmp_path / "run", seed=1, **RUN)
    np.testing.assert_array_equal(resumed.codes("z"), toy_generator.sample(600, seed=1))


def test_a_deleted_score_chunk_is_refilled_by_a_score_rerun(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", seed=1, **RUN)
    score_store(store, ToyScorer(), model=toy_generator, progress=False)
    expected = store.scores()
    (tmp_path / "run" / "scores" / "attr1" / "c" / "4").unlink()
    with pytest.raises(InterfaceGANError, match=r"rows 400-499 of scores/attr1\) is missing: run `interfacegan score"):
        store.scores(["attr1"])
    assert store.missing_chunks("score-toy", ["scores/attr0", "scores/attr1"]) == [4]
    score_store(store, ToyScorer(), model=toy_generator, progress=False)
    np.testing.assert_array_equal(store.scores()["attr1"], expected["attr1"])


def test_a_chunk_of_fill_values_is_written_so_no_file_always_means_not_written(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", seed=1, **RUN)
    store.ensure_array("scores/blank", (), "float32", attrs={"scorer": "labels", "version": "1"})
    store.write_chunk("score-labels", 1, 100, {"scores/blank": np.full(100, np.nan, np.float32)})  # an all-NaN chunk
    assert (tmp_path / "run" / "scores" / "blank" / "c" / "1").is_file()
    assert np.isnan(store.scores(["blank"], rows=slice(100, 200))["blank"]).all()
    with pytest.raises(InterfaceGANError, match="rows 0-99 of scores/blank"):  # never written: an error, not NaN
        store.scores(["blank"])


DAMAGE = {"truncated": lambda data: data[: len(data) // 2], "garbage": lambda data: b"\x13garbage" * 9,
          "empty": lambda data: b""}  # fmt: skip
FILES = {  # file -> what the message names
    "zarr.json": "run/zarr.json is damaged",
    "codes/z/zarr.json": "run/codes/z/zarr.json is damaged",
    "codes/z/c/1/0": "codes/z/c/1/0 (rows 100-199 of codes/z) is damaged",
    "images/c/1/0/0/0": "images/c/1/0/0/0 (rows 100-199 of images) is damaged",
    "scores/attr0/c/1": "scores/attr0/c/1 (rows 100-199 of scores/attr0) is damaged",
    "scores/attr0/zarr.json": "run/scores/attr0/zarr.json is damaged",
    "progress/sample/c/1": "progress/sample/c/1 (the flag of chunk 1 of progress/sample) is damaged",
    "progress/sample/zarr.json": "run/progress/sample/zarr.json is damaged",
}


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    from interfacegan.models import ToyGenerator

    model = ToyGenerator(z_dim=16, num_attributes=3, seed=0)
    path = tmp_path_factory.mktemp("damage") / "run"
    store = sample_to_store(model, path, num=300, seed=1, chunk_rows=100, save_images=True, progress=False)
    score_store(store, ToyScorer(), model=model, progress=False)
    return path


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", sorted(FILES))
def test_damaged_chunks_and_metadata_are_one_line_naming_the_file(tmp_path, scored_run, name, damage):
    """Issue 11 item 6: truncated, garbage or empty chunks and metadata gave tracebacks (or decoded to wrong values:
    chunks carry a CRC32C checksum)."""
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    (run / name).write_bytes(DAMAGE[damage]((run / name).read_bytes()))
    with pytest.raises(InterfaceGANError) as exc:
        store = SampleStore.open(run)
        store.done_chunks(SAMPLE_TASK)
        store.codes("z"), store.images(slice(None)), store.scores()
    message = str(exc.value)
    assert FILES[name] in message and len(message.splitlines()) == 1 and len(message) < 600, message


SPECIAL = {  # a chunk file replaced by an entry that is not a regular file -> how the message names it
    "a link to /dev/zero": (lambda path: path.symlink_to("/dev/zero"), "a device"),  # read forever: killed for memory
    "a named pipe": (lambda path: os.mkfifo(path), "a pipe"),  # blocked the reader for good
    "a folder": (lambda path: path.mkdir(), "a folder"),
}


@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_chunk_files_that_are_not_regular_files_are_damaged_chunks_never_read(tmp_path, scored_run, case):
    """Probes: a codes chunk linked to /dev/zero was read until the process was killed for memory, a named pipe hung
    `edit`, and a `sample` rerun over a folder where a chunk goes was an IsADirectoryError traceback."""
    make, kind = SPECIAL[case]
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    chunk = run / "codes" / "z" / "c" / "1" / "0"
    chunk.unlink()
    make(chunk)
    with pytest.raises(InterfaceGANError) as exc:
        SampleStore.open(run).codes("z")
    message = str(exc.value)
    assert f"codes/z/c/1/0 (rows 100-199 of codes/z) is damaged (OSError: not a regular file but {kind})" in message
    assert len(message.splitlines()) == 1 and "delete it, then run the same `interfacegan sample`" in message
    if case == "a folder":  # the rerun the message asks for, before deleting it: one line naming the folder
        from interfacegan.models import ToyGenerator

        with pytest.raises(InterfaceGANError, match=r"cannot write rows 100-199 of .*codes/z \(Is a directory: .*c/1/0\)"):
            sample_to_store(ToyGenerator(z_dim=16, num_attributes=3, seed=0), run, num=300, seed=1, chunk_rows=100,
                            save_images=True, progress=False)


TAMPERED = {  # (zarr.json, its change, the array read) -> what the message names
    "codes of another width": ("codes/z", lambda doc: doc.update(shape=[300, 15]), "codes/z/zarr.json is damaged"),
    "scores of another length": ("scores/attr0", lambda doc: doc.update(shape=[301]),
                                 "scores/attr0/zarr.json is damaged"),
    "codes in other chunks": ("codes/z", lambda doc: doc["chunk_grid"]["configuration"].update(chunk_shape=[50, 16]),
                              "shape (300, 16) in chunks of (50,) rows, the run expects (300, 16) in chunks of 100"),
    "score attributes that are a list": ("scores/attr0", lambda doc: doc.update(attributes=[1, 2]),
                                         "scores/attr0/zarr.json is damaged (ValueError: its attributes are list"),
    "codes read big-endian": ("codes/z", lambda doc: doc["codecs"][0].update(configuration={"endian": "big"}),
                              "codecs bytes/big -> zstd -> crc32c, the run writes bytes (little-endian)"),
    "codes transposed": ("codes/z", lambda doc: doc["codecs"].insert(0, {"name": "transpose",
                                                                         "configuration": {"order": [1, 0]}}),
                         "codecs transpose -> bytes -> zstd -> crc32c, the run writes"),
    "a num of 10**30": ("", lambda doc: doc["attributes"]["interfacegan"].update(num=10**30),
                        "'num' is 1000000000000000000000000000000, expected an integer in [1, 2**40]"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_array_metadata_is_one_line_never_other_rows(tmp_path, scored_run, case):
    """Probes: a zarr.json declaring another shape or chunking than the run read other rows or columns silently
    (export-official wrote 15-d codes of a 16-d model); a huge num was an IndexError traceback or a hang, and so
    were array attributes that are a JSON list."""
    import json

    folder, change, expected = TAMPERED[case]
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    document = json.loads((run / folder / "zarr.json").read_text())
    change(document)
    (run / folder / "zarr.json").write_text(json.dumps(document))
    with pytest.raises(InterfaceGANError) as exc:
        store = SampleStore.open(run)
        store.codes("z"), store.scores()
    assert expected in str(exc.value) and len(str(exc.value).splitlines()) == 1, exc.value


def test_info_of_a_run_without_a_model_name_is_not_a_traceback(tmp_path, scored_run):
    import json

    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    document = json.loads((run / "zarr.json").read_text())
    del document["attributes"]["interfacegan"]["model"]
    (run / "zarr.json").write_text(json.dumps(document))
    wide = {**os.environ, "COLUMNS": "300"}
    shown = subprocess.run([cli_path(), "info", str(run)], capture_output=True, text=True, env=wide)
    assert shown.returncode == 0 and "300 samples of an unnamed model" in shown.stdout, shown.stderr


def test_cli_reports_a_damaged_chunk_in_one_line(tmp_path, scored_run, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    (run / "scores" / "attr2" / "c" / "0").write_bytes(b"rubbish")
    err = cli_error(monkeypatch, capsys, "export-official", run, "--out", tmp_path / "out")
    assert "scores/attr2/c/0 (rows 0-99 of scores/attr2) is damaged" in err and "delete it, then run" in err


def test_words_a_run_holds_are_printed_as_one_plain_line(tmp_path, scored_run, monkeypatch, capsys):
    """Probe: a scorer name holding a newline and terminal escapes, quoted in the repair hint of a missing chunk,
    split the one-line error and drove the terminal (a fake second line in red); `info` cleared the screen."""
    import json

    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    for document, change in ((run / "scores" / "attr0" / "zarr.json", lambda d: d["attributes"].update(scorer="toy\n\x1b[2JFAKE")),
                             (run / "zarr.json", lambda d: d["attributes"]["interfacegan"].update(model="toy\x1b[31m\nX"))):  # fmt: skip
        doc = json.loads(document.read_text())
        change(doc)
        document.write_text(json.dumps(doc))
    (run / "scores" / "attr0" / "c" / "1").unlink()
    err = cli_error(monkeypatch, capsys, "export-official", run, "--out", tmp_path / "out")  # asserts one line
    assert "--scorer toy\\n\\x1b[2JFAKE` again" in err and "\x1b" not in err
    monkeypatch.setattr(sys, "argv", ["interfacegan", "info", str(run)])
    from interfacegan.cli import main

    main()
    shown = " ".join(capsys.readouterr().out.split())  # joined: the console wraps long lines
    assert "samples of toy\\x1b[31m\\nX (seed 1)" in shown and "\x1b" not in shown
