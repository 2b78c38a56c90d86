"""A scenario: the simulated fleet (customers > sites > lines > robots), programs and faults.

A scenario is a TOML file (see ``simulators/scenarios/demo.toml``). :meth:`Scenario.load`
validates it with frozen pydantic models that refuse unknown keys (the file's schema), then
builds the frozen dataclasses the simulator uses; bad input raises a :class:`ScenarioError`
naming the file, the key (``customers[0].sites[0].code``) and why. Fault times are *scenario
seconds*: wall-clock seconds since the start of the run multiplied by the run's speed-up factor.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from simulators.signals import catalogue

__all__ = [
    "CODE_RE", "FAULT_KINDS", "PROGRESSIVE_KINDS", "EVENT_KINDS", "Customer", "Site", "Line",
    "Robot", "Program", "Fault", "Scenario", "ScenarioError", "PlacedRobot",
    "default_scenario_path", "packaged_scenario_path",
]

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Tier = Literal["core", "important", "ordinary"]
Protocol = Literal["opcua", "mqtt"]
TIERS: tuple[str, ...] = ("core", "important", "ordinary")
PROTOCOLS: tuple[str, ...] = ("opcua", "mqtt")

# Degradations that grow from onset to a failure point (so the RUL is known at every instant).
PROGRESSIVE_KINDS = (
    "gearbox_wear", "bearing_damage", "lubrication_loss", "motor_overheating", "encoder_drift",
    "brake_fault", "cable_wear",
)
# Events that start at onset and last ``duration_s`` (or to the end of the run when unset).
EVENT_KINDS = ("collision", "sensor_stuck", "comm_loss", "stoppage")
FAULT_KINDS = PROGRESSIVE_KINDS + EVENT_KINDS
JOINT_COMPONENTS = tuple(f"J{n}" for n in range(1, 7))
# Travel of each joint in one move of a generic pick-and-place program.
DEFAULT_AMPLITUDE_DEG = (90.0, 35.0, 45.0, 120.0, 60.0, 180.0)


class ScenarioError(ValueError):
    """A scenario file that cannot be simulated; the message names the entry at fault."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    name: str
    cycle_time_s: float
    duty: float  # fraction of the cycle the arm moves; the rest is dwell (waiting for parts)
    payload_kg: float = 5.0
    amplitude_deg: tuple[float, ...] = DEFAULT_AMPLITUDE_DEG


