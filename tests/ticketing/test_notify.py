"""Notifications: planned from ticket events, sent to a real SMTP server (aiosmtpd) and a real
local HTTP receiver, retried with backoff, recorded, never sent twice after a restart."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from simulators.brokers import free_port
from storage import notifications as outbox
from storage import tickets as store
from storage.connect import connect
from storage.notifications import EventToNotify, Recipient
from tests.ticketing.fleet import T0, anomaly, register
from ticketing.events import apply
from ticketing.intake import ticket_anomaly
from ticketing.notify.channels import ChannelConfig, Webhook, webhook_payload
from ticketing.notify.plan import deliveries_for
from ticketing.notify.service import Notifier, retry_delay
from ticketing.policy import NotificationRules, builtin_policy

POLICY = builtin_policy("default")


def _rules() -> NotificationRules:
    rules = POLICY.notifications
    if rules is None:
        raise AssertionError("the default policy names who is notified")
    return rules


RULES = _rules()
EMAILS = {"M-01": "manager@example.com", "E-01": "field1@example.com"}


# -- pure ---------------------------------------------------------------------------------

def _event(event: str = "clock_warning", grade: str = "II", assignee: str | None = "E-01"):
    return EventToNotify(id=7, ticket_id=1, at=T0, event=event, actor="system",
                         data={"clock": "respond_by"}, number="RW-1", grade=grade, robot="R-1",
                         customer="C", title="temperature_high on R-1 J3", state="dispatched",
                         assignee=assignee)


def _people(role: str) -> list[Recipient]:
    return {"manager": [Recipient(code="M-01", name="M", role="manager",
                                  email="manager@example.com"),
                        Recipient(code="M-02", name="No mail", role="manager", email=None)]
            }.get(role, [])


def test_plan_routes_by_event_and_grade_and_dedupes() -> None:
    field1 = Recipient(code="E-01", name="F", role="engineer", email="field1@example.com")
    urgent = deliveries_for(_event(grade="II"), rules=RULES, assignee=field1,
                            people_with_role=_people)
    assert [(d.channel, d.recipient) for d in urgent] == [
        ("email", "field1@example.com"), ("email", "manager@example.com"),
        ("webhook", "oncall")]
    assert urgent[0].subject == "[robowatch] RW-1 grade II: SLA warning"
    assert "clock: respond_by" in urgent[0].body
    minor = deliveries_for(_event(grade="IV"), rules=RULES, assignee=field1,
                           people_with_role=_people)
    assert [(d.channel, d.recipient) for d in minor] == [("email", "field1@example.com")]
    # The manager assigned to a ticket is told once, not twice.
    manager = _people("manager")[0]
    both = deliveries_for(_event("clock_breached", grade="I"), rules=RULES, assignee=manager,
                          people_with_role=_people)
    assert [d.recipient for d in both].count("manager@example.com") == 1
    assert deliveries_for(_event("created"), rules=RULES, assignee=field1,
                          people_with_role=_people) == []


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(RULES, n) for n in (1, 2, 3)] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert retry_delay(RULES, 20) == timedelta(minutes=30)


@pytest.mark.parametrize(("fmt", "key"), [("wecom", "msgtype"), ("dingtalk", "msgtype"),
                                          ("feishu", "msg_type"), ("slack", "text"),
                                          ("generic", "subject")])
def test_webhook_payload_per_bot(fmt, key) -> None:
    body = webhook_payload(fmt, subject="S", body="B", extra={"event_id": 1})
    assert key in body and "S" in json.dumps(body)


# -- real servers -------------------------------------------------------------------------

class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class _Receiver(ThreadingHTTPServer):
    def __init__(self, port: int) -> None:
        self.posts: list[tuple[dict[str, Any], str | None]] = []
        self.fail_next = 0
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.fail_next > 0:
            self.server.fail_next -= 1
            self.send_response(503)
        else:
            self.server.posts.append((body, self.headers.get("Idempotency-Key")))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ticket(db_url: str) -> int:
    """A grade II ticket (core customer, core-module) dispatched to E-01, with a warning event
    as the timers record it."""
    fleet = register(db_url)
    with connect(db_url, autocommit=True) as conn:
        for code, email in EMAILS.items():
            conn.execute("UPDATE engineers SET email = %s WHERE code = %s", (email, code))
        aid = anomaly(db_url, fleet["R-C1"], kind="temperature_high")
        t = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=T0).ticket_id
        assert t is not None
        apply(conn=conn, ticket_id=t, event="dispatch", actor="M-01", now=T0,
              expected_version=None, policy=POLICY, assignee="E-01")
        row = store.get_ticket(conn=conn, ticket_id=t)
        assert row is not None
        store.transition(conn=conn, ticket_id=t, from_state=row.state, to_state=row.state,
                         event="clock_warning", actor="system", at=T0 + timedelta(minutes=24),
                         data={"clock": "respond_by", "due": (T0 + timedelta(minutes=30))
                               .isoformat()}, changes={})
        return t


def _notifier(db_url: str, smtp_port: int, webhook_port: int, now: list[Any]) -> Notifier:
    channels = ChannelConfig(smtp_host="127.0.0.1", smtp_port=smtp_port,
                             mail_from="robowatch@example.com",
                             webhooks={"oncall": Webhook(url=f"http://127.0.0.1:{webhook_port}/",
                                                         format="wecom")})
    return Notifier(conninfo=db_url, rules=RULES, channels=channels, clock=lambda: now[0])


async def _pass(n: Notifier):
    async with httpx.AsyncClient() as client:
        return await n.pass_once(client)


async def test_deliver_retry_record_and_no_repeat_after_restart(db_url, ticket, smtp, receiver):
    box, smtp_port = smtp
    receiver.fail_next = 1  # the bot endpoint is down at first
    now = [T0 + timedelta(minutes=25)]
    first = _notifier(db_url, smtp_port, receiver.server_address[1], now)
    assert await asyncio.to_thread(first.take_lead)
    stats = await _pass(first)
    assert (stats.planned, stats.delivered, stats.retried, stats.failed) == (3, 2, 1, 0)
    assert sorted(m["To"] for m in box.messages) == ["field1@example.com",
                                                     "manager@example.com"]
    assert box.messages[0]["Subject"].endswith("grade II: SLA warning")
    assert receiver.posts == []
    # Not yet due again: nothing is sent. After the backoff (1 min) the webhook goes through.
    assert (await _pass(first)).delivered == 0
    now[0] += timedelta(minutes=1, seconds=1)
    assert (await _pass(first)).delivered == 1
    (payload, key), = receiver.posts
    assert payload["msgtype"] == "text" and "RW-" in payload["text"]["content"]
    assert key is not None and key.startswith("robowatch-")
    await asyncio.to_thread(first.step_down)
    first.close()

    # A restarted sender plans and sends nothing twice.
    again = _notifier(db_url, smtp_port, receiver.server_address[1], now)
    assert await asyncio.to_thread(again.take_lead)
    stats = await _pass(again)
    assert (stats.planned, stats.delivered) == (0, 0)
    assert len(box.messages) == 2 and len(receiver.posts) == 1
    with connect(db_url, autocommit=True) as conn:
        rows = outbox.notifications_of(conn=conn, ticket_id=ticket)
    assert {r.status for r in rows} == {"delivered"}
    assert [r.attempts for r in rows if r.channel == "webhook"] == [2]
    again.close()


async def test_only_one_sender_and_cut_off_sends_are_not_repeated(db_url, ticket, smtp,
                                                                  receiver):
    _, smtp_port = smtp
    now = [T0 + timedelta(minutes=25)]
    a = _notifier(db_url, smtp_port, receiver.server_address[1], now)
    b = _notifier(db_url, smtp_port, receiver.server_address[1], now)
    assert await asyncio.to_thread(a.take_lead)
    assert not await asyncio.to_thread(b.take_lead)  # standby while a sends
    await asyncio.to_thread(a.plan)
    claimed = await asyncio.to_thread(a.claim)  # now "sending" ... and the process dies
    assert len(claimed) == 3
    a.close()
    # The server frees a closed session's lock once its backend has ended, a moment later;
    # the real loop simply tries again at its next poll.
    for _ in range(50):
        if await asyncio.to_thread(b.take_lead):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the lock of a closed sender was never freed")
    stats = await _pass(b)
    assert stats.delivered == 0 and receiver.posts == []
    with connect(db_url, autocommit=True) as conn:
        rows = outbox.notifications_of(conn=conn, ticket_id=ticket)
    assert {r.status for r in rows} == {"interrupted"}
    assert all("not sent again" in (r.last_error or "") for r in rows)
    b.close()


async def test_unconfigured_channel_fails_permanently_with_its_reason(db_url, ticket, receiver):
    now = [T0 + timedelta(minutes=25)]
    n = _notifier(db_url, 1, receiver.server_address[1], now)
    n._channels = replace(n._channels, smtp_host=None, webhooks={})
    assert await asyncio.to_thread(n.take_lead)
    stats = await _pass(n)
    assert (stats.delivered, stats.failed, stats.retried) == (0, 3, 0)
    with connect(db_url, autocommit=True) as conn:
        rows = outbox.notifications_of(conn=conn, ticket_id=ticket)
    errors = {r.channel: r.last_error for r in rows}
    assert "no SMTP server configured" in (errors["email"] or "")
    assert "no webhook 'oncall' configured" in (errors["webhook"] or "")
    n.close()
