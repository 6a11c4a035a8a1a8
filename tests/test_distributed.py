"""Past one machine (issue 14): sampling and scoring on Ray give the local executor's store array for array, on a
2-node cluster and on a local instance of 2 workers; a worker killed mid-chunk and a driver killed with kill -9
both end in the uninterrupted store; the re-scoring analyses on Ray write the local executor's CSV files; stores on
S3 (moto's server) claim, resume and refill like local ones; torchrun's processes fill one store with `--shard auto`.

Everything that opens a socket runs in one loopback-only network namespace for the module (tests/isolation.py):
a 2-node cluster (`ray start --head` + `ray start --address`, 1 CPU each) and the S3 stand-in, started once and
ended with the namespace. Driver scripts run inside it; they write local stores (compared here) or export S3 ones.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from interfacegan.sampling import sample_to_store
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer
from interfacegan.store import SampleStore
from tests.helpers import cli_path
from tests.isolation import isolated_network, s3_bucket, start_ray_cluster, start_s3

pytest.importorskip("ray", reason="the Ray tests need the distributed extra: pip install -e '.[dev,distributed]'")
pytest.importorskip("s3fs", reason="the S3 tests need the distributed extra: pip install -e '.[dev,distributed]'")


@pytest.fixture(scope="module")
def cluster():
    """(namespace, Ray address): a 2-node cluster and an S3 server with bucket 'bucket', inside one namespace."""
    ns = isolated_network()
    try:
        start_s3(ns)  # boots while the cluster starts
        address = start_ray_cluster(ns, nodes=2, cpus_per_node=1)
        s3_bucket(ns)
        yield ns, address
    finally:
        ns.close()


def _last_json(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_same(a: SampleStore, b: SampleStore, names):
    for name in names:
        np.testing.assert_array_equal(a.array(name)[:], b.array(name)[:], err_msg=name)


SAME_RESULT = """
import json, os, signal, sys, threading, time
from pathlib import Path
import numpy as np
import interfacegan.sampling as sampling
from interfacegan.execution import load_executor
from interfacegan.execution.local import LocalExecutor
from interfacegan.models import ToyGenerator, Truncation
from interfacegan.scoring.run import score_store
from interfacegan.scoring.toy import ToyScorer

address, out, killed_out, markers = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
engine, seen = load_executor("ray", address=address), []
store = sampling.sample_to_store(ToyGenerator(), out, num=1100, seed=5, spaces=["w", "wp"], save_images=True,
                                 chunk_rows=100, executor=engine, progress=lambda what, done, total: seen.append(done))
nodes = len(set(engine.placement.values()))
score_store(store, ToyScorer(), progress=False, executor=engine)
blocks, got, want = [(0, 250), (250, 600), (600, 601)], {}, {}
job = sampling.SampleJob("toy", 7, ("z", "w"), Truncation(0.7), 8, 64)
engine.map(job, blocks, lambda a, b, arrays: got.update({a: arrays}))
LocalExecutor().map(sampling.SampleJob("toy", 7, ("z", "w"), Truncation(0.7), 8, 64, model=ToyGenerator()), blocks,
                    lambda a, b, arrays: want.update({a: arrays}))
same = sorted(got) == sorted(want) and all(np.array_equal(got[a][n], want[a][n]) for a in want for n in want[a])
try:
    load_executor("ray", address=address, gpus_per_worker=1).map(job, blocks, print)
except Exception as exc:
    no_gpu = f"{type(exc).__name__}: {exc}"


class SlowSampleJob(sampling.SampleJob):
    def compute(self, start, stop, prefetched=None):
        (markers / f"{start}.{os.getpid()}").touch()  # this worker started this chunk
        time.sleep(0.3)
        return super().compute(start, stop, prefetched)


killed = []


def kill_the_first_worker_mid_chunk():
    while not killed:
        for marker in markers.iterdir():
            start, pid = marker.name.split(".")
            os.kill(int(pid), signal.SIGKILL)
            killed.append(int(start))
            break
        time.sleep(0.005)


threading.Thread(target=kill_the_first_worker_mid_chunk, daemon=True).start()
sampling.SampleJob = SlowSampleJob
again = sampling.sample_to_store(ToyGenerator(), killed_out, num=600, seed=2, chunk_rows=100, save_images=True,
                                 executor=engine, progress=False)
attempts = [m for m in markers.iterdir() if int(m.name.split(".")[0]) == killed[0]]
print(json.dumps({"nodes": nodes, "progress": seen, "map_same": same, "no_gpu": no_gpu, "attempts": len(attempts),
                  "complete": again.is_complete("sample")}))
