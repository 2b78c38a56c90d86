"""Every route of the app x every role of the access policy: allowed, refused (403), another
customer's rows (404) and no caller (401).

The routes come from ``app.routes`` and the roles from ``access.toml``, so a new route that
does not say here what it needs fails ``test_every_route_declares_its_access``, and a role
added to the policy is tested at once.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import fastapi.routing
import httpx
import psycopg
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from psycopg import conninfo as ci
from starlette.routing import Mount
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from api import create_app
from api.auth.crypto import digest
from storage.duty import NewHandover, mark_handover_fired, save_roster, schedule_handover
from storage.maintenance import NewInspection, insert_inspection
from tests.api.after_sales_routes import AFTER_SALES_CALLS, after_sales_needs
from tests.api.callers import PASSWORD, api_key_for, bearer, ensure_user, token_for
from tests.api.parts_routes import PARTS_CALLS
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet
from tests.api.server import serve_in_thread
from ticketing.access import ROLES, builtin_access
from ticketing.duty import round_the_clock

ACCESS = builtin_access()
OWN, FOREIGN = "ACME", "BETA"


@dataclass(frozen=True)
class Need:
    """What a route needs: nothing (public), a caller, a read scope or an action; and whether
    its path names one customer's row (a foreign one answers 404 to a customer viewer)."""

    read: str | None = None
    action: str | None = None
    caller: bool = True
    scoped: bool = False
    # Company-internal (stock, the ledger): refused to a customer-bound caller whatever it reads.
    internal: bool = False

    def allows(self, role: str) -> bool:
        if self.internal and role == "customer_viewer":
            return False
        if self.read is not None:
            return ACCESS.may_read(role, self.read)
        if self.action is not None:
            return ACCESS.allows(role, self.action)
        return True


