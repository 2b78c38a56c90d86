"""Where a ticket's life hands over to after sales (docs/after-sales.md): the two hooks
``ticketing.events`` calls inside the event's transaction.

- a ticket opens: is it a repeat of a recently completed one, is its fault a common problem
  (``ticketing.improvement.recurrence``)?
- a ticket is completed (signed off by the customer): its callback survey opens
  (``ticketing.feedback.callbacks``) and, for grade I/II or a repeat, its root-cause report
  falls due (``ticketing.improvement.rca``).
"""

from __future__ import annotations

from datetime import datetime

from storage import tickets as store
from ticketing.feedback import callbacks
from ticketing.improvement import rca, recurrence
from ticketing.policy import Policy

__all__ = ["on_opened", "on_completed", "COMPLETION"]

# The event that completes a ticket for after sales: the customer's sign-off.
COMPLETION = "sign_off"


def on_opened(*, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
              at: datetime) -> None:
    recurrence.on_opened(conn=conn, ticket=ticket, policy=policy, at=at)


def on_completed(*, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
                 at: datetime) -> None:
    callbacks.open_survey(conn=conn, ticket=ticket, policy=policy, at=at)
    rca.on_completed(conn=conn, ticket=ticket, policy=policy, at=at)
