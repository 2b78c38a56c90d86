"""A scenario: the simulated fleet (customers > sites > lines > robots), programs and faults.

A scenario is a TOML file (see ``simulators/scenarios/demo.toml``); :meth:`Scenario.load`
parses it into frozen dataclasses and rejects bad input with a :class:`ScenarioError` that
names the offending entry. Fault times are *scenario seconds*: wall-clock seconds since the
start of the run multiplied by the run's speed-up factor.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

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
            _known_keys(data, "scenario", "the file")
            sim = data.get("simulation", {})
            _known_keys(sim, "simulation", "[simulation]")
            programs = tuple(_program(p) for p in data.get("programs", []))
            customers = tuple(_customer(c) for c in data.get("customers", []))
            faults = tuple(_fault(f) for f in data.get("faults", []))
            scenario = cls(
                name=str(data.get("name") or Path(where).stem),
                customers=customers, programs=programs, faults=faults,
                ambient_c=float(sim.get("ambient_c", 22.0)),
                thermal_tau_s=float(sim.get("thermal_tau_s", 20.0)), source=source,
            )
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from exc
        except KeyError as exc:
            raise ScenarioError(f"{where}: an entry lacks the required key {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"{where}: {type(exc).__name__}: {exc}") from exc
        scenario._validate(where)
        return scenario

    def _validate(self, where: str) -> None:
        if self.thermal_tau_s <= 0:
            raise ScenarioError(f"{where}: [simulation] thermal_tau_s must be > 0")
        if not self.programs:
            raise ScenarioError(f"{where}: no [[programs]]")
        progs = {p.name for p in self.programs}
        codes: set[str] = set()
        for pr in self.robots():
            r = pr.robot
            if r.code in codes:
                raise ScenarioError(f"{where}: robot code {r.code!r} appears twice")
            codes.add(r.code)
            if r.program not in progs:
                raise ScenarioError(f"{where}: robot {r.code!r} runs unknown program {r.program!r}")
        if not codes:
            raise ScenarioError(f"{where}: no robots")
        if len(progs) != len(self.programs):
            raise ScenarioError(f"{where}: two [[programs]] share a name")
        for f in self.faults:
            if f.robot not in codes:
                raise ScenarioError(f"{where}: fault on unknown robot {f.robot!r}")

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


_KEYS = {
    "scenario": {"name", "simulation", "programs", "customers", "faults"},
    "simulation": {"ambient_c", "thermal_tau_s"},
    "program": {"name", "cycle_time_s", "duty", "payload_kg", "amplitude_deg"},
    "customer": {"code", "name", "tier", "city", "sites"},
    "site": {"code", "name", "city", "lines"},
    "line": {"code", "name", "robots"},
    "robot": {"code", "brand", "model", "serial", "install_date", "warranty_end", "program",
              "protocol"},
    "fault": {"robot", "component", "kind", "onset_s", "failure_s", "duration_s", "severity",
              "signal"},
}


def _known_keys(d: dict[str, Any], table: str, what: str) -> None:
    """A misspelt key (``duraton_s``) would silently fall back to a default: refuse it."""
    unknown = sorted(set(d) - _KEYS[table])
    if unknown:
        raise ScenarioError(f"{what}: unknown key(s) {unknown}; expected some of "
                            f"{sorted(_KEYS[table])}")


def _code(v: Any, what: str) -> str:
    s = str(v)
    if not CODE_RE.match(s):
        raise ScenarioError(f"{what} code {s!r} does not match {CODE_RE.pattern}")
    return s


def _date(v: Any, what: str) -> date:
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError as exc:
        raise ScenarioError(f"{what}: bad date {v!r}") from exc


def _program(d: dict[str, Any]) -> Program:
    name = str(d["name"])
    _known_keys(d, "program", f"program {name!r}")
    cycle = float(d["cycle_time_s"])
    duty = float(d.get("duty", 0.7))
    if cycle <= 0 or not 0.05 <= duty <= 1.0:
        raise ScenarioError(f"program {name!r}: need cycle_time_s > 0 and 0.05 <= duty <= 1")
    amp = tuple(float(a) for a in d.get("amplitude_deg", DEFAULT_AMPLITUDE_DEG))
    if len(amp) != 6:
        raise ScenarioError(f"program {name!r}: amplitude_deg needs 6 values, one per joint")
    return Program(name=name, cycle_time_s=cycle, duty=duty,
                   payload_kg=float(d.get("payload_kg", 5.0)), amplitude_deg=amp)


def _robot(d: dict[str, Any]) -> Robot:
    code = _code(d["code"], "robot")
    _known_keys(d, "robot", f"robot {code!r}")
    protocol = str(d.get("protocol", "mqtt"))
    if protocol not in PROTOCOLS:
        raise ScenarioError(f"robot {code!r}: protocol must be one of {PROTOCOLS}")
    return Robot(
        code=code, brand=str(d.get("brand", "")), model=str(d.get("model", "")),
        serial=str(d.get("serial", code)),
        install_date=_date(d.get("install_date", "2024-01-01"), f"robot {code!r}"),
        warranty_end=_date(d.get("warranty_end", "2026-01-01"), f"robot {code!r}"),
        program=str(d["program"]), protocol=protocol,  # type: ignore[arg-type]
    )


def _customer(d: dict[str, Any]) -> Customer:
    code = _code(d["code"], "customer")
    _known_keys(d, "customer", f"customer {code!r}")
    for s in d.get("sites", []):
        _known_keys(s, "site", f"site {s.get('code')!r}")
        for ln in s.get("lines", []):
            _known_keys(ln, "line", f"line {ln.get('code')!r}")
    tier = str(d.get("tier", "ordinary"))
    if tier not in TIERS:
        raise ScenarioError(f"customer {code!r}: tier must be one of {TIERS}")
    sites = tuple(
        Site(code=_code(s["code"], "site"), name=str(s.get("name", s["code"])),
             city=s.get("city"),
             lines=tuple(Line(code=_code(ln["code"], "line"), name=str(ln.get("name", ln["code"])),
                              robots=tuple(_robot(r) for r in ln.get("robots", [])))
                         for ln in s.get("lines", [])))
        for s in d.get("sites", [])
    )
    return Customer(code=code, name=str(d.get("name", code)), tier=tier,  # type: ignore[arg-type]
                    city=d.get("city"), sites=sites)


def _fault(d: dict[str, Any]) -> Fault:
    robot = str(d["robot"])
    kind = str(d["kind"])
    what = f"fault {kind!r} on {robot!r}"
    _known_keys(d, "fault", what)
    if kind not in FAULT_KINDS:
        raise ScenarioError(f"{what}: kind must be one of {FAULT_KINDS}")
    component = str(d.get("component", "controller"))
    if component not in JOINT_COMPONENTS and component != "controller":
        raise ScenarioError(f"{what}: component must be J1..J6 or 'controller'")
    onset = float(d["onset_s"])
    failure = d.get("failure_s")
    duration = d.get("duration_s")
    f = Fault(robot=robot, component=component, kind=kind, onset_s=onset,
              failure_s=None if failure is None else float(failure),
              duration_s=None if duration is None else float(duration),
              severity=float(d.get("severity", 1.0)), signal=d.get("signal"))
    if onset < 0:
        raise ScenarioError(f"{what}: onset_s must be >= 0")
    if kind in PROGRESSIVE_KINDS:
        if f.joint is None:
            raise ScenarioError(f"{what}: a {kind} acts on a joint J1..J6")
        if f.failure_s is None or f.failure_s <= onset:
            raise ScenarioError(f"{what}: needs failure_s > onset_s")
    if kind == "collision" and f.joint is None:
        raise ScenarioError(f"{what}: a collision hits a joint J1..J6")
    if kind == "sensor_stuck" and not f.signal:
        raise ScenarioError(f"{what}: needs signal = '<name>'")
    if f.signal is not None and f.signal not in {sp.name for sp in catalogue()}:
        raise ScenarioError(f"{what}: unknown signal {f.signal!r} (see docs/signals.md)")
    if f.severity <= 0:
        raise ScenarioError(f"{what}: severity must be > 0")
    if f.duration_s is not None and f.duration_s <= 0:
        raise ScenarioError(f"{what}: duration_s must be > 0")
    return f


def packaged_scenario_path(name: str) -> Path:
    """Path of a scenario shipped in ``simulators/scenarios`` (``demo``, ``bench``)."""
    p = Path(str(resources.files("simulators.scenarios").joinpath(f"{name}.toml")))
    if not p.is_file():
        raise ScenarioError(f"no packaged scenario {name!r}")
    return p


def default_scenario_path() -> Path:
    return packaged_scenario_path("demo")
