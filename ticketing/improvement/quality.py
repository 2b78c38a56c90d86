"""Quality control (service rules section 6, seed 003): at least ``qc_share`` of the tickets
resolved in a period are drawn at random for a check after completion, and each check's
result is recorded.

The draw is reproducible: the same population, share and seed always draw the same tickets
(a ``random.Random(seed)`` sample of the sorted ids), so an auditor can redo it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime

from storage import improvement as istore
from storage.tickets import Conn, atomic
from ticketing.errors import EventRefused, MissingDetail, PolicyError, TicketNotFound
from ticketing.policy import Policy

__all__ = ["draw_size", "draw", "run_draw", "record_check", "RESULTS"]

RESULTS = ("pass", "fail")


def draw_size(population: int, share: float) -> int:
    """How many to check: the share rounded up, so never below it (and none of none)."""
    if population < 0 or not 0 < share <= 1:
        raise ValueError(f"population {population} and share {share} are not a draw")
    return math.ceil(population * share - 1e-9)


def draw(ticket_ids: Iterable[int], *, share: float, seed: int) -> list[int]:
    """The tickets drawn, sorted; the same for the same ids (in any order), share and seed."""
    ids = sorted(set(ticket_ids))
    return sorted(random.Random(seed).sample(ids, draw_size(len(ids), share)))


def run_draw(
    *, conn: Conn, since: datetime, until: datetime, seed: int, actor: str, now: datetime,
    policy: Policy,
) -> istore.QcDrawRow:
    """Draw from the tickets resolved in ``[since, until)`` and store the draw."""
    if policy.improvement is None:
        raise PolicyError(f"policy {policy.label} has no [improvement] section")
    if until <= since:
        raise MissingDetail("the period must end after it starts")
    share = policy.improvement.qc_share
    with atomic(conn=conn):
        population = istore.resolved_between(conn=conn, since=since, until=until)
        chosen = draw(population, share=share, seed=seed)
        draw_id = istore.create_draw(conn=conn, since=since, until=until, seed=seed,
                                     share=share, population=len(population),
                                     ticket_ids=chosen, at=now, by=actor)
        row = istore.get_draw(conn=conn, draw_id=draw_id)
    assert row is not None
    return row


def record_check(
    *, conn: Conn, draw_id: int, ticket_id: int, result: str, note: str | None, actor: str,
    now: datetime,
) -> None:
    if result not in RESULTS:
        raise MissingDetail(f"result must be one of {RESULTS}, got {result!r}")
    if istore.get_draw(conn=conn, draw_id=draw_id) is None:
        raise TicketNotFound(f"no quality-control draw {draw_id}")
    if not istore.record_check(conn=conn, draw_id=draw_id, ticket_id=ticket_id, result=result,
                               note=note, at=now, by=actor):
        raise EventRefused(event="record_check", state="-",
                           why=f"ticket {ticket_id} is not in draw {draw_id}, or is checked")