NEEDS: dict[tuple[str, str], Need] = {
    ("GET", "/api/v1/robots"): Need(read="robots"),
    ("GET", "/api/v1/robots/{code}"): Need(read="robots", scoped=True),
    ("GET", "/api/v1/tickets"): Need(read="tickets"),
    ("GET", "/api/v1/tickets/{ticket}"): Need(read="tickets", scoped=True),
    ("POST", "/api/v1/tickets"): Need(action="create"),
    # The event is the action: the matrix dispatches (a manager's or dispatcher's step, with
    # reach "all"); reach and other events: tests/api/test_ticket_events.py.
    ("POST", "/api/v1/tickets/{ticket}/events"): Need(action="dispatch"),
    ("GET", "/api/v1/handovers"): Need(read="tickets"),
    ("POST", "/api/v1/handovers/{handover_id}/acknowledge"): Need(action="acknowledge_handover"),
    ("POST", "/api/v1/anomalies/{anomaly_id}/acknowledge"): Need(action="alerts_acknowledge"),
    ("GET", "/api/v1/anomalies"): Need(read="anomalies"),
    ("GET", "/api/v1/anomalies/{anomaly_id}"): Need(read="anomalies", scoped=True),
    ("GET", "/api/v1/maintenance/inspections"): Need(read="maintenance"),
    ("GET", "/api/v1/maintenance/inspections/{inspection_id}"): Need(read="maintenance",
                                                                    scoped=True),
    ("GET", "/api/v1/maintenance/calendar.ics"): Need(read="maintenance"),
    # The act is the action: start; complete and cancel: tests/api/test_maintenance_api.py.
    ("POST", "/api/v1/maintenance/inspections/{inspection_id}/events"): Need(
        action="maintenance_start"),
    ("GET", "/api/v1/robots/{code}/telemetry"): Need(read="telemetry", scoped=True),
    ("GET", "/api/v1/fleet/tree"): Need(read="robots"),
    ("GET", "/api/v1/engineers"): Need(read="tickets"),
    ("GET", "/api/v1/console/settings"): Need(),
    ("GET", "/api/v1/tickets/{ticket_id}/allowed-events"): Need(read="tickets", scoped=True),
    ("WS", "/api/v1/stream"): Need(),
    ("GET", "/api/v1/stream/events"): Need(read="tickets"),
    ("GET", "/api/v1/customers"): Need(read="robots"),
    ("GET", "/api/v1/customers/{code}"): Need(read="robots", scoped=True),
    ("GET", "/api/v1/sites"): Need(read="robots"),
    ("GET", "/api/v1/lines"): Need(read="robots"),
    ("GET", "/api/v1/oncall"): Need(read="tickets"),
    ("POST", "/api/v1/auth/login"): Need(caller=False),
    ("POST", "/api/v1/auth/logout"): Need(),
    ("GET", "/api/v1/auth/me"): Need(),
    ("POST", "/api/v1/auth/password"): Need(),
    ("GET", "/api/v1/users"): Need(read="users"),
    ("POST", "/api/v1/users"): Need(action="manage_users"),
    ("POST", "/api/v1/users/{username}/disable"): Need(action="manage_users"),
    ("GET", "/api/v1/api-keys"): Need(read="api_keys"),
    ("POST", "/api/v1/api-keys"): Need(action="manage_api_keys"),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Need(action="manage_api_keys"),
    ("GET", "/api/v1/parts/catalogue"): Need(read="parts", internal=True),
    ("POST", "/api/v1/parts/catalogue"): Need(action="parts_catalogue"),
    ("GET", "/api/v1/parts/stock"): Need(read="parts", internal=True),
    ("GET", "/api/v1/parts/warnings"): Need(read="parts", internal=True),
    ("GET", "/api/v1/parts/ledger"): Need(read="parts", internal=True),
    ("POST", "/api/v1/parts/purchases"): Need(action="parts_receive"),
    ("POST", "/api/v1/parts/receipts"): Need(action="parts_receive"),
    ("POST", "/api/v1/parts/transfers"): Need(action="parts_transfer"),
    ("GET", "/api/v1/parts/requisitions"): Need(read="parts"),
    ("POST", "/api/v1/parts/requisitions"): Need(action="parts_request"),
    ("GET", "/api/v1/parts/requisitions/{requisition_id}"): Need(read="parts"),
    # The event is the action: approve; the others: tests/api/test_parts.py.
    ("POST", "/api/v1/parts/requisitions/{requisition_id}/events"): Need(action="parts_approve"),
    ("GET", "/api/v1/parts/serials/{part}/{serial}"): Need(read="parts"),
    ("POST", "/api/v1/parts/serials/{part}/{serial}/install"): Need(action="parts_install"),
    ("POST", "/api/v1/parts/serials/{part}/{serial}/scrap"): Need(action="parts_scrap"),
    ("GET", "/api/v1/parts/warranty/{robot}"): Need(read="parts", scoped=True),
    # Archives are records (section 10: every read logged), KPIs are figures: both
    # company-internal, through scopes no customer role has.
    ("GET", "/api/v1/tickets/{ticket_id}/archive"): Need(read="records"),
    ("GET", "/api/v1/tickets/{ticket_id}/archive/reads"): Need(read="records"),
    ("GET", "/api/v1/reports/{kind}/{period}"): Need(read="reports"),
    ("GET", "/api/v1/console/kpis"): Need(read="reports"),
    ("GET", "/healthz"): Need(caller=False),
    ("GET", "/"): Need(),
    ("GET", "/openapi.json"): Need(),
    ("GET", "/docs"): Need(),
    ("GET", "/console/js/app.js"): Need(),
    ("GET", "/console/i18n/zh-CN.json"): Need(caller=False),
    ("GET", "/console/js/i18n.js"): Need(caller=False),
    # Swagger UI's own files (a pinned open-source bundle): public like the console's CSS.
    ("GET", "/docs/assets/swagger-ui-bundle.js"): Need(caller=False),
    ("GET", "/console/login.html"): Need(caller=False),
    ("GET", "/console/login.js"): Need(caller=False),
    ("GET", "/console/console.css"): Need(caller=False),
    **after_sales_needs(Need),
}


