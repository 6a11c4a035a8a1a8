"""Helpers (not tests) for tests that open network sockets: Ray clusters and the S3 stand-in run in a namespace.

Ray binds to the machine's interface address whatever it is told, so its tests run inside a network namespace
whose only interface is loopback (`unshare --net`, then `ip link set lo up`): every packet stays on 127.0.0.1.
The namespace has its own PID namespace too, so `close()` (killing its first process) ends every process
started in it, Ray's daemons included, and nothing else on the machine (never a machine-wide `ray stop`).
Where the namespace cannot be made (no root, no `unshare`), `isolated_network()` skips the test with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}
OBJECT_STORE_BYTES = str(80 * 2**20)  # Ray's minimum is 75 MiB; chunks go to the store, not through Ray


class Namespace:
    """A network + PID namespace with only loopback; `command` prefixes a command line to run inside it."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ns", dir="/tmp"))  # short: Ray's socket paths must stay < 108
        self.env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": str(self.tmp / "ray"), "PYTHONUNBUFFERED": "1"}
        self._holder = subprocess.Popen(
            ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", "ip link set lo up && exec sleep 3600"],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.pid = self._first_process()

    def _first_process(self) -> int:
        children = Path(f"/proc/{self._holder.pid}/task/{self._holder.pid}/children")
        deadline = time.time() + 10
        while time.time() < deadline:
            if self._holder.poll() is not None:
                raise OSError(self._holder.stderr.read().decode().strip() or "unshare failed")
            pids = children.read_text().split() if children.exists() else []
            if pids and "sleep" in Path(f"/proc/{pids[0]}/cmdline").read_bytes().decode():
                return int(pids[0])
            time.sleep(0.02)
        raise OSError("the namespace did not start")

    def command(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-n", "-p", "-m", "--", *map(str, argv)]

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(argv), env=self.env, **kwargs)

    def run(self, argv: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(argv), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv[:3]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def python(self, script: str, *args, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-c", script, *args], timeout=timeout, check=check)

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the process `popen` started inside (nsenter forks it), like `kill -9` of that command."""
        for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
            os.kill(int(pid), signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)  # the namespace's first process: the kernel ends all the others
        except ProcessLookupError:
            pass
        self._holder.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def isolated_network() -> Namespace:
    """A fresh loopback-only namespace, or a skip saying why none can be made."""
    if sys.platform != "linux" or not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("needs Linux with unshare and nsenter to keep test traffic on a loopback-only network namespace")
    try:
        return Namespace()
    except OSError as exc:
        pytest.skip(f"cannot create a loopback-only network namespace (root needed): {exc}")


def start_ray_cluster(ns: Namespace, nodes: int = 2, cpus_per_node: int = 1, port: int = 6390) -> str:
    """`ray start --head` plus `nodes - 1` more `ray start --address` nodes in `ns`; returns the address."""
    common = ["--num-cpus", str(cpus_per_node), "--object-store-memory", OBJECT_STORE_BYTES, "--disable-usage-stats"]
    ns.run([BIN / "ray", "start", "--head", "--port", str(port), "--include-dashboard=false",
            "--temp-dir", ns.tmp / "ray", *common])  # fmt: skip
    address = f"127.0.0.1:{port}"
    for _ in range(nodes - 1):
        ns.run([BIN / "ray", "start", "--address", address, *common])
    return address


S3_READY = """
import sys, time, s3fs
for _ in range(300):
    try:
        s3fs.S3FileSystem().mkdir(sys.argv[1])
        break
    except Exception:
        time.sleep(0.05)
else:
    sys.exit("the S3 stand-in did not start")
"""


def start_s3(ns: Namespace, port: int = 5555) -> str:
    """Start moto's S3 server on 127.0.0.1 in `ns` (`s3_bucket` waits for it); its endpoint, also set in `ns.env`."""
    endpoint = f"http://127.0.0.1:{port}"
    ns.popen([BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL)  # fmt: skip
    ns.env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                  AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    return endpoint


def s3_bucket(ns: Namespace, bucket: str = "bucket") -> str:
    """Make `bucket` on the S3 server `start_s3` started (waiting for the server); its URL."""
    ns.python(S3_READY, bucket, timeout=60)
    return f"s3://{bucket}"
