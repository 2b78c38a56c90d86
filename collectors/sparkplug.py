"""Sparkplug B (Eclipse Sparkplug 3.0) host-side decoding for the MQTT collector.

Payloads are decoded with the protobuf classes generated from the specification's schema
(``sparkplug_b.proto``) as shipped by the ``esio-spb-builder`` package; no hand-written
protobuf decoding. What this module keeps is the host application's state the
specification asks for:

- births (NBIRTH/DBIRTH) define each metric's name, alias and datatype; data messages
  (NDATA/DDATA) may then name metrics by alias only;
- every message of an edge node after its NBIRTH carries ``seq`` = previous + 1 (mod 256):
  a gap means lost messages (or aliases we may have missed), so we ask for a rebirth
  (NCMD ``Node Control/Rebirth`` = true);
- data from a node we hold no birth for (we started after it) cannot be read either: it is
  quarantined and the node asked to rebirth;
- NDEATH (its bdSeq matching the birth's) takes the node and its devices offline, DDEATH one
  device.

Which edge node / device is which robot and which metric which signal is the mapping file's
(collectors.mapping). Metrics the mapping does not name are ignored (bdSeq, Node Control/*,
whatever else a node publishes).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError

from collectors.decoding import Decoded, dropped_values
from collectors.errors import RejectedInput
from collectors.mapping import SparkplugMapping, SparkplugSignal
from collectors.payload import Limits, Sample, check_size
from collectors.sparkplug_schema import DATATYPE, Payload

__all__ = ["SparkplugDecoder", "NAMESPACE", "rebirth_request"]

log = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
_REBIRTH_METRIC = "Node Control/Rebirth"
# Sparkplug 3.0 (6.4.16): Int8..Int32 travel in the uint32 ``int_value``, Int64 in the uint64
# ``long_value``, as two's complement; widths to sign-extend from.
_SIGNED_BITS = {DATATYPE["Int8"]: 8, DATATYPE["Int16"]: 16, DATATYPE["Int32"]: 32,
                DATATYPE["Int64"]: 64}
_UNSIGNED_INT = {DATATYPE["UInt8"], DATATYPE["UInt16"], DATATYPE["UInt32"]}
_UNSIGNED_LONG = {DATATYPE["UInt64"]}
_FLOAT = DATATYPE["Float"]
_DOUBLE = DATATYPE["Double"]
_BOOLEAN = DATATYPE["Boolean"]


@dataclass(slots=True)
class _Node:
    """What an edge node's last NBIRTH (and its devices' DBIRTHs) told us."""

    bd_seq: int | None
    seq: int
    # device (None: the node itself) -> alias -> (metric name, datatype)
    aliases: dict[str | None, dict[int, tuple[str, int]]] = field(default_factory=dict)
    # device -> metric name -> datatype (data messages may omit the datatype)
    types: dict[str | None, dict[str, int]] = field(default_factory=dict)


def rebirth_request(group: str, edge_node: str, *, now_ms: int) -> tuple[str, bytes]:
    """The NCMD asking ``edge_node`` to publish its births again."""
    payload = Payload(timestamp=now_ms)
    m = payload.metrics.add()
    m.name = _REBIRTH_METRIC
    m.timestamp = now_ms
    m.datatype = _BOOLEAN
    m.boolean_value = True
    return f"{NAMESPACE}/{group}/NCMD/{edge_node}", payload.SerializeToString()


class SparkplugDecoder:
    """Stateful: one per subscription (births of one message define the next ones')."""

    name = "sparkplug"
    shareable = False

    def __init__(self, *, mapping: SparkplugMapping, limits: Limits | None = None) -> None:
        self._map = mapping
        self._limits = limits or Limits()
        self._robots = {(r.edge_node, r.device): r.robot for r in mapping.robots}
        self._signals: dict[str, SparkplugSignal] = {s.metric: s for s in mapping.signals}
        self._nodes: dict[str, _Node] = {}
        self._last_rebirth: dict[str, float] = {}

    @property
    def topic(self) -> str:
        return f"{NAMESPACE}/{self._map.group}/#"

    # -- messages ------------------------------------------------------------------------
    def decode(self, topic: str, raw: bytes, *, now: float) -> Decoded:
        out = Decoded()
        parts = topic.split("/")
        if (len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[1] != self._map.group):
            out.rejects.append(RejectedInput(
                "bad_topic", f"{topic!r} is not {NAMESPACE}/{self._map.group}/<type>/<node>"
                             "[/<device>]"))
            return out
        kind, node_id = parts[2], parts[3]
        device = parts[4] if len(parts) == 5 else None
        if kind in ("NCMD", "DCMD", "STATE"):
            return out  # commands (ours included) and host state: not telemetry
        try:
            check_size(raw, self._limits)
            payload = Payload.FromString(raw)
        except RejectedInput as exc:
            out.rejects.append(exc)
            return out
        except DecodeError as exc:
            out.rejects.append(RejectedInput("malformed_protobuf", str(exc)))
            return out
        if kind == "NBIRTH":
            self._nbirth(node_id, payload, out, now)
        elif kind == "NDEATH":
            self._ndeath(node_id, payload, out)
        elif kind in ("DBIRTH", "NDATA", "DDATA", "DDEATH"):
            self._node_message(kind, node_id, device, payload, out, now)
        else:
            out.rejects.append(RejectedInput("bad_topic", f"unknown message type {kind!r}"))
        return out

    def _nbirth(self, node_id: str, payload: Any, out: Decoded, now: float) -> None:
        bd_seq = next((int(m.long_value) for m in payload.metrics if m.name == "bdSeq"), None)
        node = _Node(bd_seq=bd_seq, seq=int(payload.seq))
        self._nodes[node_id] = node
        self._learn(node, None, payload)
        robot = self._robots.get((node_id, None))
        if robot is not None:
            out.online.append(robot)
        log.info("Sparkplug NBIRTH of %s/%s (bdSeq %s)", self._map.group, node_id, bd_seq)
        self._values(node, node_id, None, payload, out, now)

    def _ndeath(self, node_id: str, payload: Any, out: Decoded) -> None:
        node = self._nodes.get(node_id)
        bd_seq = next((int(m.long_value) for m in payload.metrics if m.name == "bdSeq"), None)
        if node is None or (bd_seq is not None and node.bd_seq is not None
                            and bd_seq != node.bd_seq):
            # A death of an earlier session (its will, delivered late): the node is alive.
            log.info("Sparkplug NDEATH of %s/%s with bdSeq %s ignored (births: %s)",
                     self._map.group, node_id, bd_seq, None if node is None else node.bd_seq)
            return
        del self._nodes[node_id]
        for device in node.aliases:
            robot = self._robots.get((node_id, device))
            if robot is not None:
                out.offline.append((robot, f"Sparkplug NDEATH of {node_id}"))
        log.warning("Sparkplug NDEATH of %s/%s: its robots are offline", self._map.group, node_id)

    def _node_message(self, kind: str, node_id: str, device: str | None, payload: Any,
                      out: Decoded, now: float) -> None:
        if (device is None) != (kind == "NDATA"):
            out.rejects.append(RejectedInput("bad_topic", f"{kind} needs "
                                             f"{'no' if kind == 'NDATA' else 'a'} device id"))
            return
        node = self._nodes.get(node_id)
        if node is None:
            asked = self._ask_rebirth(node_id, out, now)
            out.rejects.append(RejectedInput(
                "no_birth", f"{kind} from {node_id}/{device or ''} before its NBIRTH; {asked}"))
            return
        seq = int(payload.seq)
        expected = (node.seq + 1) % 256
        node.seq = seq
        if seq != expected:
            log.warning("Sparkplug %s/%s: seq %d after %d (messages lost); %s",
                        self._map.group, node_id, seq, (expected - 1) % 256,
                        self._ask_rebirth(node_id, out, now))
        robot = self._robots.get((node_id, device))
        if kind == "DBIRTH":
            self._learn(node, device, payload)
            if robot is not None:
                out.online.append(robot)
        elif kind == "DDEATH":
            node.aliases.pop(device, None)
            node.types.pop(device, None)
            if robot is not None:
                out.offline.append((robot, f"Sparkplug DDEATH of {node_id}/{device}"))
            log.warning("Sparkplug DDEATH of %s/%s/%s", self._map.group, node_id, device)
            return
        self._values(node, node_id, device, payload, out, now)

    def _ask_rebirth(self, node_id: str, out: Decoded, now: float) -> str:
        """Ask ``node_id`` to rebirth unless it was asked less than ``rebirth_every_s`` ago;
        say which, for the caller's log line or quarantine record."""
        every = self._map.rebirth_every_s
        last = self._last_rebirth.get(node_id)
        if last is not None and now - last < every:
            until = datetime.fromtimestamp(last + every, UTC).isoformat(timespec="milliseconds")
            return f"rebirth not requested again before {until} (one request per {every:g} s)"
        self._last_rebirth[node_id] = now
        out.commands.append(rebirth_request(self._map.group, node_id,
                                            now_ms=round(now * 1000)))
        return "rebirth requested"

    @staticmethod
    def _learn(node: _Node, device: str | None, payload: Any) -> None:
        aliases: dict[int, tuple[str, int]] = {}
        types: dict[str, int] = {}
        for m in payload.metrics:
            if m.HasField("alias"):
                aliases[int(m.alias)] = (m.name, int(m.datatype))
            types[m.name] = int(m.datatype)
        node.aliases[device] = aliases
        node.types[device] = types

    # -- values --------------------------------------------------------------------------
    def _values(self, node: _Node, node_id: str, device: str | None, payload: Any,
                out: Decoded, now: float) -> None:
        robot = self._robots.get((node_id, device))
        if robot is None:
            return  # a node or device the mapping does not name: not ours
        aliases = node.aliases.get(device, {})
        types = node.types.get(device, {})
        default_ts = payload.timestamp / 1000.0 if payload.HasField("timestamp") else now
        by_ts: dict[float, dict[str, float | None]] = {}
        dropped: list[tuple[str, str]] = []
        unknown_alias = False
        for m in payload.metrics:
            if m.name:
                name, dtype = m.name, int(m.datatype) or types.get(m.name, 0)
            elif m.HasField("alias") and int(m.alias) in aliases:
                name, dtype = aliases[int(m.alias)]
                dtype = int(m.datatype) or dtype
            else:
                unknown_alias = True
                dropped.append((f"alias {m.alias}", "unknown_alias"))
                continue
            sig = self._signals.get(name)
            if sig is None:
                continue
            ts = m.timestamp / 1000.0 if m.HasField("timestamp") else default_ts
            if not (now - self._limits.max_past_s <= ts <= now + self._limits.max_future_s):
                dropped.append((name, "clock_skew"))
                continue
            value, reason = _number(m, dtype)
            if reason is not None:
                dropped.append((name, reason))
                continue
            if value is not None:
                value = value * sig.scale + sig.offset
            by_ts.setdefault(ts, {})[sig.signal] = value
        for ts, values in by_ts.items():
            out.samples.append(Sample(robot=robot, ts=ts, seq=int(payload.seq), values=values))
        if dropped:
            out.rejects.append(dropped_values(dropped))
        if unknown_alias:
            log.info("Sparkplug %s/%s: metric alias without a birth; %s", self._map.group,
                     node_id, self._ask_rebirth(node_id, out, now))


def _number(m: Any, dtype: int) -> tuple[float | None, str | None]:
    """(value, None), (None, None) for a null (bad quality), or (None, reason)."""
    if m.is_null:
        return None, None
    bits = _SIGNED_BITS.get(dtype)
    if bits is not None:
        raw = int(m.long_value if bits == 64 else m.int_value) & ((1 << bits) - 1)
        return float(raw - (1 << bits) if raw >> (bits - 1) else raw), None
    if dtype in _UNSIGNED_INT:
        return float(m.int_value), None
    if dtype in _UNSIGNED_LONG:
        return float(m.long_value), None
    if dtype == _BOOLEAN:
        return float(m.boolean_value), None
    if dtype in (_FLOAT, _DOUBLE):
        v = float(m.float_value if dtype == _FLOAT else m.double_value)
        return (v, None) if math.isfinite(v) else (None, "non_finite")
    return None, "not_a_number"
