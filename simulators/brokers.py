"""Throw-away local MQTT brokers for benchmarks and tests, and free local ports.

Mosquitto is the yardstick (``make test`` installs it); amqtt, a pure-Python broker, is the
fallback where Mosquitto is missing. The demo runs amqtt in-process instead (robowatch.demo).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["free_port", "mosquitto_path", "local_broker", "wait_listening", "stop_process"]

# Unlimited in-flight messages and a deep queue: QoS 1 throughput must be limited by the
# programs under test, not by the broker's defaults (20 in flight, 1000 queued).
MOSQUITTO_CONF = (
    "listener {port} 127.0.0.1\n"
    "allow_anonymous true\n"
    "persistence false\n"
    "max_queued_messages 1000000\n"
    "max_inflight_messages 0\n"
    "log_dest stderr\n"
    "log_type error\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_path() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; returns once the process is gone."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"broker did not listen on port {port} within {timeout:g} s")


@contextlib.contextmanager
def local_broker(kind: str = "auto") -> Iterator[tuple[str, str]]:
    """Start a broker on a free port; yield (``mqtt://127.0.0.1:PORT``, which broker).

    ``kind``: ``mosquitto``, ``amqtt`` or ``auto`` (Mosquitto when installed).
    """
    port = free_port()
    mosquitto = mosquitto_path()
    with tempfile.TemporaryDirectory(prefix="rw-broker-") as tmp:
        if kind in ("auto", "mosquitto") and mosquitto:
            conf = Path(tmp) / "mosquitto.conf"
            conf.write_text(MOSQUITTO_CONF.format(port=port))
            cmd, which = [mosquitto, "-c", str(conf)], "mosquitto"
        elif kind in ("auto", "amqtt"):
            conf = Path(tmp) / "amqtt.yaml"
            conf.write_text("listeners:\n  default:\n    type: tcp\n"
                            f"    bind: 127.0.0.1:{port}\n"
                            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                            "    allow_anonymous: true\n")
            exe = Path(sys.executable).with_name("amqtt")
            cmd, which = [str(exe), "-c", str(conf)], "amqtt"
        else:
            raise RuntimeError(f"broker {kind!r} is not available (is mosquitto installed?)")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(proc, port, 15.0)
            yield f"mqtt://127.0.0.1:{port}", which
        finally:
            stop_process(proc)