"""


def test_ray_on_two_nodes_fills_the_local_executors_store_even_when_a_worker_dies(cluster, tmp_path, toy_generator):
    """Sample, score and map on 2 nodes: the local executor's arrays, progress per chunk; then a worker killed in
    the middle of a chunk: the chunk runs again on the restarted worker and the store is the uninterrupted one."""
    ns, address = cluster
    (tmp_path / "markers").mkdir()
    report = _last_json(ns.python(SAME_RESULT, address, tmp_path / "ray", tmp_path / "killed", tmp_path / "markers"))
    assert report["nodes"] == 2  # chunks ran on both nodes
    assert report["map_same"]
    assert report["no_gpu"].startswith("InterfaceGANError: the Ray cluster has no GPU for a worker of 1 GPU(s)")
    assert sorted(report["progress"]) == report["progress"] and report["progress"][-1] == 1100
    assert len(report["progress"]) == 11  # one report per chunk, as each completes
    local = sample_to_store(toy_generator, tmp_path / "local", num=1100, seed=5, spaces=["w", "wp"], save_images=True,
                            chunk_rows=100, progress=False)  # fmt: skip
    score_store(local, ToyScorer(), model=toy_generator, progress=False)
    remote = SampleStore.open(tmp_path / "ray")
    scores = [f"scores/{n}" for n in local.score_names]
    _assert_same(local, remote, ["codes/z", "codes/w", "codes/wp", "images", *scores])
    assert remote.is_complete("sample") and remote.is_complete("score-toy")

    assert report["attempts"] >= 2 and report["complete"]  # the killed chunk ran again on a restarted worker
    killed, z = SampleStore.open(tmp_path / "killed"), toy_generator.sample(600, seed=2)
    np.testing.assert_array_equal(killed.codes("z"), z)
    np.testing.assert_array_equal(killed.images(slice(None)), toy_generator.synthesize(z))


KILL_DRIVER = """
import json, signal, subprocess, sys, time
import numpy as np
import s3fs
from interfacegan.store import SampleStore

cli, address, out = sys.argv[1:4]
command = [cli, "sample", "--model", "toy", "--num", "1500", "--seed", "3", "--chunk-rows", "50", "--images",
           "--executor", "ray", "--ray-address", address, "--out", out, "--quiet"]
flags, fs = out.removeprefix("s3://") + "/progress/sample/c", s3fs.S3FileSystem()
driver = subprocess.Popen(command)
deadline = time.time() + 90
while time.time() < deadline and driver.poll() is None:
    fs.invalidate_cache()
    if fs.exists(flags) and len(fs.ls(flags)) >= 6:
        break
    time.sleep(0.02)
driver.send_signal(signal.SIGKILL)
driver.wait()
done = int(SampleStore.open(out).done_chunks("sample").sum())
rerun = subprocess.run(command, capture_output=True, text=True)
store = SampleStore.open(out)
np.savez(sys.argv[4], z=store.codes("z"), images=store.images(slice(None)))
print(json.dumps({"done_when_killed": done, "chunks": store.num_chunks, "rerun": rerun.returncode,
                  "said": rerun.stdout.strip(), "complete": store.is_complete("sample")}))
"""


def test_a_driver_killed_with_kill_9_resumes_on_ray_into_s3(cluster, tmp_path, toy_generator):
    ns, address = cluster
    report = _last_json(ns.python(KILL_DRIVER, cli_path(), address, "s3://bucket/driver-killed", tmp_path / "a.npz",
                                  timeout=240))  # fmt: skip
    assert 0 < report["done_when_killed"] < report["chunks"], "the driver should have been killed mid-run"
    assert report["rerun"] == 0 and report["complete"] and "(complete)" in report["said"]
    arrays = np.load(tmp_path / "a.npz")
    z = toy_generator.sample(1500, seed=3)
    np.testing.assert_array_equal(arrays["z"], z)
    np.testing.assert_array_equal(arrays["images"], toy_generator.synthesize(z))


def test_a_local_ray_instance_of_two_workers_by_default(cluster, tmp_path, toy_generator):
    """`--executor ray` without an address starts its own Ray (no dashboard, bounded shared memory; 2 workers on
    this 2-core machine), even beside a running cluster (joined only with --ray-address)."""
    ns, _ = cluster
    out = tmp_path / "run"
    ns.run([cli_path(), "sample", "--model", "toy", "--num", "700", "--seed", "8", "--chunk-rows", "100", "--space",
            "w", "--executor", "ray", "--out", out, "--quiet"], timeout=180)  # fmt: skip
    local = sample_to_store(toy_generator, tmp_path / "local", num=700, seed=8, chunk_rows=100, spaces=["w"],
                            progress=False)  # fmt: skip
    _assert_same(local, SampleStore.open(out), ["codes/z", "codes/w"])


ANALYSIS = """
import json, sys
from interfacegan.analysis import analyze_run
from interfacegan.execution import load_executor

address, run, out = sys.argv[1:4]
engine = load_executor("ray", address=address)
analyze_run(run, out + "-sefa", analyses=["sefa"], num_rescore=100, progress=False, report=False, estimate=False,
            executor=engine)  # SeFa and GANSpace directions named, then compared, on the workers
analyze_run(run, out, analyses=["rescore", "layers", "distance"], num_rescore=300, num_distance=100, block_rows=64,
            progress=False, report=False, estimate=False, executor=engine)
