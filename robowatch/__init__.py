"""robowatch: CLI, settings and the wiring of processes. Nothing imports this package."""

__version__ = "0.1.0"
