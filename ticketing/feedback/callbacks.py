"""The callback survey after a ticket's completion (service rules section 5; policy
``[callbacks]``): opened when the customer signs off, due within ``within`` (3 working days;
seed 003: 24 h) on the ticket's own clock ``callback``, answered with a score 1-5 and
suggestions, recorded by customer service or by the customer through a link.

The link is a random 256-bit token, unguessable; only its SHA-256 digest is stored, so the
database cannot give it away. It works once, until ``link_valid`` runs out, and issuing a new
one voids the old. A score below ``low_score`` opens a follow-up feedback record about the
ticket (``ticketing.feedback.records.register``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from storage import callbacks as cstore
from storage import feedback as fstore
from storage import tickets as store
from ticketing import clocks, deadlines
from ticketing.errors import EventRefused, LinkRefused, MissingDetail, PolicyError, TicketNotFound
from ticketing.feedback import records
from ticketing.feedback.policy import CallbackRules
from ticketing.policy import Policy

__all__ = ["rules_of", "open_survey", "issue_link", "record", "record_by_link", "token_digest",
           "SCORES", "LOW_SCORE_EVENT"]

SCORES = range(1, 6)


# The follow-up record's history row for a score below the policy's ``low_score``.
LOW_SCORE_EVENT = "low_score_follow_up"


def rules_of(policy: Policy) -> CallbackRules:
    if policy.callbacks is None:
        raise PolicyError(f"policy {policy.label} has no [callbacks] section")
    return policy.callbacks


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def open_survey(*, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
                at: datetime) -> None:
    """At completion: the survey and its clock. A ticket signed off again after a reopen keeps
    its first survey."""
    rules = policy.callbacks
    if rules is None:
        return
    spec = clocks.ClockSpec(name="callback", allowed=rules.within.allowed,
                            calendar=rules.within.calendar, escalates=False)
    if cstore.get_callback(conn=conn, ticket_id=ticket.id) is not None:
        return
    due = deadlines.start_after_completion(conn=conn, ticket=ticket, policy=policy, spec=spec,
                                           at=at)
    cstore.open_callback(conn=conn, ticket_id=ticket.id, opened_at=at, due_at=due,
                         link_expires_at=at + rules.link_valid)


def issue_link(*, conn: store.Conn, ticket_id: int, policy: Policy, now: datetime) -> str:
    """A new single-use token for the customer's survey link (shown once; only its digest is
    kept). Earlier links stop working."""
    rules = rules_of(policy)
    with store.atomic(conn=conn):
        cb = cstore.lock_callback(conn=conn, ticket_id=ticket_id)
        if cb is None:
            raise TicketNotFound(f"ticket {ticket_id} has no callback survey (not completed?)")
        if cb.recorded_at is not None:
            raise EventRefused(event="issue_link", state="recorded",
                               why="the survey is already answered")
        token = secrets.token_urlsafe(32)
        cstore.set_link(conn=conn, callback_id=cb.id, token_hash=token_digest(token),
                        expires_at=now + rules.link_valid)
    return token


def _check_answer(score: object, suggestions: object) -> tuple[int, str | None]:
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        raise MissingDetail(f"score must be an integer 1-5, got {score!r}")
    if suggestions is not None and not isinstance(suggestions, str):
        raise MissingDetail("suggestions must be text")
    text = suggestions.strip() if isinstance(suggestions, str) else None
    return score, text or None


def _save(
    conn: store.Conn, cb: cstore.CallbackRow, *, score: int, suggestions: str | None, by: str,
    via: str, now: datetime, policy: Policy,
) -> cstore.CallbackRow:
    rules = rules_of(policy)
    if not cstore.record_callback(conn=conn, callback_id=cb.id, score=score,
                                  suggestions=suggestions, at=now, by=by, via=via):
        raise EventRefused(event="record_callback", state="recorded",
                           why="the survey is already answered")
    ticket = store.lock_ticket(conn=conn, ticket_id=cb.ticket_id)
    assert ticket is not None  # the callback's foreign key
    deadlines.meet_clock(conn=conn, ticket=ticket, policy=policy, name="callback", at=now)
    data: dict[str, object] = {"score": score, "suggestions": suggestions, "via": via}
    if score < rules.low_score:
        follow = records.register(
            conn=conn, kind="feedback", customer=cb.customer,
            category=rules.follow_up_category, urgency=rules.follow_up_urgency,
            channel="callback", reporter=f"callback of {ticket.number}",
            summary=f"Callback score {score}/5 on ticket {ticket.number}"
                    + (f": {suggestions}" if suggestions else ""),
            received_at=now, now=now, actor=by, policy=policy, ticket_id=ticket.id)
        cstore.set_follow_up(conn=conn, callback_id=cb.id, feedback_id=follow.id)
        # Its own history row says why it was opened: the event the notification routes
        # name (``low_score_follow_up``), told once like any other.
        fstore.add_feedback_event(conn=conn, feedback_id=follow.id, at=now,
                                  event=LOW_SCORE_EVENT, actor=by, state=follow.state,
                                  data={"ticket": ticket.number, "score": score,
                                        "suggestions": suggestions})
        data["follow_up"] = follow.number
    store.add_event(conn=conn, ticket_id=ticket.id, at=now, event="callback_recorded",
                    actor=by, state=ticket.state, data=data)
    out = cstore.get_callback(conn=conn, ticket_id=cb.ticket_id)
    assert out is not None
    return out


def record(
    *, conn: store.Conn, ticket_id: int, score: object, suggestions: object, actor: str,
    now: datetime, policy: Policy,
) -> cstore.CallbackRow:
    """Customer service records the survey it took by phone."""
    s, text = _check_answer(score, suggestions)
    with store.atomic(conn=conn):
        cb = cstore.lock_callback(conn=conn, ticket_id=ticket_id)
        if cb is None:
            raise TicketNotFound(f"ticket {ticket_id} has no callback survey (not completed?)")
        return _save(conn, cb, score=s, suggestions=text, by=actor, via="staff", now=now,
                     policy=policy)


def record_by_link(
    *, conn: store.Conn, token: str, score: object, suggestions: object, now: datetime,
    policy: Policy,
) -> cstore.CallbackRow:
    """The customer answers through the link: once, before it expires."""
    s, text = _check_answer(score, suggestions)
    with store.atomic(conn=conn):
        cb = cstore.lock_callback_by_token(conn=conn, token_hash=token_digest(token))
        if (cb is None or cb.link_used_at is not None or cb.recorded_at is not None
                or now >= cb.link_expires_at):
            raise LinkRefused("this survey link is unknown, used or expired")
        return _save(conn, cb, score=s, suggestions=text, by=f"customer:{cb.customer}",
                     via="link", now=now, policy=policy)
