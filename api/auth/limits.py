"""Login rate limits: failed attempts per username and per client address, over a sliding
window (the numbers and their reasons are in :class:`api.config.ApiConfig`).

Failures are kept in the database, so every API process and every restart sees the same
count. An attempt over a limit is refused before the password is checked and is not itself
counted, so waiting out ``Retry-After`` always works.
"""

from __future__ import annotations

import math
from datetime import datetime

from api.config import ApiConfig
from storage.connect import Conn
from storage.users import recent_login_failures

__all__ = ["login_wait"]


def login_wait(
    *, conn: Conn, config: ApiConfig, username: str, address: str, now: datetime
) -> int | None:
    """Seconds to wait before the next attempt may be checked; None when it may be now."""
    per_user, per_address = config.login_failures_per_user, config.login_failures_per_address
    by_user, by_address = recent_login_failures(
        conn=conn, username=username, address=address, since=now - config.login_window,
        limit=max(per_user, per_address))
    waits = [
        # With ``limit`` failures in the window, the limit-th newest must leave it first.
        (times[limit - 1] + config.login_window - now).total_seconds()
        for times, limit in ((by_user, per_user), (by_address, per_address))
        if len(times) >= limit
    ]
    return math.ceil(max(waits)) if waits else None
