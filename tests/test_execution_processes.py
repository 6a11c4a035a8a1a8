"""Worker processes (`processes`, and `auto` for image scorers): the same store as the local executor bit for bit,
each worker set up once per job, chunks kept on the same worker across runs, one-line errors, and a fallback
to this process when workers cannot set a job up."""

from __future__ import annotations

import os

import numpy as np
import pytest

from interfacegan.errors import InterfaceGANError
from interfacegan.execution import load_executor, processes
from interfacegan.execution.local import LocalExecutor
from interfacegan.execution.processes import AutoExecutor, ProcessExecutor, wants_processes
from interfacegan.sampling import sample_to_store
from interfacegan.scoring.run import ScoreJob, score_store
from interfacegan.scoring.toy import ToyScorer
from interfacegan.store import SampleStore
from tests.process_jobs import ROWS, RowsJob


@pytest.fixture(scope="module")
def workers():
    """Two worker processes shared by this module's tests (each start costs about a second)."""
    with ProcessExecutor(workers=2) as engine:
        yield engine


def _rows_store(path, num=400, chunk_rows=100) -> SampleStore:
    store = SampleStore.create(path, num, {"model": "toy"}, chunk_rows=chunk_rows)
    for name in ROWS:
        store.ensure_array(name, (), "float32")
    return store


def test_workers_fill_the_same_store_as_the_local_executor(tmp_path, toy_generator, workers):
    kwargs = dict(num=600, seed=4, spaces=["w"], save_images=True, chunk_rows=100, progress=False)
    local = sample_to_store(toy_generator, tmp_path / "local", executor=LocalExecutor(), **kwargs)
    seen = []
    other = sample_to_store(toy_generator, tmp_path / "other", executor=workers,
                            **{**kwargs, "progress": lambda *a: seen.append(a[1])})  # fmt: skip
    for name in ("codes/z", "codes/w", "images"):
        np.testing.assert_array_equal(local.array(name)[:], other.array(name)[:], err_msg=name)
    assert sorted(seen)[-1] == 600 and len(seen) == 6  # progress per chunk, reported in this process
    score_store(local, ToyScorer(), executor="local", progress=False)
    score_store(other, ToyScorer(), executor=workers, progress=False)  # workers load the run's model by its spec
    for name in local.score_names:
        np.testing.assert_array_equal(local.scores([name])[name], other.scores([name])[name], err_msg=name)


def test_a_model_built_in_python_travels_to_the_workers_whole(tmp_path, workers):
    """A generator that `load_model` cannot rebuild (here a toy with other settings than the registered one) has
    no spec, so the workers get the model itself instead of reloading another one by its name."""
    from interfacegan.models import ToyGenerator

    custom = ToyGenerator(z_dim=6, num_attributes=2, seed=9)
    assert custom.spec == "" and ToyGenerator().spec == "toy"
    kwargs = dict(num=300, seed=1, spaces=["w"], save_images=True, chunk_rows=100, progress=False)
    local = sample_to_store(custom, tmp_path / "local", executor=LocalExecutor(), **kwargs)
    other = sample_to_store(custom, tmp_path / "other", executor=workers, **kwargs)
    for name in ("codes/z", "codes/w", "images"):
        np.testing.assert_array_equal(local.array(name)[:], other.array(name)[:], err_msg=name)


def test_each_worker_sets_a_job_up_once_and_keeps_its_chunks_across_runs(tmp_path, workers):
    store = _rows_store(tmp_path / "rows")
    workers.run(store, RowsJob(), range(4))
    np.testing.assert_array_equal(store.array("scores/rows")[:], np.arange(400))
    pids = store.array("scores/pid")[:]
    assert len(set(pids)) == 2 and os.getpid() not in set(pids)  # two worker processes, not this one
    assert set(store.array("scores/setups")[:]) == {1}  # set up once per worker, not per chunk
    assert workers.placement == {0: 0, 1: 1, 2: 0, 3: 1}  # chunk k on worker k % 2
    again = _rows_store(tmp_path / "again")
    workers.run(again, RowsJob(task="again"), range(4))  # a second job (e.g. the next scorer): same workers
    np.testing.assert_array_equal(again.array("scores/pid")[:], pids)
    results = {}
    workers.map(RowsJob(), [(0, 50), (50, 120)], lambda a, b, arrays: results.update({(a, b): arrays["scores/rows"]}))
    np.testing.assert_array_equal(results[(50, 120)], np.arange(50, 120))


def test_embedded_faces_score_the_same_on_workers(tmp_path, embedded_gan, workers):
    """face, gender and age on worker processes: the local executor's scores exactly (NaN where it has NaN)."""
    run = sample_to_store(embedded_gan, tmp_path / "run", num=64, seed=2, chunk_rows=16, progress=False)
    for name in ("face", "gender", "age"):
        score_store(run, name, model=embedded_gan, executor="local", prefix="local_", progress=False)
        score_store(run, name, model=embedded_gan, executor=workers, progress=False)
    for name in [n for n in run.score_names if not n.startswith("local_")]:
        expected = run.scores([f"local_{name}"])[f"local_{name}"]
        np.testing.assert_array_equal(run.scores([name])[name], expected, err_msg=name)


