"""The after-sales calls of the route x role matrix (``test_auth_routes``): what each route
needs, and a call that first prepares, through ``ticketing``/``storage`` themselves, what it
needs to succeed for a role that is allowed (a record to route, a completed ticket's open
survey, a report owed, an open common problem, a draw), then makes its request. Rows are
OWN's (ACME's robot R-0001)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Protocol

import httpx
import psycopg

from storage import callbacks as cstore
from storage import improvement as istore
from storage.connect import connect
from tests.api.seed import NOW, add_ticket
from ticketing.feedback import callbacks
from ticketing.feedback.records import register
from ticketing.policy import builtin_policy

__all__ = ["after_sales_needs", "AFTER_SALES_CALLS"]

POLICY = builtin_policy("default")


class _World(Protocol):
    base_url: str
    db_url: str
    counter: Iterator[int]

    def conn(self) -> psycopg.Connection: ...


Call = Callable[[_World, dict[str, str]], int]


def _send(world: _World, headers: dict[str, str], method: str, path: str,
          **kwargs: Any) -> int:
    with httpx.Client(base_url=world.base_url, timeout=10) as c:
        return c.request(method, path, headers=headers, **kwargs).status_code


def _ticket(world: _World, *, survey: bool = False, rca: bool = False) -> int:
    """A fresh ticket of OWN's robot; with an open callback survey, or a report owed."""
    with world.conn() as conn:
        rid = conn.execute("SELECT id FROM robots WHERE code = 'R-0001'").fetchone()
        assert rid is not None
        t = add_ticket(conn, {"R-0001": int(rid[0])})
        if survey:
            cstore.open_callback(conn=conn, ticket_id=t.id, opened_at=NOW, due_at=NOW,
                                 link_expires_at=NOW + timedelta(days=1))
        if rca:
            istore.require_rca(conn=conn, ticket_id=t.id, why="repeat", at=NOW)
        conn.commit()
    return t.id


def _feedback(world: _World) -> int:
    with connect(world.db_url, autocommit=True) as conn:
        return register(conn=conn, kind="feedback", customer="ACME", category="other",
                        urgency="general", channel="phone", reporter="r", summary="s",
                        received_at=NOW, now=NOW, actor="setup", policy=POLICY).id


