"""The API's own knobs, passed explicitly to ``create_app`` (no settings read at import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

    # Identity and access (docs/access.md).
    # One shift: the duty roster hands work over between shifts, so a session need not
    # outlive one, and a stolen token is good for at most that long. Shorter would make the
    # wall screen ask for a password in the middle of a shift.
    token_ttl: timedelta = timedelta(hours=8)
    # Failed logins counted over this sliding window; an attempt past a limit is answered
    # 429 without checking the password, and does not extend the wait.
    login_window: timedelta = timedelta(minutes=15)
    # A person who mistypes three or four times still gets in; an online guesser gets 20
    # tries an hour at one account (OWASP's advice is a small number per account).
    login_failures_per_user: int = 5
    # Several support staff behind one office NAT can all mistype without locking the office
    # out; one address spraying many usernames is held to 80 guesses an hour.
    login_failures_per_address: int = 20
    cookie_name: str = "rw_session"
    # None: the cookie is Secure when the request came over https; True/False forces it
    # (True behind a TLS-terminating proxy, which this app cannot see).
    cookie_secure: bool | None = None
    # The access policy; None: the packaged ticketing/policies/access.toml.
    access_file: Path | None = None
    # The service policy events are checked and clocked against (the ticketing service's);
    # None: the packaged default (seed 000).
    policy_file: Path | None = None
    # The spare-parts policy (warranty term, requisition limits); None: parts/policies/default.
    parts_policy_file: Path | None = None
    # How often an open live stream re-checks its session, so a revoked or expired token's
    # stream ends within this long (each check is one indexed lookup).
    stream_auth_recheck: float = 30.0

    def __post_init__(self) -> None:
        if not self.database_url:
            raise ValueError("database_url is required")
        if not 1 <= self.pool_min_size <= self.pool_max_size:
            raise ValueError("need 1 <= pool_min_size <= pool_max_size")
        for name in ("pool_timeout", "health_timeout", "stream_heartbeat", "stream_backoff_max",
                     "stream_auth_recheck"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.stream_queue_size < 1:
            raise ValueError("stream_queue_size must be >= 1")
        if self.token_ttl <= timedelta(0) or self.login_window <= timedelta(0):
            raise ValueError("token_ttl and login_window must be > 0")
        if min(self.login_failures_per_user, self.login_failures_per_address) < 1:
            raise ValueError("login failure limits must be >= 1")
        if not self.cookie_name or not self.cookie_name.isascii() or "=" in self.cookie_name:
            raise ValueError(f"cookie_name {self.cookie_name!r} is not a cookie name")