@dataclass(frozen=True, slots=True, kw_only=True)
class Robot:
    code: str
    brand: str
    model: str
    serial: str
    install_date: date
    warranty_end: date
    program: str
    protocol: Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    code: str
    name: str
    robots: tuple[Robot, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    code: str
    name: str
    city: str | None = None
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    code: str
    name: str
    tier: Tier
    city: str | None = None
    sites: tuple[Site, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A scheduled fault. ``failure_s`` ends a degradation; ``duration_s`` bounds an event."""

    robot: str
    component: str  # "J1".."J6" or "controller"
    kind: str
    onset_s: float
    failure_s: float | None = None
    duration_s: float | None = None
    severity: float = 1.0
    signal: str | None = None  # sensor_stuck: the frozen signal, e.g. "J2.temperature"

    @property
    def joint(self) -> int | None:
        """0-based joint index, or None for a controller fault."""
        return int(self.component[1:]) - 1 if self.component in JOINT_COMPONENTS else None

    @property
    def end_s(self) -> float | None:
        """Scenario second the fault stops acting (None: to the end of the run)."""
        if self.kind in EVENT_KINDS:
            return None if self.duration_s is None else self.onset_s + self.duration_s
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedRobot:
    """A robot with the codes of the customer, site and line it sits in (MQTT topic levels)."""

    robot: Robot
    customer: Customer
    site: Site
    line: Line


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    customers: tuple[Customer, ...]
    programs: tuple[Program, ...]
    faults: tuple[Fault, ...] = ()
    ambient_c: float = 22.0
    thermal_tau_s: float = 20.0  # motor winding time constant, in scenario seconds
    source: str | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(f"{p}: {exc}") from exc
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> Scenario:
        where = source or "<scenario>"
        try:
            doc = _ScenarioFile.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(f"{where}: {_explain(exc, data)}") from None
        return doc.build(name=doc.name or Path(where).stem, source=source)

    def robots(self) -> list[PlacedRobot]:
        """Every robot in file order, with its customer, site and line."""
        return [
            PlacedRobot(robot=r, customer=c, site=s, line=ln)
            for c in self.customers for s in c.sites for ln in s.lines for r in ln.robots
        ]

    def program(self, name: str) -> Program:
        for p in self.programs:
            if p.name == name:
                return p
        raise KeyError(name)

    def scaled(self, n_robots: int) -> Scenario:
        """This fleet with exactly ``n_robots`` robots.

        Fewer: the first ones in file order (faults of dropped robots go too). More: robots
        are cloned round-robin into their original line as ``<code>-c<k>``; clones run the
        same program and carry no scheduled faults, so the ground truth stays the scenario's.
        """
        if n_robots < 1:
            raise ScenarioError("a fleet needs at least one robot")
        placed = self.robots()
        keep: dict[str, list[Robot]] = {}
        for i in range(n_robots):
            base = placed[i % len(placed)].robot
            k = i // len(placed)
            clone = base if k == 0 else replace(
                base, code=f"{base.code}-c{k}", serial=f"{base.serial}-c{k}"
            )
            keep.setdefault(base.code, []).append(clone)

        def lines(ln: Line) -> Line:
            rs = tuple(x for r in ln.robots for x in keep.get(r.code, []))
            return replace(ln, robots=rs)

        customers = tuple(
            replace(c, sites=tuple(
                replace(s, lines=tuple(lines(ln) for ln in s.lines)) for s in c.sites))
            for c in self.customers
        )
        kept = {r.code for rs in keep.values() for r in rs}
        return replace(self, customers=customers,
                       faults=tuple(f for f in self.faults if f.robot in kept))


# -- the file's schema -------------------------------------------------------------------

def _check_code(v: str) -> str:
    if not CODE_RE.match(v):
        raise ValueError(f"code {v!r} does not match {CODE_RE.pattern}")
    return v


_Code = Annotated[str, AfterValidator(_check_code)]


class _Entry(BaseModel):
    # A misspelt key (``duraton_s``) would silently fall back to a default: refuse it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SimulationFile(_Entry):
    ambient_c: float = 22.0
    thermal_tau_s: float = Field(20.0, gt=0)


class _ProgramFile(_Entry):
    name: str
    cycle_time_s: float = Field(gt=0)
    duty: float = Field(0.7, ge=0.05, le=1.0)
    payload_kg: float = Field(5.0, ge=0)
    amplitude_deg: tuple[float, float, float, float, float, float] = DEFAULT_AMPLITUDE_DEG

    def build(self) -> Program:
        return Program(name=self.name, cycle_time_s=self.cycle_time_s, duty=self.duty,
                       payload_kg=self.payload_kg, amplitude_deg=self.amplitude_deg)


class _RobotFile(_Entry):
    code: _Code
    brand: str = ""
    model: str = ""
    serial: str | None = None  # default: the robot's code
    install_date: date = date(2024, 1, 1)
    warranty_end: date = date(2026, 1, 1)
    program: str
    protocol: Protocol = "mqtt"

    def build(self) -> Robot:
        return Robot(code=self.code, brand=self.brand, model=self.model,
                     serial=self.serial or self.code, install_date=self.install_date,
                     warranty_end=self.warranty_end, program=self.program,
                     protocol=self.protocol)


class _LineFile(_Entry):
    code: _Code
    name: str | None = None
    robots: tuple[_RobotFile, ...] = ()

    def build(self) -> Line:
        return Line(code=self.code, name=self.name or self.code,
                    robots=tuple(r.build() for r in self.robots))


class _SiteFile(_Entry):
    code: _Code
    name: str | None = None
    city: str | None = None
    lines: tuple[_LineFile, ...] = ()

    def build(self) -> Site:
        return Site(code=self.code, name=self.name or self.code, city=self.city,
                    lines=tuple(ln.build() for ln in self.lines))


class _CustomerFile(_Entry):
    code: _Code
    name: str | None = None
    tier: Tier = "ordinary"
    city: str | None = None
    sites: tuple[_SiteFile, ...] = ()

    def build(self) -> Customer:
        return Customer(code=self.code, name=self.name or self.code, tier=self.tier,
                        city=self.city, sites=tuple(s.build() for s in self.sites))


class _FaultFile(_Entry):
    robot: str
    component: str = "controller"
    kind: str
    onset_s: float = Field(ge=0)
    failure_s: float | None = None
    duration_s: float | None = Field(None, gt=0)
    severity: float = Field(1.0, gt=0)
    signal: str | None = None  # sensor_stuck: the frozen signal, e.g. "J2.temperature"

    @model_validator(mode="after")
    def _consistent(self) -> _FaultFile:
        what = f"fault {self.kind!r} on {self.robot!r}"
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"{what}: kind must be one of {FAULT_KINDS}")
        joint = self.component in JOINT_COMPONENTS
        if not joint and self.component != "controller":
            raise ValueError(f"{what}: component must be J1..J6 or 'controller'")
        if self.kind in PROGRESSIVE_KINDS:
            if not joint:
                raise ValueError(f"{what}: a {self.kind} acts on a joint J1..J6")
            if self.failure_s is None or self.failure_s <= self.onset_s:
                raise ValueError(f"{what}: needs failure_s > onset_s")
        if self.kind == "collision" and not joint:
            raise ValueError(f"{what}: a collision hits a joint J1..J6")
        if self.kind == "sensor_stuck" and not self.signal:
            raise ValueError(f"{what}: needs signal = '<name>'")
        if self.signal is not None and self.signal not in {sp.name for sp in catalogue()}:
            raise ValueError(f"{what}: unknown signal {self.signal!r} (see docs/signals.md)")
        return self

    def build(self) -> Fault:
        return Fault(robot=self.robot, component=self.component, kind=self.kind,
                     onset_s=self.onset_s, failure_s=self.failure_s,
                     duration_s=self.duration_s, severity=self.severity, signal=self.signal)


class _ScenarioFile(_Entry):
    name: str | None = None  # default: the file's name
    simulation: _SimulationFile = Field(
        default_factory=lambda: _SimulationFile.model_validate({}))
    programs: tuple[_ProgramFile, ...] = ()
    customers: tuple[_CustomerFile, ...] = ()
    faults: tuple[_FaultFile, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> _ScenarioFile:
        if not self.programs:
            raise ValueError("no [[programs]]")
        progs = {p.name for p in self.programs}
        if len(progs) != len(self.programs):
            raise ValueError("two [[programs]] share a name")
        codes: set[str] = set()
        for r in (r for c in self.customers for s in c.sites for ln in s.lines
                  for r in ln.robots):
            if r.code in codes:
                raise ValueError(f"robot code {r.code!r} appears twice")
            codes.add(r.code)
            if r.program not in progs:
                raise ValueError(f"robot {r.code!r} runs unknown program {r.program!r}")
        if not codes:
            raise ValueError("no robots")
        for f in self.faults:
            if f.robot not in codes:
                raise ValueError(f"fault on unknown robot {f.robot!r}")
        return self

    def build(self, *, name: str, source: str | None) -> Scenario:
        return Scenario(name=name, customers=tuple(c.build() for c in self.customers),
                        programs=tuple(p.build() for p in self.programs),
                        faults=tuple(f.build() for f in self.faults),
                        ambient_c=self.simulation.ambient_c,
                        thermal_tau_s=self.simulation.thermal_tau_s, source=source)


_ENTRIES = {"programs": "program", "customers": "customer", "sites": "site", "lines": "line",
            "robots": "robot", "faults": "fault"}


def _explain(exc: ValidationError, data: Any) -> str:
    """``customers[0].sites[0].lines[0].robots[0].warranty: robot 'R': unknown key 'warranty'``:
    where in the file, which entry, and why."""
    parts = []
    for e in exc.errors():
        loc = e["loc"]
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc).lstrip(".")
        entry = _entry_named(data, loc)
        why = (f"unknown key {loc[-1]!r}" if e["type"] == "extra_forbidden"
               else e["msg"].removeprefix("Value error, "))
        parts.append(f"{where or 'the file'}: {entry + ': ' if entry else ''}{why}")
    return "; ".join(parts)


def _entry_named(data: Any, loc: tuple[int | str, ...]) -> str:
    """The innermost ``[[table]]`` entry on the path, by its code or name."""
    found, node, table = "", data, ""
    for k in loc[:-1]:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(k, str):
            table = k
        elif isinstance(node, dict) and table in _ENTRIES:
            if table == "faults":
                found = f"fault {node.get('kind')!r} on {node.get('robot')!r}"
            else:
                found = f"{_ENTRIES[table]} {node.get('code') or node.get('name')!r}"
    return found


def packaged_scenario_path(name: str) -> Path:
    """Path of a scenario shipped in ``simulators/scenarios`` (``demo``, ``bench``)."""
    p = Path(str(resources.files("simulators.scenarios").joinpath(f"{name}.toml")))
    if not p.is_file():
        raise ScenarioError(f"no packaged scenario {name!r}")
    return p


def default_scenario_path() -> Path:
    return packaged_scenario_path("demo")