def test_a_failing_chunk_raises_its_one_line_and_keeps_the_chunks_written(tmp_path):
    store = _rows_store(tmp_path / "rows")
    with ProcessExecutor(workers=2) as engine:
        with pytest.raises(InterfaceGANError, match="^row block 200 is bad: fix it$"):
            engine.run(store, RowsJob(fail_at=200), range(4))
        assert not store.done_chunks("rows")[2]
        LocalExecutor().run(store, RowsJob(), store.pending_chunks("rows"))  # a rerun resumes
        np.testing.assert_array_equal(store.array("scores/rows")[:], np.arange(400))
        with pytest.raises(InterfaceGANError, match=r"worker process \d+ ended \(exit code 3\) while computing "
                                                    r"chunk\(s\) 1\b.*run the command again to resume"):  # fmt: skip
            engine.run(_rows_store(tmp_path / "dies"), RowsJob(exit_at=100, parent=os.getpid()), range(4))


def test_auto_runs_image_scorers_on_workers_and_falls_back_here(tmp_path, toy_generator, monkeypatch):
    store = sample_to_store(toy_generator, tmp_path / "run", num=300, seed=0, chunk_rows=100, progress=False)
    image_job = ScoreJob("score-toy", store, ToyScorer(), {})
    labels = ScoreJob("score-csv", store, type("Labels", (ToyScorer,), {"needs_images": False})(), {})
    monkeypatch.setattr(processes, "thread_count", lambda: 2)
    assert wants_processes(image_job, rows=4096, blocks=4)
    assert not wants_processes(image_job, rows=1000, blocks=4)  # too little work to pay for starting workers
    assert not wants_processes(image_job, rows=4096, blocks=1)
    assert not wants_processes(labels, rows=4096, blocks=4)  # no images: nothing holds the GIL
    monkeypatch.setattr(processes, "thread_count", lambda: 1)
    assert not wants_processes(image_job, rows=4096, blocks=4)
    assert isinstance(load_executor("auto"), AutoExecutor) and isinstance(load_executor("processes"), ProcessExecutor)

    monkeypatch.setattr(processes, "thread_count", lambda: 2)
    monkeypatch.setattr(processes, "MIN_PROCESS_ROWS", 1)
    rows = _rows_store(tmp_path / "rows")
    engine = AutoExecutor()
    engine.run(rows, RowsJob(setup_fails_in_workers=True, parent=os.getpid()), range(4))
    assert set(rows.array("scores/pid")[:]) == {os.getpid()}  # the workers could not build it: done here
    np.testing.assert_array_equal(rows.array("scores/rows")[:], np.arange(400))
    mapped = {}
    engine.map(RowsJob(setup_fails_in_workers=True, parent=os.getpid()), [(0, 50), (50, 120)],
               lambda start, stop, arrays: mapped.update({start: arrays}))  # fmt: skip
    assert sorted(mapped) == [0, 50] and {int(a["scores/pid"][0]) for a in mapped.values()} == {os.getpid()}
    np.testing.assert_array_equal(mapped[50]["scores/rows"], np.arange(50, 120))
    engine.close()


def test_a_script_without_a_main_guard_runs_workers(tmp_path):
    """Workers are fresh interpreters running the executor's own module: the caller's script is never imported in
    them, so a plain script (no `if __name__ == "__main__"`) works, as it does with the local executor."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "plain.py"
    script.write_text(
        "from interfacegan.execution.processes import ProcessExecutor\n"
        "from interfacegan.store import SampleStore\n"
        "from tests.process_jobs import ROWS, RowsJob\n"
        f"store = SampleStore.create({str(tmp_path / 'rows')!r}, 200, {{'model': 'toy'}}, chunk_rows=100)\n"
        "for name in ROWS:\n    store.ensure_array(name, (), 'float32')\n"
        "with ProcessExecutor(workers=2) as engine:\n    engine.run(store, RowsJob(), range(2))\n"
        "print(sorted(set(store.array('scores/rows')[:].astype(int)))[-1])\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=root,
                          env={**os.environ, "PYTHONPATH": root})  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "199", done.stderr[-2000:]


def test_a_worker_whose_parent_was_killed_ends_quietly():
    """Probe: after `kill -9` of `score`, its workers printed BrokenPipeError tracebacks onto the terminal when they
    sent their chunk. Here the parent's end is closed right after sending a job and a chunk."""
    import pickle
    import socket
    import subprocess
    import sys
    from multiprocessing.connection import Connection

    ours, theirs = socket.socketpair()
    worker = subprocess.Popen([sys.executable, "-m", processes.WORKER_MODULE, str(theirs.fileno())],
                              pass_fds=(theirs.fileno(),), stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})  # fmt: skip
    theirs.close()
    conn = Connection(ours.detach())
    conn.send(("job", "rows", pickle.dumps(RowsJob())))
    conn.send(("chunk", "rows", 0, 0, 4))
    conn.close()  # the parent is gone before the worker answers
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0 and "Traceback" not in err, err


def test_sefa_names_are_measured_on_the_workers(toy_generator, workers):
    """Naming directions by re-scoring (the SeFa analyses under `analyze --executor processes|ray`) runs its blocks
    on the engine it is given, with the same names and changes as local threads, in two jobs per code space (the
    unedited scores, then every direction's edit), so the workers load the model twice, not once per direction."""
    from interfacegan.directions.sefa import sefa_boundaries
    from interfacegan.rescoring.naming import name_directions

    directions = sefa_boundaries(toy_generator, 3)
    local = name_directions(toy_generator, directions, ["toy"])
    workers.placement, jobs = {}, workers._jobs
    remote = name_directions(toy_generator, directions, ["toy"], executor=workers)
    assert workers.placement and workers._jobs - jobs == 2  # the edits' block was computed by a worker
    np.testing.assert_equal([n.as_dict() for n in remote], [n.as_dict() for n in local])
    assert {n.label for n in local} == {"", "+attr0", "+attr2"}
