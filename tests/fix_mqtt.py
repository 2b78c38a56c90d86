"""Real Mosquitto brokers for the tests, on free local ports.

``mosquitto``: an open broker for the whole session. ``acl_mosquitto``: one that refuses
subscriptions and bad credentials, for the tests of both refusals.

``make test`` installs Mosquitto with apt-get when missing; run by hand without it, the MQTT
tests are skipped with that reason.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulators.brokers import (
    free_port,
    local_broker,
    mosquitto_path,
    stop_process,
    wait_listening,
)

__all__ = ["mosquitto", "acl_mosquitto", "AclBroker"]


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[str]:
    """``mqtt://127.0.0.1:PORT`` of a broker running for the whole session."""
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (make test installs it with apt-get)")
    with local_broker("mosquitto") as (url, _):
        yield url


@dataclass(frozen=True)
class AclBroker:
    """Anonymous clients may publish telemetry but not subscribe to it; user ``reader``
    (password ``reader-pw``) may subscribe to it but not publish."""

    host: str
    port: int
    user: str = "reader"
    password: str = "reader-pw"

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        cred = f"{user}:{password}@" if user else ""
        return f"mqtt://{cred}{self.host}:{self.port}"


# Mosquitto 2.0's acl_file never refuses a SUBSCRIBE: it only withholds the messages
# (checked on 2.0.11, and said by its maintainer in eclipse/mosquitto#2042). The dynamic
# security plugin refuses it: SUBACK 0x87 under MQTT 5, 0x80 under 3.1.1.
_DYNSEC = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
# ``user``: started as root, Mosquitto drops to user ``mosquitto``, which cannot read pytest's
# private temporary directory (the plugin then refuses everyone, hiding what we test).
_CONF = """\
user {user}
listener {port} 127.0.0.1
allow_anonymous true
plugin {plugin}
plugin_opt_config_file {dynsec}
persistence false
log_dest stderr
log_type error
"""


def _dynsec_config(path: Path, broker: AclBroker) -> None:
    # ``init`` hashes the password the plugin's way; the roles are then ours.
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(path), broker.user,
                    broker.password], check=True, capture_output=True)
    doc = json.loads(path.read_text())
    doc["clients"][0]["roles"] = [{"rolename": "subscriber"}]
    doc["roles"] = [
        {"rolename": "subscriber",
         "acls": [{"acltype": "subscribePattern", "topic": "robowatch/#", "allow": True}]},
        {"rolename": "publisher",
         "acls": [{"acltype": "publishClientSend", "topic": "robowatch/#", "allow": True}]},
    ]
    doc["groups"] = [{"groupname": "anonymous", "roles": [{"rolename": "publisher"}],
                      "clients": []}]
    doc["anonymousGroup"] = "anonymous"
    path.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def acl_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    exe = mosquitto_path()
    if exe is None or not Path(_DYNSEC).exists() or shutil.which("mosquitto_ctrl") is None:
        pytest.skip("mosquitto with its dynamic security plugin is not installed")
    d = tmp_path_factory.mktemp("acl-broker")
    broker = AclBroker(host="127.0.0.1", port=free_port())
    _dynsec_config(d / "dynsec.json", broker)
    conf = d / "mosquitto.conf"
    conf.write_text(_CONF.format(user=getpass.getuser(), port=broker.port, plugin=_DYNSEC,
                                 dynsec=d / "dynsec.json"))
    log_path = d / "mosquitto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(proc, broker.port, 15.0)
        if "Error" in log_path.read_text():
            raise RuntimeError(f"mosquitto: {log_path.read_text()}")
        yield broker
    finally:
        stop_process(proc)

