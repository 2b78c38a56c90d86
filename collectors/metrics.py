"""Prometheus metrics of a collector process, on a registry the process owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CollectorMetrics"]


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("robowatch_points_received", "Values received", ["source"], registry=r)
        self.messages = Counter("robowatch_messages_received", "Messages received", ["source"], registry=r)
        self.written = Counter("robowatch_points_written", "Values committed to the database", registry=r)
        self.rejected = Counter("robowatch_rejected", "Inputs quarantined", ["source", "reason"], registry=r)
        self.spool_depth = Gauge("robowatch_spool_rows", "Rows waiting to be written", registry=r)
        self.write_latency = Histogram(
            "robowatch_write_seconds", "Duration of one COPY batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ingest_lag = Histogram(
            "robowatch_ingest_lag_seconds", "Sample time to commit", registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )
        self.connected = Gauge("robowatch_source_connected", "1 while a source is connected", ["origin"], registry=r)
