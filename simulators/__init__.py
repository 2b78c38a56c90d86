"""A fleet of simulated 6-axis arms with scheduled faults and ground truth.

Entry point: ``robowatch simulate``. The scenario dataclasses are re-exported here so that the
wiring can register the simulated fleet in the database.
"""

from simulators.scenario import (
    EVENT_KINDS,
    FAULT_KINDS,
    PROGRESSIVE_KINDS,
    Customer,
    Fault,
    Line,
    PlacedRobot,
    Program,
    Robot,
    Scenario,
    ScenarioError,
    Site,
    default_scenario_path,
    packaged_scenario_path,
)

__all__ = [
    "EVENT_KINDS", "FAULT_KINDS", "PROGRESSIVE_KINDS", "Customer", "Fault", "Line",
    "PlacedRobot", "Program", "Robot", "Scenario", "ScenarioError", "Site",
    "default_scenario_path", "packaged_scenario_path",
]
