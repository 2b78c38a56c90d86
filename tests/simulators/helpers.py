"""Small scenarios built in code, for the simulator tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulators.model import FleetModel
from simulators.scenario import Scenario


def scenario(faults: list[dict[str, Any]] | None = None, *, robots: int = 2,
             protocol: str = "mqtt") -> Scenario:
    return Scenario.from_dict({
        "name": "unit",
        "simulation": {"ambient_c": 22.0, "thermal_tau_s": 10.0},
        "programs": [{"name": "p", "cycle_time_s": 4.0, "duty": 0.8, "payload_kg": 10.0}],
        "customers": [{
            "code": "C1", "name": "Customer", "tier": "core",
            "sites": [{"code": "S1", "name": "Site", "lines": [{
                "code": "L1", "name": "Line",
                "robots": [{"code": f"R{i}", "program": "p", "protocol": protocol}
                           for i in range(robots)],
            }]}],
        }],
        "faults": faults or [],
    })


def trace(sc: Scenario, *, seconds: float, rate: float = 10.0, speedup: float = 1.0,
          seed: int = 3) -> tuple[FleetModel, np.ndarray, np.ndarray, np.ndarray]:
    """(model, scenario times [T], values [T, n, S], publishing [T, n])."""
    m = FleetModel(sc, seed=seed, speedup=speedup, start_time=1_000.0)
    ts = 1_000.0 + np.arange(0.0, seconds, 1.0 / rate)
    vals, pub = [], []
    for t in ts:
        vals.append(m.step(float(t)).copy())
        pub.append(m.publishing.copy())
    return m, (ts - 1_000.0) * speedup, np.array(vals), np.array(pub)
