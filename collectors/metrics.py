"""Prometheus metrics of a collector process, on a registry the process owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CollectorMetrics", "LAG_BUCKETS"]

# Fine below 1 s: the goal is p99 ingest lag <= 1 s, and the benchmark reads the
# quantiles from these buckets (linear interpolation, as PromQL's histogram_quantile does).
LAG_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
               1.25, 1.5, 2, 3, 5, 10, 30, 60)


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "robowatch_points_received", "Values received", ["source"], registry=r,
        )
        self.messages = Counter(
            "robowatch_messages_received", "Messages received", ["source"], registry=r,
        )
        self.written = Counter(
            "robowatch_points_written", "Values committed to the database", registry=r,
        )
        self.rejected = Counter(
            "robowatch_rejected", "Inputs quarantined", ["source", "reason"], registry=r,
        )
        self.spool_depth = Gauge(
            "robowatch_spool_rows", "Points buffered in memory, not yet written", registry=r,
        )
        self.spool_bytes = Gauge(
            "robowatch_spool_disk_bytes", "Bytes in the on-disk spool", registry=r,
        )
        self.spool_segments = Gauge(
            "robowatch_spool_disk_segments", "Batches in the on-disk spool", registry=r,
        )
        self.spooled = Counter(
            "robowatch_points_spooled", "Points written to the on-disk spool", registry=r,
        )
        self.replayed = Counter(
            "robowatch_points_replayed", "Spooled points replayed into the database",
            registry=r,
        )
        self.duplicates = Counter(
            "robowatch_points_duplicate",
            "Points already stored (redelivery, replay), skipped", registry=r,
        )
        self.write_latency = Histogram(
            "robowatch_write_seconds", "Duration of one COPY batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ingest_lag = Histogram(
            "robowatch_ingest_lag_seconds", "Sample time to commit", registry=r,
            buckets=LAG_BUCKETS,
        )
        self.connected = Gauge(
            "robowatch_source_connected",
            "1 while a source is connected and its subscriptions are acknowledged", ["origin"],
            registry=r,
        )
        self.subscribe_refused = Counter(
            "robowatch_subscribe_refused", "Subscriptions the server refused (ACL)", ["origin"],
            registry=r,
        )