print(json.dumps({"nodes": len(set(engine.placement.values())), "blocks": len(engine.placement)}))
"""


def test_the_rescoring_analyses_on_ray_write_the_local_executors_tables(cluster, tmp_path, toy_generator):
    """Re-scoring, layer-wise re-scoring and the distance sweep with their blocks of rows on Ray workers of 2 nodes
    (the blocks come back in any order), and the SeFa/GANSpace comparison with its naming there too: every CSV file
    is the local executor's, byte for byte."""
    from interfacegan.analysis import analyze_run

    ns, address = cluster
    store = sample_to_store(toy_generator, tmp_path / "run", num=400, seed=4, spaces=["w"], chunk_rows=200,
                            progress=False)  # fmt: skip
    score_store(store, ToyScorer(), model=toy_generator, progress=False, executor="local")
    report = _last_json(ns.python(ANALYSIS, address, tmp_path / "run", tmp_path / "ray", timeout=120))
    assert report == {"nodes": 2, "blocks": 2}  # the last sweep's 2 blocks ran on both nodes
    analyze_run(store, tmp_path / "local", analyses=["rescore", "layers", "distance"], num_rescore=300,
                num_distance=100, block_rows=64, progress=False, report=False, estimate=False)  # fmt: skip
    analyze_run(store, tmp_path / "local-sefa", analyses=["sefa"], num_rescore=100, progress=False, report=False,
                estimate=False)  # fmt: skip
    for folder, wanted in (("", "layers_rescoring.csv"), ("-sefa", "method_summary.csv")):
        local, ray = tmp_path / f"local{folder}", tmp_path / f"ray{folder}"
        tables = sorted(p.name for p in local.glob("*.csv"))
        assert wanted in tables and sorted(p.name for p in ray.glob("*.csv")) == tables
        for name in tables:
            assert (ray / name).read_bytes() == (local / name).read_bytes(), name


S3_STORES = """
import json, threading
import numpy as np
import s3fs
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.store import SampleStore

model, report = ToyGenerator(), {"proceeded": [], "refused": [], "shards": [], "missing": None}


def together(calls):
    barrier, results = threading.Barrier(len(calls)), []

    def run(call):
        barrier.wait()
        try:
            call()
            results.append("ok")
        except InterfaceGANError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


for r in range(3):  # writers with different seeds: exactly one proceeds (S3 PUT with If-None-Match)
    out = f"s3://bucket/race{r}"
    results = together([lambda s=s: sample_to_store(model, out, num=300, seed=s, chunk_rows=100, progress=False)
                        for s in (1, 2)])
    report["proceeded"].append(results.count("ok"))
    report["refused"] += [m for m in results if m != "ok"]
    seed = SampleStore.open(out).meta["seed"]
    assert np.array_equal(SampleStore.open(out).codes("z"), model.sample(300, seed=seed))
for r in range(2):  # shard workers with the same arguments: never crash
    out = f"s3://bucket/shards{r}"
    report["shards"] += together([lambda i=i: sample_to_store(model, out, num=300, seed=4, chunk_rows=50, shard=(i, 2),
                                                              progress=False) for i in range(2)])
    assert np.array_equal(SampleStore.open(out).codes("z"), model.sample(300, seed=4))
s3fs.S3FileSystem().rm("bucket/shards0/codes/z/c/3/0")
try:
    SampleStore.open("s3://bucket/shards0").codes("z")
except InterfaceGANError as exc:
    report["missing"] = str(exc)
sample_to_store(model, "s3://bucket/shards0", num=300, seed=4, chunk_rows=50, progress=False)
report["refilled"] = bool(np.array_equal(SampleStore.open("s3://bucket/shards0").codes("z"), model.sample(300, seed=4)))
print(json.dumps(report))
"""


def test_s3_stores_are_claimed_atomically_and_refill_missing_chunks(cluster):
    ns, _ = cluster
    report = _last_json(ns.python(S3_STORES))
    assert report["proceeded"] == [1, 1, 1]
    assert all("made with other arguments: seed" in m and "\\n" not in m for m in report["refused"])
    assert report["shards"] == ["ok"] * 4
    missing = "chunk file s3://bucket/shards0/codes/z/c/3/0 (rows 150-199 of codes/z) is missing"
    assert report["missing"].startswith(missing)
    assert report["refilled"]


def test_torchrun_processes_fill_one_store_with_shard_auto(cluster, tmp_path, toy_generator):
    """No wrapper script: torchrun's RANK / WORLD_SIZE pick each process's shard (its rendezvous stays on loopback)."""
    ns, _ = cluster
    out = tmp_path / "run"
    ns.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "--no-python", "--",
            cli_path(), "sample", "--model", "toy", "--num", "1000", "--chunk-rows", "100", "--out", out, "--shard",
            "auto", "--quiet"], timeout=180)  # fmt: skip
    store = SampleStore.open(out)
    assert store.is_complete("sample")
    np.testing.assert_array_equal(store.codes("z"), toy_generator.sample(1000, seed=0))
