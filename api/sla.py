"""SLA status of a ticket at read time: which clocks are overdue and how long remains.

The clocks themselves (``respond_by``, ``resolve_by``) are set by ticketing from the company's
policy file; here we only compare them with *now*, so the figures are fresh on every read
without a job rewriting rows every second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["SlaStatus", "sla_status"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaStatus:
    respond_overdue: bool
    resolve_overdue: bool
    # Seconds until the deadline (negative once passed); None once the clock has stopped.
    respond_remaining_s: float | None
    resolve_remaining_s: float | None


def sla_status(
    *,
    now: datetime,
    respond_by: datetime,
    resolve_by: datetime,
    responded_at: datetime | None,
    resolved_at: datetime | None,
    closed_at: datetime | None,
) -> SlaStatus:
    """Compare both clocks with ``now``.

    A clock stops when its milestone is reached (a response; a resolution or, failing that,
    the closing). A stopped clock stays overdue if the milestone came late: a breach is
    evidence for the customer report and must not vanish once the work is done.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    resolved = resolved_at or closed_at
    return SlaStatus(
        respond_overdue=(responded_at or now) > respond_by,
        resolve_overdue=(resolved or now) > resolve_by,
        respond_remaining_s=None if responded_at else (respond_by - now).total_seconds(),
        resolve_remaining_s=None if resolved else (resolve_by - now).total_seconds(),
    )
