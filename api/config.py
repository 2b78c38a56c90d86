"""The API's own knobs, passed explicitly to ``create_app`` (no settings read at import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["ApiConfig"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """Operational settings of one app instance; ``clock`` is injectable for SLA tests."""

    database_url: str
    pool_min_size: int = 1
    # Sync handlers run in Starlette's thread pool (40 threads); more connections than the
    # busiest handlers can use would only idle on the server.
    pool_max_size: int = 8
    pool_timeout: float = 10.0
    health_timeout: float = 2.0
    # Messages a WebSocket client may have unsent before it is dropped as too slow.
    stream_queue_size: int = 256
    stream_heartbeat: float = 30.0
    stream_backoff_max: float = 30.0
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False)

    def __post_init__(self) -> None:
        if not self.database_url:
            raise ValueError("database_url is required")
        if not 1 <= self.pool_min_size <= self.pool_max_size:
            raise ValueError("need 1 <= pool_min_size <= pool_max_size")
        for name in ("pool_timeout", "health_timeout", "stream_heartbeat", "stream_backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.stream_queue_size < 1:
            raise ValueError("stream_queue_size must be >= 1")