def _app_routes() -> list[tuple[str, str]]:
    # Building the app connects to nothing: the pool opens in the lifespan.
    app = create_app(database_url="postgresql://nobody@127.0.0.1:1/none")
    # FastAPI >= 0.16x keeps included routers lazily in app.routes and walks them with
    # iter_route_contexts; older versions list the routes themselves.
    walk = getattr(fastapi.routing, "iter_route_contexts", lambda routes: routes)
    found: list[tuple[str, str]] = []
    for route in walk(app.routes):
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute):
            found += [(m, route.path) for m in sorted(route.methods - {"HEAD"})]
        elif isinstance(original, APIWebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(original, Mount):
            # A mount serves files: the table names each of them.
            found += [k for k in NEEDS if k[1].startswith(original.path + "/")]
        else:
            found.append(("?", repr(original)))
    return found


ROUTES = _app_routes()


def test_every_route_declares_its_access():
    assert sorted(set(ROUTES)) == sorted(NEEDS)


@dataclass
class World:
    base_url: str
    db_url: str
    ids: dict[str, Any]
    counter: Iterator[int]
    tokens: dict[str, str]

    def conn(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url)

    def token(self, role: str, *, fresh: bool = False) -> str:
        """A session of ``role``: a fresh user's when asked (logout and a password change
        spend theirs), one shared per role otherwise."""
        if not fresh and role in self.tokens:
            return self.tokens[role]
        n = next(self.counter)
        with self.conn() as conn:
            token = token_for(conn, f"{role}-{n}", role,
                              customer=OWN if role == "customer_viewer" else None)
        if not fresh:
            self.tokens[role] = token
        return token


@pytest.fixture(scope="module")
def world(pg_server: str, pg_template: str) -> Iterator[World]:
    name = f"rw_test_{os.getpid()}_routes"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    params = ci.conninfo_to_dict(pg_server)
    params["dbname"] = name
    db_url = ci.make_conninfo("", **params)
    try:
        with psycopg.connect(db_url) as conn:
            robots = seed_fleet(conn)
            ids = {
                "ticket": {OWN: add_ticket(conn, robots).id,
                           FOREIGN: add_ticket(conn, robots, robot="R-0003",
                                               customer=FOREIGN).id},
                "anomaly": {OWN: add_anomaly(conn, robots),
                            FOREIGN: add_anomaly(conn, robots, robot="R-0003")},
                "robot": {OWN: "R-0001", FOREIGN: "R-0003"},
                "inspection": {c: insert_inspection(conn=conn, state="planned", new=NewInspection(
                    robot_id=robots[r], plan="hardware", due_at=NOW, trigger="calendar",
                    reason="calendar: every 1 months")) for c, r in ((OWN, "R-0001"),
                                                                    (FOREIGN, "R-0003"))},
                "customer": {OWN: OWN, FOREIGN: FOREIGN},
            }
            conn.commit()
        app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=4)
        with serve_in_thread(app) as base_url:
            yield World(base_url=base_url, db_url=db_url, ids=ids, counter=itertools.count(),
                        tokens={})
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


Call = Callable[[World, dict[str, str]], int]


def _request(method: str, path: str, **kwargs: Any) -> Call:
    def call(world: World, headers: dict[str, str]) -> int:
        with httpx.Client(base_url=world.base_url, timeout=10) as c:
            return c.request(method, path, headers=headers, **kwargs).status_code
    return call


def _scoped(method: str, template: str, kind: str) -> Callable[[str], Call]:
    def for_customer(customer: str) -> Call:
        def call(world: World, headers: dict[str, str]) -> int:
            path = template.format(world.ids[kind][customer])
            return _request(method, path)(world, headers)
        return call
    return for_customer


