"""Feedback and complaint events reach the same notification outbox as ticket events: each
planned once from its own cursor, delivered once, nothing planned again after a restart;
on a real PostgreSQL, a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from storage import feedback as fstore
from storage import notifications as nstore
from storage.connect import connect
from storage.notifications import FeedbackEventToNotify, Recipient
from tests.aftersales.scenario import DAY, MON, H, complete, run_until, setup, some, ticket
from tests.ticketing.test_notify import receiver, smtp  # noqa: F401 - fixtures
from ticketing.feedback import callbacks
from ticketing.feedback.records import apply, register
from ticketing.notify.channels import ChannelConfig, Webhook
from ticketing.notify.plan import feedback_deliveries_for
from ticketing.notify.service import Notifier
from ticketing.policy import NotificationRules, builtin_policy

POLICY = builtin_policy("default")
M = timedelta(minutes=1)
RULES = NotificationRules.model_validate({
    "retry_first": "1m", "retry_cap": "10m", "max_attempts": 3,
    "routes": [
        # A ticket route naming the same event: it must not catch feedback events.
        {"events": ["clock_breached"], "to": ["webhook:tickets"]},
        {"about": "feedback", "to": ["webhook:oncall"],
         "events": ["clock_warning", "clock_breached", "escalation", "approve_extension",
                    "reject_extension", "tell_result", "low_score_follow_up"]},
        {"about": "feedback", "events": ["clock_breached"], "to": ["role:manager"]},
    ]})


def _event(event: str) -> FeedbackEventToNotify:
    return FeedbackEventToNotify(
        id=7, feedback_id=3, at=MON, event=event, actor="system", data={"clock": "respond"},
        number="CP-20261123-0001", kind="complaint", category="other", urgency="general",
        customer="ACME", summary="invoice wrong", state="received", department=None)


def test_feedback_routes_only_catch_feedback_events() -> None:
    people = {"manager": [Recipient(code="M-1", name="Lee", role="manager",
                                    email="lee@example.com")]}
    got = feedback_deliveries_for(_event("clock_breached"), rules=RULES,
                                  people_with_role=lambda role: people.get(role, []))
    assert [(d.channel, d.recipient) for d in got] == [("webhook", "oncall"),
                                                       ("email", "lee@example.com")]
    assert got[0].subject == "[robowatch] complaint CP-20261123-0001 (general): SLA breached"
    assert "customer ACME" in got[0].body and "clock: respond" in got[0].body
    assert feedback_deliveries_for(_event("route"), rules=RULES,
                                   people_with_role=lambda role: []) == []
    assert RULES.events == ("clock_breached",)   # the ticket planner's kinds


def _fb(conn: Any, fid: int, event: str, at: datetime, **details: Any) -> None:
    seen = some(fstore.get_feedback(conn=conn, feedback_id=fid))
    apply(conn=conn, feedback_id=fid, event=event, actor="cs:anna",
          expected_version=seen.version, now=at, policy=POLICY, **details)


def _story(db_url: str) -> list[tuple[str, str]]:
    """A complaint nobody answers (warning, breach, escalation), a feedback extended and
    completed (approval, result told) and a low callback score; the notifiable events as
    (number, event)."""
    with connect(db_url, autocommit=True) as conn:
        setup(conn)
        cp = register(conn=conn, kind="complaint", customer="ACME", category="other",
                      urgency="general", channel="wechat", reporter="buyer",
                      summary="invoice wrong", received_at=MON, now=MON, actor="cs:anna",
                      policy=POLICY)
        run_until(conn, MON + 20 * M, POLICY)
        fb = register(conn=conn, kind="feedback", customer="BETA", category="product_quality",
                      urgency="general", channel="phone", reporter="plant manager",
                      summary="paint defects", received_at=MON, now=MON, actor="cs:anna",
                      policy=POLICY)
        _fb(conn, fb.id, "route", MON + H)
        _fb(conn, fb.id, "confirm", MON + 2 * H)
        _fb(conn, fb.id, "request_extension", MON + 2 * DAY, reason="supplier late",
            new_due=MON + 11 * DAY)
        _fb(conn, fb.id, "approve_extension", MON + 2 * DAY + H, notice="phoned: new date")
        _fb(conn, fb.id, "complete", MON + 3 * DAY, result="primer replaced")
        _fb(conn, fb.id, "tell_result", MON + 3 * DAY + H, message="done")
        t = ticket(conn, "R-A1", MON, POLICY, impact="minor")
        complete(conn, t.id, MON, POLICY)
        cb = callbacks.record(conn=conn, ticket_id=t.id, score=2, suggestions="too slow",
                              actor="cs:anna", now=MON + 2 * H, policy=POLICY)
        follow = some(fstore.get_feedback(conn=conn, feedback_id=some(cb.follow_up_id)))
        kinds = set(RULES.events_of("feedback"))
        return [(r.number, e.event) for r in (cp, fb, follow)
                for e in fstore.feedback_events(conn=conn, feedback_id=r.id)
                if e.event in kinds]


async def test_feedback_events_are_told_once_and_not_again_after_a_restart(
        db_url, smtp, receiver) -> None:  # noqa: F811 - fixtures
    expected = await asyncio.to_thread(_story, db_url)
    numbers = {n for n, _ in expected}
    assert ("CP-20261123-0001", "escalation") in expected
    assert {e for _, e in expected} == {"clock_warning", "clock_breached", "escalation",
                                        "approve_extension", "tell_result",
                                        "low_score_follow_up"}
    now = [MON + 4 * DAY]
    channels = ChannelConfig(smtp_host="127.0.0.1", smtp_port=smtp[1],
                             webhooks={"oncall": Webhook(
                                 url=f"http://127.0.0.1:{receiver.server_address[1]}/")})
    first = Notifier(conninfo=db_url, rules=RULES, channels=channels, clock=lambda: now[0])
    try:
        assert await asyncio.to_thread(first.take_lead)
        async with httpx.AsyncClient() as client:
            stats = await first.pass_once(client)
            assert (stats.planned, stats.delivered, stats.failed) == (len(expected),) * 2 + (0,)
            again = await first.pass_once(client)
            assert (again.planned, again.delivered) == (0, 0)
    finally:
        await asyncio.to_thread(first.step_down)
        first.close()
    second = Notifier(conninfo=db_url, rules=RULES, channels=channels, clock=lambda: now[0])
    try:
        assert await asyncio.to_thread(second.take_lead)
        async with httpx.AsyncClient() as client:
            after = await second.pass_once(client)
        assert (after.planned, after.delivered) == (0, 0)
    finally:
        await asyncio.to_thread(second.step_down)
        second.close()
    posts = [body for body, _ in receiver.posts]
    assert len(posts) == len(expected)
    assert sorted((p["subject"].split()[2], p["subject"].split(": ", 1)[1]) for p in posts) \
        == sorted((n, _TITLES[e]) for n, e in expected)
    assert all("feedback_event_id" in p and "event_id" not in p for p in posts)
    assert numbers == {p["subject"].split()[2] for p in posts}
    with connect(db_url, autocommit=True) as conn:
        rows = [r for n in numbers for r in nstore.notifications_of_feedback(
            conn=conn, feedback_id=_id(conn, n))]
    assert len(rows) == len(expected) and {r.status for r in rows} == {"delivered"}


_TITLES = {"clock_warning": "SLA warning", "clock_breached": "SLA breached",
           "escalation": "escalated", "approve_extension": "extension approved",
           "tell_result": "result told to the customer",
           "low_score_follow_up": "low callback score: follow-up opened"}


def _id(conn: Any, number: str) -> int:
    rows, _ = fstore.list_feedback(conn=conn, limit=100)
    [rec] = [r for r in rows if r.number == number]
    return rec.id
