"""Sparkplug B decoding, message by message: every refusal path and the host state rules.

Payloads are built with the schema classes directly (the end-to-end test against Mosquitto
uses another library's edge node); each test states the Sparkplug rule it checks.
"""

import math
import time
from pathlib import Path
from typing import Any

import pytest

from collectors.errors import CollectorConfigError
from collectors.mapping import SparkplugMapping, load_sparkplug_mapping
from collectors.metrics import CollectorMetrics
from collectors.mqtt import MqttCollector, MqttConfig
from collectors.registry import Registry
from collectors.sparkplug import SparkplugDecoder
from collectors.sparkplug_schema import DATATYPE, Payload
from collectors.writer import BatchWriter

GROUP, NODE = "G", "n1"
MAPPING = SparkplugMapping.model_validate({
    "group": GROUP,
    "robots": [{"edge_node": NODE, "device": "d1", "robot": "R1"},
               {"edge_node": NODE, "robot": "R0"}],
    "signals": [{"metric": "current", "signal": "J1.current", "scale": 2.0, "offset": 1.0},
                {"metric": "temp", "signal": "J1.temperature"},
                {"metric": "mode", "signal": "mode"},
                {"metric": "small", "signal": "small"},
                {"metric": "big", "signal": "big"}],
})
NOW = time.time()


def t(kind: str, device: str | None = None) -> str:
    return f"spBv1.0/{GROUP}/{kind}/{NODE}" + (f"/{device}" if device else "")


def payload(seq: int | None, *metrics: tuple[str | None, int | None, str, Any],
            ts_ms: int | None = None) -> bytes:
    p = Payload(timestamp=ts_ms if ts_ms is not None else round(NOW * 1000))
    if seq is not None:
        p.seq = seq
    for name, alias, dtype, value in metrics:
        m = p.metrics.add()
        if name is not None:
            m.name = name
        if alias is not None:
            m.alias = alias
        m.datatype = DATATYPE[dtype]
        if value is None:
            m.is_null = True
        else:
            field = {"Double": "double_value", "Float": "float_value", "Int8": "int_value",
                     "Int64": "long_value", "UInt64": "long_value", "Boolean": "boolean_value",
                     "String": "string_value"}[dtype]
            setattr(m, field, value)
    return bytes(p.SerializeToString())


def born(d: SparkplugDecoder) -> None:
    d.decode(t("NBIRTH"), payload(0, ("bdSeq", None, "Int64", 3)), now=NOW)
    out = d.decode(t("DBIRTH", "d1"), payload(1, ("current", 1, "Double", 1.0),
                                               ("temp", 2, "Float", 40.0),
                                               ("mode", 3, "String", "auto")), now=NOW)
    assert out.online == ["R1"]


def test_birth_values_are_scaled_and_strings_refused() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    d.decode(t("NBIRTH"), payload(0, ("bdSeq", None, "Int64", 3)), now=NOW)
    out = d.decode(t("DBIRTH", "d1"), payload(1, ("current", 1, "Double", 1.0),
                                               ("mode", 3, "String", "auto")), now=NOW)
    assert [s.values for s in out.samples] == [{"J1.current": 3.0}]
    assert [(r.reason, r.detail) for r in out.rejects] == [("not_a_number", "mode: not_a_number")]


def test_alias_data_nan_null_and_signed_ints() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    out = d.decode(t("DDATA", "d1"), payload(2, (None, 1, "Double", math.nan),
                                             (None, 2, "Float", None),
                                             ("small", None, "Int8", 0xFF),
                                             ("big", None, "Int64", 2**64 - 5)), now=NOW)
    assert out.samples[0].values == {"J1.temperature": None, "small": -1.0, "big": -5.0}
    assert [r.reason for r in out.rejects] == ["non_finite"]
    assert out.commands == []


