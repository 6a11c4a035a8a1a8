"""The executor seam: jobs pickle small and rebuild their models, any engine that honours the contract (chunks in
any order, in other processes) fills a store identical to the local one, progress arrives as a callback, blocks can
come back to the caller (`map`); shards from launchers; Ray is imported only when asked for (tests/test_distributed.py
runs it)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from interfacegan.errors import InterfaceGANError
from interfacegan.execution import Executor, load_executor, run_chunk
from interfacegan.execution.local import LocalExecutor
from interfacegan.models import Truncation, load_model
from interfacegan.sampling import SAMPLE_TASK, SampleJob, sample_to_store
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer
from interfacegan.store import SampleStore
from tests.helpers import cli_error


class PickledReversedExecutor(Executor):
    """What a distributed engine does, in one process: every chunk runs from a pickled copy of the job (a fresh
    'worker' that must rebuild its models) against the store opened by path, last chunk first."""

    name = "pickled-reversed"

    def __init__(self):
        self.payload_bytes = 0
        self.worker_jobs = []

    def run(self, store, job, chunks, on_chunk=None):
        payload = pickle.dumps(job)
        self.payload_bytes = len(payload)
        for k in reversed(list(chunks)):
            worker_job = pickle.loads(payload)
            self.worker_jobs.append(worker_job)
            start, stop = run_chunk(SampleStore.open(store.path), worker_job, k)
            if on_chunk is not None:
                on_chunk(k, start, stop)


def _assert_same_store(a: SampleStore, b: SampleStore, names):
    for name in names:
        np.testing.assert_array_equal(a.array(name)[:], b.array(name)[:], err_msg=name)


def test_a_sample_job_pickles_without_its_model_and_rebuilds_it(toy_generator):
    job = SampleJob("toy", seed=3, spaces=("z", "w"), truncation=Truncation(0.7), image_size=8, batch_size=16,
                    model=toy_generator)  # fmt: skip
    copy = pickle.loads(pickle.dumps(job))
    assert copy.model is None and job.model is toy_generator  # the loaded model stays here
    copy.setup()
    for name, values in job.compute(100, 164).items():
        np.testing.assert_array_equal(copy.compute(100, 164)[name], values, err_msg=name)


def test_another_engine_fills_the_same_store_as_the_local_one(tmp_path, toy_generator):
    """Sampling and scoring run unchanged on an engine that pickles jobs and reorders chunks: same arrays, bit for
    bit, every chunk flagged, progress reported per chunk."""
    kwargs = dict(num=700, seed=5, spaces=["w", "wp"], save_images=True, chunk_rows=128, progress=False)
    local = sample_to_store(toy_generator, tmp_path / "local", executor=LocalExecutor(), **kwargs)
    engine = PickledReversedExecutor()
    seen = []
    remote = sample_to_store(toy_generator, tmp_path / "remote", executor=engine,
                             **{**kwargs, "progress": lambda *a: seen.append(a)})  # fmt: skip
    assert engine.payload_bytes < 2000  # settings and a spec, not the generator
    assert remote.is_complete(SAMPLE_TASK)
    _assert_same_store(local, remote, ["codes/z", "codes/w", "codes/wp", "images"])
    assert [done for _, done, _ in seen] == [60, 188, 316, 444, 572, 700]  # the last chunk (60 rows) came first
    assert {(what, total) for what, _, total in seen} == {("sampling", 700)}

    score_store(local, ToyScorer(), model=toy_generator, progress=False)
    score_store(remote, ToyScorer(), progress=False, executor=PickledReversedExecutor())  # the run's model, rebuilt
    _assert_same_store(local, remote, [f"scores/{n}" for n in local.score_names])


def test_progress_callback_counts_rows_done_before_a_resume(tmp_path, toy_generator):
    sample_to_store(toy_generator, tmp_path / "run", num=1000, seed=1, chunk_rows=100, shard=(0, 2), progress=False)
    seen = []
    sample_to_store(toy_generator, tmp_path / "run", num=1000, seed=1, chunk_rows=100,
                    progress=lambda *a: seen.append(a))  # fmt: skip
    assert seen[0] == ("sampling", 600, 1000) and seen[-1] == ("sampling", 1000, 1000) and len(seen) == 5


def test_executors_are_looked_up_by_name():
    assert isinstance(load_executor(None), LocalExecutor) and isinstance(load_executor("local"), LocalExecutor)
    engine = PickledReversedExecutor()
    assert load_executor(engine) is engine
    with pytest.raises(InterfaceGANError, match="unknown executor 'spark': use one of .*local"):
        load_executor("spark")


class ClosingExecutor(PickledReversedExecutor):
    """An engine that counts its `close` calls (what stops Ray actors or worker processes)."""

    def __init__(self):
        super().__init__()
        self.closed = 0

    def close(self):
        self.closed += 1


def test_an_engine_built_from_a_name_is_closed_when_its_work_is_done(tmp_path, toy_generator, monkeypatch):
    """`run_job` (sampling, scoring) and `map_blocks` (re-scoring) both close an engine they built from a name, even
    when nothing is left to do, and leave one given as an instance open for its owner's next runs."""
    import interfacegan.execution as execution
    from interfacegan.execution.base import map_blocks

    built, real = [], execution.load_executor

    def load(spec=None, **options):
        if spec != "counted":
            return real(spec, **options)
        built.append(ClosingExecutor())
        return built[-1]

    monkeypatch.setattr(execution, "load_executor", load)
    kwargs = dict(num=300, seed=2, chunk_rows=128, progress=False)
    store = sample_to_store(toy_generator, tmp_path / "run", executor="counted", **kwargs)
    assert store.is_complete(SAMPLE_TASK) and len(built) == 1 and built[0].closed == 1
    sample_to_store(toy_generator, tmp_path / "run", executor="counted", **kwargs)  # resumed: no chunk left
    assert len(built) == 2 and built[1].closed == 1
    job = SampleJob("toy", seed=3, spaces=("z",), truncation=Truncation(), image_size=None, batch_size=16,
                    model=toy_generator)  # fmt: skip
    map_blocks(job, [(0, 10), (10, 20)], "counted", progress=False)
    assert len(built) == 3 and built[2].closed == 1
    mine = ClosingExecutor()
    sample_to_store(toy_generator, tmp_path / "other", executor=mine, **kwargs)
    map_blocks(job, [(0, 10)], mine, progress=False)
    assert mine.closed == 0 and mine.payload_bytes > 0


