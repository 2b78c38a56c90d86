"""OPC UA node map: which node of which server is which robot signal (docs/opcua-nodemap.md).

A controller's server names things its own way (``ns=3;i=40012``,
``Objects/KRC/Axis_A1/MotorCurrent``). The node map (TOML) says, per endpoint and robot, which
node feeds which signal as ``value * scale + offset``. A node is given either as a NodeId
(``nsu=<namespace URI>;s=...`` is preferred: namespace indexes may change when a server is
reconfigured, URIs do not) or as a browse path of names from ``Objects``. Validated by frozen
models that refuse unknown keys: a typo is an error at start-up, not silently unmapped data.

``robowatch collect opcua-browse URL --out nodemap.toml`` writes a draft
(:func:`render_nodemap`) that a person edits.
"""

from __future__ import annotations

from pathlib import Path

import tomli_w
from pydantic import BaseModel, Field, model_validator

from collectors.mapping import STRICT, SignalMap, read_toml_model
from collectors.payload import ROBOT_CODE_RE

__all__ = ["NodeSignal", "NodeRobot", "NodeEndpoint", "NodeMap", "load_nodemap",
           "render_nodemap"]


class NodeSignal(SignalMap):
    """One signal: its node as a NodeId string or as a browse path from ``Objects``."""

    node: str | None = Field(default=None, min_length=1)
    path: tuple[str, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_address(self) -> NodeSignal:
        if (self.node is None) == (self.path is None):
            raise ValueError(f"{self.signal!r}: give exactly one of node or path")
        return self

    @property
    def address(self) -> str:
        return self.node if self.node is not None else "/".join(self.path or ())


class NodeRobot(BaseModel):
    model_config = STRICT
    # The robot's code in robowatch, or its serial number (as a controller knows it).
    robot: str = Field(pattern=ROBOT_CODE_RE.pattern)
    signals: tuple[NodeSignal, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> NodeRobot:
        names = [s.signal for s in self.signals]
        if len(set(names)) != len(names):
            raise ValueError(f"robot {self.robot}: a signal is mapped twice")
        return self


class NodeEndpoint(BaseModel):
    model_config = STRICT
    url: str = Field(pattern=r"^opc\.tcp://")
    # Also discover robots the server describes in the OPC 40010 Robotics model (and our
    # simulator's layout); the map adds or overrides signals. False: only what is mapped.
    discover: bool = True
    robots: tuple[NodeRobot, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> NodeEndpoint:
        codes = [r.robot for r in self.robots]
        if len(set(codes)) != len(codes):
            raise ValueError(f"{self.url}: a robot is mapped twice")
        return self


class NodeMap(BaseModel):
    model_config = STRICT
    endpoints: tuple[NodeEndpoint, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> NodeMap:
        urls = [e.url for e in self.endpoints]
        if len(set(urls)) != len(urls):
            raise ValueError("an endpoint is listed twice")
        return self

    def endpoint(self, url: str) -> NodeEndpoint | None:
        return next((e for e in self.endpoints if e.url == url), None)


def load_nodemap(path: Path) -> NodeMap:
    return read_toml_model(NodeMap, path)


_HEADER = """\
# robowatch OPC UA node map, drafted by `robowatch collect opcua-browse`.
# Edit before use: set each robot to its code (or serial number) in robowatch, rename signals to
# the robowatch vocabulary (J<n>.current, J<n>.temperature, ...; docs/signals.md), delete the
# variables you do not want, and set scale/offset/unit where the server's units differ.
# Each signal's value is stored as value * scale + offset. docs/opcua-nodemap.md explains it.

"""


def _pairs(values: dict[str, object]) -> str:
    return tomli_w.dumps({k: v for k, v in values.items() if v is not None})


def render_nodemap(nodemap: NodeMap, notes: dict[str, str] | None = None) -> str:
    """TOML text of ``nodemap``, one table per signal; ``notes`` (address -> text) become a
    comment above the signal they concern (the data type the server declares) for the person
    who edits the draft."""
    notes = notes or {}
    out = [_HEADER]
    for ep in nodemap.endpoints:
        out.append("[[endpoints]]\n" + _pairs({"url": ep.url, "discover": ep.discover}))
        for robot in ep.robots:
            out.append("\n[[endpoints.robots]]\n" + _pairs({"robot": robot.robot}))
            for sig in robot.signals:
                note = notes.get(sig.address)
                out.append("\n" + (f"# {note}\n" if note else "")
                           + "[[endpoints.robots.signals]]\n" + _pairs(
                               sig.model_dump(mode="json", exclude_defaults=True)))
    return "".join(out)