def test_unknown_alias_is_quarantined_and_asks_a_rebirth() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    out = d.decode(t("DDATA", "d1"), payload(2, (None, 1, "Double", 2.0),
                                             (None, 77, "Double", 1.0)), now=NOW)
    assert out.samples[0].values == {"J1.current": 5.0}
    assert [r.reason for r in out.rejects] == ["unknown_alias"]
    assert [c[0] for c in out.commands] == [f"spBv1.0/{GROUP}/NCMD/{NODE}"]


def test_sequence_gap_asks_one_rebirth_per_interval() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    first = d.decode(t("DDATA", "d1"), payload(5, (None, 1, "Double", 2.0)), now=NOW)
    again = d.decode(t("DDATA", "d1"), payload(9, (None, 1, "Double", 2.0)), now=NOW + 1)
    later = d.decode(t("DDATA", "d1"), payload(20, (None, 1, "Double", 2.0)), now=NOW + 6)
    assert (len(first.commands), len(again.commands), len(later.commands)) == (1, 0, 1)
    assert first.samples and again.samples  # the values themselves are good
    ok = d.decode(t("DDATA", "d1"), payload(21, (None, 1, "Double", 2.0)), now=NOW + 20)
    assert ok.commands == [] and ok.rejects == []


T0_MS = 1_700_000_000_000


def data(d: SparkplugDecoder, seq: int, alias: int, value: float, now: float) -> Any:
    return d.decode(t("DDATA", "d1"), payload(seq, (None, alias, "Double", value), ts_ms=T0_MS),
                    now=now)


def test_rebirth_log_says_whether_the_request_was_sent_or_held_back(
        caplog: pytest.LogCaptureFixture) -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    caplog.set_level("INFO", logger="collectors.sparkplug")
    t0 = T0_MS / 1000  # 2023-11-14T22:13:20Z: the "until" below is t0 + rebirth_every_s
    data(d, 5, 1, 2.0, t0)
    held = data(d, 9, 1, 2.0, t0 + 1)
    alias = data(d, 10, 77, 1.0, t0 + 2)
    gap = [r.getMessage() for r in caplog.records]
    assert gap[0].endswith("seq 5 after 1 (messages lost); rebirth requested"), gap
    until = "2023-11-14T22:13:25.000+00:00"
    assert gap[1].endswith(f"rebirth not requested again before {until} "
                           "(one request per 5 s)"), gap
    assert "alias without a birth; rebirth not requested again before" in gap[2], gap
    assert held.commands == [] and alias.commands == []
    # A node heard of before its birth: the quarantine record says the same.
    fresh = SparkplugDecoder(mapping=MAPPING)
    first = data(fresh, 4, 1, 2.0, t0)
    second = data(fresh, 5, 1, 2.0, t0 + 1)
    assert first.rejects[0].detail.endswith("; rebirth requested")
    assert second.rejects[0].detail.endswith(f"before {until} (one request per 5 s)")
    assert (len(first.commands), len(second.commands)) == (1, 0)


def test_seq_wraps_at_256() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    for seq in [*range(2, 256), 0, 1]:
        out = d.decode(t("DDATA", "d1"), payload(seq, (None, 1, "Double", 2.0)), now=NOW)
        assert out.commands == [], seq


def test_data_before_birth_and_malformed_and_bad_topics() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    out = d.decode(t("DDATA", "d1"), payload(4, (None, 1, "Double", 2.0)), now=NOW)
    assert [r.reason for r in out.rejects] == ["no_birth"] and len(out.commands) == 1
    assert [r.reason for r in d.decode(t("NBIRTH"), b"\xff\xff\xff", now=NOW).rejects] == [
        "malformed_protobuf"]
    for bad in ("spBv1.0/other/NDATA/n1", "spAv1.0/G/NDATA/n1", "spBv1.0/G/NDATA"):
        assert [r.reason for r in d.decode(bad, b"", now=NOW).rejects] == ["bad_topic"], bad
    assert [r.reason for r in d.decode(t("NDATA", "d1"), b"", now=NOW).rejects] == ["bad_topic"]
    assert [r.reason for r in d.decode(t("XDATA"), b"", now=NOW).rejects] == ["bad_topic"]
    # Commands (our own rebirth requests come back to us) and host state are not telemetry.
    assert d.decode(t("NCMD"), b"\xff", now=NOW).rejects == []