def test_workers_load_the_model_on_the_device_it_was_asked_for(tmp_path, monkeypatch):
    """`--device cpu` reaches the workers that load the model again from its spec (Ray actors, worker processes)
    for sampling, scoring and re-scoring. CUDA is faked present here: a worker that asked for 'auto' would put the
    model on it (and fail, this torch having no CUDA)."""
    import torch

    from interfacegan.editing.codes import SampledCodes
    from interfacegan.rescoring.jobs import BaselineJob

    model = load_model("toy", device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    engine = PickledReversedExecutor()
    store = sample_to_store(model, tmp_path / "run", num=300, chunk_rows=128, progress=False, executor=engine)
    score_store(store, ToyScorer(), model=model, progress=False, executor=engine)
    job = BaselineJob(model, SampledCodes(model, "z", 8), [ToyScorer()])
    engine.worker_jobs.append(pickle.loads(pickle.dumps(job)))
    engine.worker_jobs[-1].setup()
    models = [getattr(j, "model", None) or j.source.model for j in engine.worker_jobs]
    assert len(models) == 7 and all(m is not model and m.device == torch.device("cpu") for m in models)


def test_map_hands_back_each_blocks_arrays_the_same_on_every_engine(toy_generator):
    """`Executor.map` (what re-scoring runs on): the pipelined local engine and the plain default give the job's
    own arrays for every block."""
    job = SampleJob("toy", seed=3, spaces=("z", "w"), truncation=Truncation(0.7), image_size=8, batch_size=16,
                    model=toy_generator)  # fmt: skip
    blocks = [(0, 100), (100, 250), (250, 251)]
    local, plain = {}, {}
    LocalExecutor().map(job, blocks, lambda start, stop, arrays: local.update({(start, stop): arrays}))
    PickledReversedExecutor().map(job, blocks, lambda start, stop, arrays: plain.update({(start, stop): arrays}))
    assert sorted(local) == sorted(plain) == blocks
    for start, stop in blocks:
        for name, values in job.compute(start, stop).items():
            np.testing.assert_array_equal(local[(start, stop)][name], values)
            np.testing.assert_array_equal(plain[(start, stop)][name], values)


def test_shard_auto_reads_the_launchers_environment(monkeypatch):
    from interfacegan.sampling import launcher_device, launcher_shard, parse_shard

    assert launcher_shard({"SLURM_PROCID": "3", "SLURM_NTASKS": "8"}) == (3, 8)
    assert launcher_shard({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (1, 2)
    with pytest.raises(InterfaceGANError, match="shard 'auto' needs a launcher's environment"):
        launcher_shard({})
    with pytest.raises(InterfaceGANError, match="bad shard 4/4"):
        launcher_shard({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(InterfaceGANError, match="not whole numbers"):
        launcher_shard({"SLURM_PROCID": "x", "SLURM_NTASKS": "2"})
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    assert parse_shard("auto") == (2, 3)
    assert launcher_device("cpu", {"LOCAL_RANK": "1", "RANK": "1", "WORLD_SIZE": "2"}) == "cpu"  # asked for: kept
    assert launcher_device("auto", {}) == "auto"


def test_executor_options_are_checked(monkeypatch, capsys):
    err = cli_error(monkeypatch, capsys, "sample", "--model", "toy", "--num", "5", "--out", "x", "--ray-address", "a")
    assert "--ray-address and --gpus-per-worker need --executor ray" in err
    with pytest.raises(InterfaceGANError, match="executor 'local' does not take these options"):
        load_executor("local", address="auto")


def test_ray_is_not_imported_unless_asked_for(tmp_path):
    script = ("import sys; from interfacegan.cli import main; sys.argv = ['interfacegan', 'sample', '--model', 'toy', "
              f"'--num', '50', '--out', {str(tmp_path / 'run')!r}, '--quiet']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\nprint('ray' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_cuda_asked_of_ray_workers_without_gpus_says_how_to_give_them_one(monkeypatch):
    """A job asking for CUDA on Ray workers given no GPU fails with one line that names both fixes: another
    `device`, or gpus_per_worker; the CLI writes them as the command's --device and --gpus-per-worker."""
    pytest.importorskip("ray", reason="the Ray tests need the distributed extra: pip install -e '.[dev,distributed]'")
    import torch
    import typer

    from interfacegan.cli import app
    from interfacegan.cli.flags import invoked_command, with_option_names
    from interfacegan.device import CudaUnavailableError, resolve_device
    from interfacegan.execution.ray import job_error

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CudaUnavailableError) as raised:
        resolve_device("cuda")
    message = str(job_error(raised.value, 0.0))
    assert message == ("`device` 'cuda' requested but CUDA is not available: use 'cpu' or 'auto', or give the Ray "
                       "workers GPUs (gpus_per_worker, e.g. 1)")  # fmt: skip
    assert str(job_error(raised.value, 1.0)) == str(raised.value)  # workers with GPUs: CUDA is broken, not missing
    assert str(job_error(InterfaceGANError("num must be positive"), 0.0)) == "num must be positive"
    score = invoked_command(typer.main.get_command(app), ["score", "run", "--scorer", "toy", "--executor", "ray"])
    assert with_option_names(message, score) == (
        "--device 'cuda' requested but CUDA is not available: use 'cpu' or 'auto', or give the Ray workers GPUs "
        "(--gpus-per-worker, e.g. 1)")  # fmt: skip
