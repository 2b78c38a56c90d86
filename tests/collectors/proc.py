"""A collector run as its own OS process (``robowatch collect ...``), for crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_collector(args: list[str], *, db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_HOME": str(log.parent)}
    env.pop("ROBOWATCH_MQTT_URL", None)
    with open(log, "ab") as err:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "robowatch", "collect", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
