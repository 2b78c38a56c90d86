import json
import math

import pytest

from collectors.errors import RejectedInput
from collectors.payload import Limits, parse_payload, parse_topic

NOW = 1_763_762_400.0
LIM = Limits()


def msg(**over):
    doc = {"v": 1, "robot": "R1", "ts": NOW, "seq": 1, "signals": {"J1.current": 1.5}}
    doc.update(over)
    return json.dumps(doc).encode()


def test_valid_message_parses():
    s = parse_payload(msg(), topic_robot="R1", now=NOW, limits=LIM)
    assert (s.robot, s.ts, s.seq, s.values) == ("R1", NOW, 1, {"J1.current": 1.5})


def test_null_value_is_kept_as_bad_quality():
    s = parse_payload(msg(signals={"a": None, "b": 2}), topic_robot=None, now=NOW, limits=LIM)
    assert s.values == {"a": None, "b": 2.0}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "schema"),
        (msg(v=2), "unsupported_version"),
        (msg(robot="R2"), "topic_mismatch"),
        (msg(robot="bad code!"), "schema"),
        (msg(ts="yesterday"), "schema"),
        (msg(ts=NOW + 3600), "clock_skew"),
        (msg(ts=NOW - 30 * 86400), "clock_skew"),
        (msg(seq=-1), "schema"),
        (msg(signals={}), "schema"),
        (msg(signals={"J1.current": "hot"}), "not_a_number"),
        (b"{" + b" " * (LIM.max_bytes + 1) + b"}", "oversized"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(RejectedInput) as err:
        parse_payload(raw, topic_robot="R1", now=NOW, limits=LIM)
    assert err.value.reason == reason
    assert err.value.detail


def test_nan_costs_only_its_own_value():
    raw = b'{"v":1,"robot":"R1","ts":%f,"signals":{"a":NaN,"b":Infinity,"c":3}}' % NOW
    s = parse_payload(raw, topic_robot="R1", now=NOW, limits=LIM)
    assert s.values == {"c": 3.0}
    assert sorted(s.dropped) == [("a", "non_finite"), ("b", "non_finite")]
    assert all(math.isfinite(v) for v in s.values.values() if v is not None)


def test_what_the_fast_parser_refuses_is_read_by_the_standard_one():
    # orjson refuses integers beyond 64 bits (and NaN, above): json.loads reads them, so the
    # message is not lost as malformed.
    raw = b'{"v":1,"robot":"R1","ts":%f,"signals":{"big":%d,"c":1.5}}' % (NOW, 2**70)
    s = parse_payload(raw, topic_robot="R1", now=NOW, limits=LIM)
    assert s.values == {"big": float(2**70), "c": 1.5}


def test_integer_values_are_readings_and_one_beyond_float_range_only_costs_itself():
    raw = b'{"v":1,"robot":"R1","ts":%f,"signals":{"alarm_code":0,"count":7,"c":1.5}}' % NOW
    s = parse_payload(raw, topic_robot="R1", now=NOW, limits=LIM)
    assert s.values == {"alarm_code": 0.0, "count": 7.0, "c": 1.5} and not s.dropped
    assert all(type(v) is float for v in s.values.values())
    raw = b'{"v":1,"robot":"R1","ts":%f,"signals":{"huge":1%s,"c":2}}' % (NOW, b"0" * 400)
    s = parse_payload(raw, topic_robot="R1", now=NOW, limits=LIM)
    assert s.values == {"c": 2.0} and s.dropped == [("huge", "non_finite")]


def test_topic_parsing():
    assert parse_topic("robowatch/C1/S1/L1/R1/telemetry") == ("C1", "S1", "L1", "R1")
    for bad in ("robowatch/C1/S1/L1/telemetry", "other/C1/S1/L1/R1/telemetry",
                "robowatch/C1/S1/L1/R 1/telemetry"):
        with pytest.raises(RejectedInput):
            parse_topic(bad)


def test_fast_path_still_refuses_a_name_hiding_a_separator():
    s = parse_payload(msg(signals={"a\x00b": 1.0, "c": 2.0}), topic_robot="R1", now=NOW, limits=LIM)
    assert s.values == {"c": 2.0}
    assert s.dropped == [("a\x00b", "bad_signal_name")]