def _stream(world: World, headers: dict[str, str]) -> int:
    url = world.base_url.replace("http://", "ws://") + "/api/v1/stream"
    try:
        with connect(url, additional_headers=headers, open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def _sse(world: World, headers: dict[str, str]) -> int:
    # The stream never ends: the status line is the answer.
    with httpx.Client(base_url=world.base_url, timeout=10) as c, \
            c.stream("GET", "/api/v1/stream/events", headers=headers) as resp:
        return resp.status_code


def _disable(world: World, headers: dict[str, str]) -> int:
    n = next(world.counter)
    with world.conn() as conn:
        ensure_user(conn, f"victim-{n}", "engineer")
    return _request("POST", f"/api/v1/users/victim-{n}/disable")(world, headers)


def _revoke_key(world: World, headers: dict[str, str]) -> int:
    n = next(world.counter)
    with world.conn() as conn:
        api_key_for(conn, f"machine-{n}", "engineer")
        key_id = conn.execute("SELECT id FROM api_keys WHERE name = %s",
                              (f"machine-{n}",)).fetchone()[0]  # type: ignore[index]
    return _request("DELETE", f"/api/v1/api-keys/{key_id}")(world, headers)


def _new_user(world: World, headers: dict[str, str]) -> int:
    n = next(world.counter)
    return _request("POST", "/api/v1/users", json={
        "username": f"new-{n}", "role": "engineer", "password": PASSWORD})(world, headers)


def _new_key(world: World, headers: dict[str, str]) -> int:
    n = next(world.counter)
    return _request("POST", "/api/v1/api-keys", json={
        "name": f"key-{n}", "role": "engineer"})(world, headers)


def _new_report(world: World, headers: dict[str, str]) -> int:
    return _request("POST", "/api/v1/tickets", json={
        "robot": "R-0001", "channel": "phone", "reporter": "line lead",
        "description": "J3 overheats", "impact": "minor"})(world, headers)


def _dispatch(world: World, headers: dict[str, str]) -> int:
    with world.conn() as conn:
        conn.execute("INSERT INTO engineers (code, name, role) VALUES "
                     "('E-1', 'Engineer', 'engineer') ON CONFLICT (code) DO NOTHING")
        robots = {"R-0001": int(conn.execute(  # type: ignore[index]
            "SELECT id FROM robots WHERE code = 'R-0001'").fetchone()[0])}
        ticket = add_ticket(conn, robots)
    return _request("POST", f"/api/v1/tickets/{ticket.id}/events", json={
        "event": "dispatch", "assignee": "E-1",
        "expected_version": ticket.version})(world, headers)


def _start_inspection(world: World, headers: dict[str, str]) -> int:
    """Start a fresh scheduled work order of OWN's robot (a plan name of its own: one open
    work order per robot and plan)."""
    with world.conn() as conn:
        robot = conn.execute("SELECT id FROM robots WHERE code = 'R-0001'").fetchone()
        assert robot is not None
        iid = insert_inspection(conn=conn, state="scheduled", new=NewInspection(
            robot_id=robot[0], plan=f"check-{next(world.counter)}", due_at=NOW,
            trigger="calendar", reason="calendar: every 1 months", window_start=NOW,
            window_end=NOW + timedelta(hours=2)))
    return _request("POST", f"/api/v1/maintenance/inspections/{iid}/events",
                    json={"event": "start"})(world, headers)


def _acknowledge(world: World, headers: dict[str, str]) -> int:
    """Acknowledge a fired handover to a shift the caller (an engineer: linked to a fresh
    engineer code) belongs to; tests/api/test_handovers.py has the refusals."""
    n = next(world.counter)
    code = f"E-ACK-{n}"
    token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
    with world.conn() as conn:
        conn.execute("INSERT INTO engineers (code, name, role) VALUES (%s, 'Incoming', "
                     "'engineer')", (code,))
        conn.execute("UPDATE users SET engineer_id = (SELECT id FROM engineers WHERE code = %s) "
                     "WHERE role = 'engineer' AND id = (SELECT user_id FROM auth_tokens "
                     "WHERE token_hash = %s)", (code, digest(token)))
        roster = save_roster(conn=conn, document=round_the_clock(
            {"engineer": (code,)}).model_dump(mode="json"))
        handover = schedule_handover(conn=conn, handover=NewHandover(
            roster_id=roster, team=f"team-{n}", at=NOW, leaving_shift="day",
            incoming_shift="night", leaving=("E-LEFT",), incoming=(code,)))
        assert handover is not None
        mark_handover_fired(conn=conn, handover_id=handover, at=NOW)
    return _request("POST", f"/api/v1/handovers/{handover}/acknowledge")(world, headers)


SCOPED = {
    ("GET", "/api/v1/robots/{code}"): _scoped("GET", "/api/v1/robots/{}", "robot"),
    ("GET", "/api/v1/tickets/{ticket}"): _scoped("GET", "/api/v1/tickets/{}", "ticket"),
    ("GET", "/api/v1/customers/{code}"): _scoped("GET", "/api/v1/customers/{}", "customer"),
    ("GET", "/api/v1/anomalies/{anomaly_id}"): _scoped("GET", "/api/v1/anomalies/{}",
                                                       "anomaly"),
    ("GET", "/api/v1/maintenance/inspections/{inspection_id}"): _scoped(
        "GET", "/api/v1/maintenance/inspections/{}", "inspection"),
    ("GET", "/api/v1/parts/warranty/{robot}"): _scoped("GET", "/api/v1/parts/warranty/{}",
                                                       "robot"),
    ("GET", "/api/v1/robots/{code}/telemetry"): _scoped("GET", "/api/v1/robots/{}/telemetry",
                                                        "robot"),
    ("GET", "/api/v1/tickets/{ticket_id}/allowed-events"): _scoped(
        "GET", "/api/v1/tickets/{}/allowed-events", "ticket"),
}

CALLS: dict[tuple[str, str], Call] = {
    **{k: f(OWN) for k, f in SCOPED.items()},
    ("WS", "/api/v1/stream"): _stream,
    ("POST", "/api/v1/auth/login"): _request("POST", "/api/v1/auth/login",
                                             data={"username": "nobody", "password": "x" * 12}),
    ("POST", "/api/v1/auth/password"): _request("POST", "/api/v1/auth/password", json={
        "current_password": PASSWORD, "new_password": PASSWORD + "!"}),
    ("POST", "/api/v1/users"): _new_user,
    ("POST", "/api/v1/tickets"): _new_report,
    ("POST", "/api/v1/tickets/{ticket}/events"): _dispatch,
    ("POST", "/api/v1/handovers/{handover_id}/acknowledge"): _acknowledge,
    ("POST", "/api/v1/maintenance/inspections/{inspection_id}/events"): _start_inspection,
    ("POST", "/api/v1/anomalies/{anomaly_id}/acknowledge"): _scoped(
        "POST", "/api/v1/anomalies/{}/acknowledge", "anomaly")(OWN),
    ("GET", "/api/v1/stream/events"): _sse,
    ("POST", "/api/v1/users/{username}/disable"): _disable,
    ("POST", "/api/v1/api-keys"): _new_key,
    ("DELETE", "/api/v1/api-keys/{key_id}"): _revoke_key,
    ("GET", "/api/v1/tickets/{ticket_id}/archive"): _scoped(
        "GET", "/api/v1/tickets/{}/archive", "ticket")(OWN),
    ("GET", "/api/v1/tickets/{ticket_id}/archive/reads"): _scoped(
        "GET", "/api/v1/tickets/{}/archive/reads", "ticket")(OWN),
    ("GET", "/api/v1/reports/{kind}/{period}"): _request("GET", "/api/v1/reports/weekly/2026-W47"),
    **PARTS_CALLS,
    **AFTER_SALES_CALLS,
}


def _call(key: tuple[str, str]) -> Call:
    return CALLS.get(key) or _request(*key)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(NEEDS), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_answers_role_as_the_policy_says(world: World, route, role):
    need = NEEDS[route]
    fresh = route in {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}
    status = _call(route)(world, bearer(world.token(role, fresh=fresh)))
    if not need.caller:
        assert status not in (403, 500), status  # public: the caller's role is irrelevant
    elif need.allows(role):
        assert status < 400, f"{role} refused {status}"
    else:
        assert status == 403, f"{role} got {status}, expected 403"


@pytest.mark.parametrize("route", sorted(NEEDS), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_without_caller_is_401_unless_public(world: World, route):
    status = _call(route)(world, {})
    if NEEDS[route].caller:
        assert status == 401
    else:
        assert status != 401


@pytest.mark.parametrize("route", sorted(SCOPED), ids=lambda k: f"{k[0]} {k[1]}")
def test_customer_viewer_gets_404_for_another_customers_row(world: World, route):
    viewer = bearer(world.token("customer_viewer"))
    assert SCOPED[route](OWN)(world, viewer) == 200
    assert SCOPED[route](FOREIGN)(world, viewer) == 404
    # The same answer as for a row that does not exist: nothing is learnt.
    admin = bearer(world.token("admin"))
    assert SCOPED[route](FOREIGN)(world, admin) == 200


def test_refusals_are_problem_details(world: World):
    with httpx.Client(base_url=world.base_url, timeout=10) as c:
        none = c.get("/api/v1/robots")
        assert none.status_code == 401
        assert none.headers["content-type"] == "application/problem+json"
        assert none.headers["www-authenticate"] == 'Bearer realm="robowatch"'
        assert none.json()["status"] == 401 and none.json()["title"] == "Unauthorized"
        bad = c.get("/api/v1/robots", headers=bearer("rws_forged"))
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
        keeper = c.get("/api/v1/anomalies", headers=bearer(world.token("parts_keeper")))
        assert keeper.status_code == 403
        assert keeper.headers["content-type"] == "application/problem+json"
        assert keeper.json()["detail"] == "role 'parts_keeper' may not read anomalies"
        basic = c.get("/api/v1/robots", headers={"Authorization": "Basic YTpi"})
        assert basic.status_code == 401


def test_browser_without_session_is_sent_to_the_login_page(world: World):
    with httpx.Client(base_url=world.base_url, timeout=10) as c:
        page = c.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
        assert 'url=/console/login.html' in page.text
        login = c.get("/console/login.html")
        assert login.status_code == 200 and 'action="/api/v1/auth/login"' in login.text


def test_customer_viewer_lists_only_its_customer(world: World):
    viewer = bearer(world.token("customer_viewer"))
    with httpx.Client(base_url=world.base_url, timeout=10, headers=viewer) as c:
        robots = c.get("/api/v1/robots").json()
        assert {r["customer"] for r in robots["items"]} == {OWN} and robots["count"] == 2
        assert c.get("/api/v1/robots", params={"customer": FOREIGN}).json() == {
            "items": [], "count": 0}
        tickets = c.get("/api/v1/tickets").json()
        # Other tests of this module add tickets of OWN's robots (reports, dispatches).
        assert {t["customer_id"] for t in tickets["items"]} == {OWN}
        assert c.get("/api/v1/tickets", params={"customer": FOREIGN}).json()["count"] == 0
        anomalies = c.get("/api/v1/anomalies").json()
        assert [a["customer_id"] for a in anomalies["items"]] == [OWN]
        assert c.get("/api/v1/anomalies", params={"robot": "R-0003"}).json()["count"] == 0
    admin = bearer(world.token("om_manager"))
    with httpx.Client(base_url=world.base_url, timeout=10, headers=admin) as c:
        assert c.get("/api/v1/robots").json()["count"] == 3
        assert c.get("/api/v1/anomalies").json()["count"] == 2
