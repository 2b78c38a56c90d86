"""The scenario's fleet as ``storage.fleet`` specs, for ``register_fleet``."""

from __future__ import annotations

from simulators.scenario import Scenario
from storage.fleet import CustomerSpec, FleetSpec, LineSpec, RobotSpec, SiteSpec

__all__ = ["fleet_spec"]


def fleet_spec(scenario: Scenario) -> FleetSpec:
    """Customers > sites > lines > robots of ``scenario``, ready for ``register_fleet``."""
    return FleetSpec(customers=tuple(
        CustomerSpec(code=c.code, name=c.name, tier=c.tier, city=c.city, sites=tuple(
            SiteSpec(code=s.code, name=s.name, city=s.city, lines=tuple(
                LineSpec(code=ln.code, name=ln.name, robots=tuple(
                    RobotSpec(code=r.code, brand=r.brand or None, model=r.model or None,
                              serial=r.serial or None, install_date=r.install_date,
                              warranty_end=r.warranty_end)
                    for r in ln.robots))
                for ln in s.lines))
            for s in c.sites))
        for c in scenario.customers))
