"""The OPC UA capacity benchmark: a real server, a real asyncua client in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.opcua_capacity import _sample_node_ids, trial
from simulators.scenario import Scenario, packaged_scenario_path


def test_sample_spreads_over_the_fleet() -> None:
    codes = [f"R{i}" for i in range(100)]
    ids = _sample_node_ids(codes, 3, ["J3.temperature", "cycle_count"])
    assert ids == ["R0/Joints/J3/Temperature", "R0/Controller/CycleCount",
                   "R50/Joints/J3/Temperature", "R50/Controller/CycleCount",
                   "R99/Joints/J3/Temperature", "R99/Controller/CycleCount"]
    with pytest.raises(ValueError, match="unknown signals"):
        _sample_node_ids(codes, 3, ["J9.nothing"])


@pytest.mark.opcua
@pytest.mark.slow
async def test_a_small_fleet_passes_and_every_sample_arrives() -> None:
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(3)
    t = await trial(sc, rate_hz=10.0, seconds=2.0, sample_robots=3)
    assert t.robots == 3 and t.sampled_nodes == 15
    assert t.expected_samples == 15 * 20
    assert t.received_ratio >= 0.99, t
    assert t.passed, t.reason
    assert t.latency_p99_s is not None and 0 <= t.latency_p99_s < 1.0


@pytest.mark.opcua
@pytest.mark.slow
def test_bench_opcua_server_prints_a_json_report_last(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOWATCH_")}
    out = subprocess.run(
        [sys.executable, "-m", "robowatch", "bench", "opcua-server", "--start", "2",
         "--max-robots", "2", "--seconds", "2", "--sample-robots", "2", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["benchmark"] == "opcua-server" and report["capacity_robots"] == 2
    assert [t["robots"] for t in report["trials"]] == [2]