def test_clock_skew_and_unmapped_sources() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    out = d.decode(t("DDATA", "d1"), payload(2, (None, 1, "Double", 2.0),
                                             ts_ms=round((NOW + 3600) * 1000)), now=NOW)
    assert out.samples == [] and [r.reason for r in out.rejects] == ["clock_skew"]
    # A device the mapping does not name is not ours: nothing stored, nothing refused.
    d.decode(t("DBIRTH", "d9"), payload(3, ("current", 1, "Double", 1.0)), now=NOW)
    out = d.decode(t("DDATA", "d9"), payload(4, (None, 1, "Double", 1.0)), now=NOW)
    assert out.samples == [] and out.rejects == [] and out.commands == []


def test_ndeath_of_an_earlier_session_is_ignored_and_a_matching_one_kills_all() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    stale = d.decode(t("NDEATH"), payload(None, ("bdSeq", None, "Int64", 2)), now=NOW)
    assert stale.offline == []
    out = d.decode(t("NDEATH"), payload(None, ("bdSeq", None, "Int64", 3)), now=NOW)
    assert sorted(r for r, _ in out.offline) == ["R0", "R1"]
    after = d.decode(t("DDATA", "d1"), payload(2, (None, 1, "Double", 2.0)), now=NOW)
    assert [r.reason for r in after.rejects] == ["no_birth"]


def test_ddeath_takes_one_device_offline() -> None:
    d = SparkplugDecoder(mapping=MAPPING)
    born(d)
    out = d.decode(t("DDEATH", "d1"), payload(2), now=NOW)
    assert [r for r, _ in out.offline] == ["R1"] and out.rejects == []


def test_mapping_file_refuses_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('group = "G"\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                    '[[signals]]\nmetric = "m"\nsignal = "J1.current"\nscale = 0.001\n')
    assert load_sparkplug_mapping(good).signals[0].scale == 0.001
    for body in ('group = "G"\ncolour = 1\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                 '[[signals]]\nmetric = "m"\nsignal = "s"\n',
                 'group = "G"\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                 '[[signals]]\nmetric = "m"\nsignal = "bad name"\n',
                 'group = "G"\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                 '[[signals]]\nmetric = "m"\nsignal = "s"\nscale = 0\n',
                 'group = "G/#"\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                 '[[signals]]\nmetric = "m"\nsignal = "s"\n',
                 'group = "G"\n[[robots]]\nedge_node = "n"\nrobot = "R1"\n'
                 '[[robots]]\nedge_node = "n"\nrobot = "R2"\n'
                 '[[signals]]\nmetric = "m"\nsignal = "s"\n',
                 "not toml ["):
        bad = tmp_path / "bad.toml"
        bad.write_text(body)
        with pytest.raises(CollectorConfigError, match="mapping"):
            load_sparkplug_mapping(bad)


def test_sparkplug_refuses_a_shared_subscription() -> None:
    """Aliases and seq are per process: a shared subscription would split a node's messages."""
    no_db = "postgresql://nobody@127.0.0.1:1/none"
    metrics = CollectorMetrics()
    cfg = MqttConfig(url="mqtt://127.0.0.1:1", share_group="g",
                     decoder_factory=lambda limits: SparkplugDecoder(mapping=MAPPING,
                                                                     limits=limits))
    with pytest.raises(CollectorConfigError, match="shared subscription"):
        MqttCollector(config=cfg, writer=BatchWriter(conninfo=no_db, metrics=metrics),
                      registry=Registry(conninfo=no_db), metrics=metrics)
