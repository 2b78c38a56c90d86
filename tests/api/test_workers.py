"""``robowatch api --workers 2``: two worker processes serve one port, a SIGTERM stops them
all with exit code 0, and a worker whose parent is killed stops too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from simulators.brokers import free_port

_START_S = 60.0  # two cold interpreters importing the app on a shared 2-core machine


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    # uvicorn spawns its workers through multiprocessing (its resource tracker is a child too).
    return [c for c in parent.children() if "spawn_main" in " ".join(c.cmdline())]


@pytest.fixture
def api(db_url: str, tmp_path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "robowatch", "--log-level", "WARNING", "api",
                             "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _START_S
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, f"robowatch api exited with {proc.returncode}"
        assert time.monotonic() < deadline, "robowatch api did not answer /healthz"
        time.sleep(0.2)
    try:
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_workers_serve_and_stop_on_sigterm(api: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, base = api
    workers = _workers(psutil.Process(proc.pid))
    assert len(workers) == 2
    assert all(httpx.get(f"{base}/healthz", timeout=10).status_code == 200 for _ in range(10))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def test_workers_stop_when_their_parent_is_killed(
    api: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _ = api
    workers = _workers(psutil.Process(proc.pid))
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    # The kernel kills them (PR_SET_PDEATHSIG) once the parent is gone.
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
