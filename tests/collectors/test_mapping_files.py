"""``robowatch collect mqtt --format ... --mapping ...`` checks its mapping at start-up, and
the worked examples in the docs are valid mapping files that decode their example payloads."""

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.gateway import GatewayDecoder, GatewayMapping, load_gateway_mapping
from collectors.mapping import load_sparkplug_mapping
from robowatch.cli.main import app

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(doc: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / doc).read_text(), flags=re.S)


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "sparkplug"], "needs a mapping file"),
    (["--format", "v1", "--mapping", "x.toml"], "takes no mapping file"),
    (["--format", "gateway", "--mapping", "/nonexistent.toml"], "No such file"),
    (["--format", "protobuf"], "protobuf"),
])
def test_collect_mqtt_refuses_a_bad_format_or_mapping(
    args: list[str], message: str, root_logging: None
) -> None:
    out = CliRunner(env={"COLUMNS": "300"}).invoke(
        app, ["collect", "mqtt", "--url", "mqtt://127.0.0.1:1", *args])
    assert out.exit_code == 2 and message in out.output, out.output


def test_collect_mqtt_names_the_unknown_key_of_a_mapping(
    tmp_path: Path, root_logging: None
) -> None:
    bad = tmp_path / "m.toml"
    bad.write_text('group = "G"\ncolour = 1\n')
    out = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["collect", "mqtt", "--url", "mqtt://127.0.0.1:1",
                                   "--format", "sparkplug", "--mapping", str(bad)])
    assert out.exit_code == 2 and "colour" in out.output, out.output


def test_sparkplug_doc_example_is_a_valid_mapping(tmp_path: Path) -> None:
    [toml] = blocks("sparkplug.md", "toml")
    path = tmp_path / "plant.toml"
    path.write_text(toml)
    m = load_sparkplug_mapping(path)
    assert m.group and m.robots and m.signals


def test_gateway_doc_examples_decode_their_payloads(tmp_path: Path) -> None:
    tomls, payloads = blocks("json-gateways.md", "toml"), blocks("json-gateways.md", "json")
    assert len(tomls) == len(payloads) >= 2
    topics = re.findall(r"^Topic: `([^`]+)`", (DOCS / "json-gateways.md").read_text(), re.M)
    assert len(topics) == len(tomls)
    for i, (toml, payload, topic) in enumerate(zip(tomls, payloads, topics, strict=True)):
        path = tmp_path / f"gw{i}.toml"
        path.write_text(toml)
        mapping: GatewayMapping = load_gateway_mapping(path)
        doc = json.loads(payload)
        # The examples carry fixed times: decode them as if received then.
        now = _example_time(doc)
        out = GatewayDecoder(mapping=mapping).decode(topic, payload.encode(), now=now)
        assert out.samples, (i, out.rejects)


def _example_time(doc: object) -> float:
    text = json.dumps(doc)
    if m := re.search(r'"(\d{4}-\d\d-\d\dT[^"]+)"', text):
        return datetime.fromisoformat(m.group(1)).timestamp()
    if m := re.search(r'"ts": (\d{13})', text):
        return int(m.group(1)) / 1000
    return time.time()