def _read_feedback(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/feedback/{_feedback(world)}")


def _feedback_archive(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/feedback/{_feedback(world)}/archive")


def _feedback_archive_reads(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/feedback/{_feedback(world)}/archive/reads")


def _route_feedback(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", f"/api/v1/feedback/{_feedback(world)}/events",
                 json={"event": "route", "expected_version": 1})


def _new_feedback(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", "/api/v1/feedback", json={
        "customer": "ACME", "category": "other", "channel": "phone", "reporter": "r",
        "summary": "s"})


def _read_callback(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/tickets/{_ticket(world, survey=True)}/callback")


def _record_callback(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST",
                 f"/api/v1/tickets/{_ticket(world, survey=True)}/callback", json={"score": 4})


def _link(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST",
                 f"/api/v1/tickets/{_ticket(world, survey=True)}/callback/link")


def _token(world: _World) -> str:
    ticket = _ticket(world, survey=True)
    with connect(world.db_url, autocommit=True) as conn:
        return callbacks.issue_link(conn=conn, ticket_id=ticket, policy=POLICY, now=NOW)


def _survey_question(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/survey/{_token(world)}")


def _survey_answer(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", f"/api/v1/survey/{_token(world)}", json={"score": 5})


def _read_rca(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/tickets/{_ticket(world, rca=True)}/rca")


def _submit_rca(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", f"/api/v1/tickets/{_ticket(world, rca=True)}/rca",
                 json={"category": "operation", "cause": "c", "lessons": "l", "gaps": "g",
                       "actions": ["a"]})


def _capa(world: _World, headers: dict[str, str]) -> int:
    with world.conn() as conn:
        p = istore.create_problem(conn=conn, kind=f"kind-{next(world.counter)}", opened_at=NOW,
                                  robots=3, customers=1, owner="qm", capa_due=NOW)
        conn.commit()
    return _send(world, headers, "POST", f"/api/v1/common-problems/{p.id}/events",
                 json={"event": "record_capa", "corrective": "c", "preventive": "p"})


def _draw_with(world: _World, ticket: int) -> int:
    with world.conn() as conn:
        d = istore.create_draw(conn=conn, since=NOW - timedelta(days=1), until=NOW, seed=1,
                               share=0.1, population=1, ticket_ids=[ticket], at=NOW, by="qm")
        conn.commit()
    return d


def _read_draw(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/qc/draws/{_draw_with(world, _ticket(world))}")


def _new_draw(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", "/api/v1/qc/draws", json={
        "since": (NOW - timedelta(days=1)).isoformat(), "until": NOW.isoformat(), "seed": 3})


def _check(world: _World, headers: dict[str, str]) -> int:
    ticket = _ticket(world)
    return _send(world, headers, "POST",
                 f"/api/v1/qc/draws/{_draw_with(world, ticket)}/checks/{ticket}",
                 json={"result": "pass"})


class _Need(Protocol):
    def __call__(self, *, read: str | None = None, action: str | None = None,
                 caller: bool = True) -> Any: ...


def after_sales_needs(need: _Need) -> dict[tuple[str, str], Any]:
    """The routes and what each needs, built with the matrix's own ``Need``."""
    return {
        ("GET", "/api/v1/feedback"): need(read="feedback"),
        ("GET", "/api/v1/feedback/{feedback_id}"): need(read="feedback"),
        ("POST", "/api/v1/feedback"): need(action="feedback_register"),
        # The event is the action: route (feedback_work); deciding an extension:
        # tests/api/test_after_sales.py.
        ("POST", "/api/v1/feedback/{feedback_id}/events"): need(action="feedback_work"),
        # A feedback record's archive is a record like a ticket's (section 10).
        ("GET", "/api/v1/feedback/{feedback_id}/archive"): need(read="records"),
        ("GET", "/api/v1/feedback/{feedback_id}/archive/reads"): need(read="records"),
        ("GET", "/api/v1/tickets/{ticket_id}/callback"): need(read="tickets"),
        ("POST", "/api/v1/tickets/{ticket_id}/callback"): need(action="callback"),
        ("POST", "/api/v1/tickets/{ticket_id}/callback/link"): need(action="callback"),
        ("GET", "/api/v1/survey/{token}"): need(caller=False),
        ("POST", "/api/v1/survey/{token}"): need(caller=False),
        ("GET", "/api/v1/tickets/{ticket_id}/rca"): need(read="tickets"),
        ("POST", "/api/v1/tickets/{ticket_id}/rca"): need(action="rca_submit"),
        ("GET", "/api/v1/common-problems"): need(read="feedback"),
        ("POST", "/api/v1/common-problems/{problem_id}/events"): need(action="problem_manage"),
        ("POST", "/api/v1/qc/draws"): need(action="qc_manage"),
        ("GET", "/api/v1/qc/draws/{draw_id}"): need(read="feedback"),
        ("POST", "/api/v1/qc/draws/{draw_id}/checks/{ticket_id}"): need(action="qc_manage"),
    }


AFTER_SALES_CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/api/v1/feedback/{feedback_id}"): _read_feedback,
    ("POST", "/api/v1/feedback"): _new_feedback,
    ("POST", "/api/v1/feedback/{feedback_id}/events"): _route_feedback,
    ("GET", "/api/v1/feedback/{feedback_id}/archive"): _feedback_archive,
    ("GET", "/api/v1/feedback/{feedback_id}/archive/reads"): _feedback_archive_reads,
    ("GET", "/api/v1/tickets/{ticket_id}/callback"): _read_callback,
    ("POST", "/api/v1/tickets/{ticket_id}/callback"): _record_callback,
    ("POST", "/api/v1/tickets/{ticket_id}/callback/link"): _link,
    ("GET", "/api/v1/survey/{token}"): _survey_question,
    ("POST", "/api/v1/survey/{token}"): _survey_answer,
    ("GET", "/api/v1/tickets/{ticket_id}/rca"): _read_rca,
    ("POST", "/api/v1/tickets/{ticket_id}/rca"): _submit_rca,
    ("POST", "/api/v1/common-problems/{problem_id}/events"): _capa,
    ("GET", "/api/v1/qc/draws/{draw_id}"): _read_draw,
    ("POST", "/api/v1/qc/draws"): _new_draw,
    ("POST", "/api/v1/qc/draws/{draw_id}/checks/{ticket_id}"): _check,
}
