"""Login, logout, expiry, rate limits, API keys and password changes against a real server and
database, with the app's clock under the test's control."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import psycopg
import pytest

from api import create_app
from api.auth.crypto import digest
from tests.api.callers import PASSWORD, bearer, ensure_user
from tests.api.seed import NOW, seed_fleet
from tests.api.server import serve_in_thread


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Server:
    url: str
    clock: Clock

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    clock = Clock()
    app = create_app(database_url=db_url, clock=clock, pool_max_size=2,
                     token_ttl=timedelta(hours=1), login_failures_per_user=3,
                     login_failures_per_address=5, login_window=timedelta(minutes=10))
    with serve_in_thread(app) as url:
        yield Server(url=url, clock=clock)


def _login(c: httpx.Client, username: str, password: str = PASSWORD, *,
           as_json: bool = False) -> httpx.Response:
    fields = {"username": username, "password": password}
    if as_json:
        return c.post("/api/v1/auth/login", json=fields)
    return c.post("/api/v1/auth/login", data=fields)


def test_login_gives_a_bearer_token_and_a_strict_cookie(server: Server, db: psycopg.Connection):
    ensure_user(db, "chen", "engineer")
    with server.client() as c:
        resp = _login(c, "Chen")  # usernames compare case-insensitively
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        assert body["username"] == "chen" and body["role"] == "engineer"
        assert body["expires_at"] == "2026-11-21T13:00:00Z"
        assert resp.headers["cache-control"] == "no-store"
        token = body["access_token"]
        assert token.startswith("rws_")
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith(f"rw_session={token};")
        for attribute in ("HttpOnly", "SameSite=strict", "Max-Age=3600", "Path=/"):
            assert attribute in cookie, cookie
        assert "Secure" not in cookie  # served over plain http here
        # The cookie alone signs the console in (httpx keeps it for this client).
        assert c.get("/api/v1/auth/me").json()["name"] == "chen"
    with server.client(headers=bearer(token)) as c:
        me = c.get("/api/v1/auth/me").json()
        assert me["role"] == "engineer" and me["tickets"] == "assigned"
        assert "accept" in me["events"] and "users" not in me["read"]
    # Stored as a digest only.
    stored = db.execute("SELECT token_hash FROM auth_tokens").fetchall()
    assert stored == [(digest(token),)]
    assert token.encode() not in stored[0][0]


def test_json_login_and_bad_bodies(server: Server, db: psycopg.Connection):
    ensure_user(db, "zhao", "dispatcher")
    with server.client() as c:
        assert _login(c, "zhao", as_json=True).status_code == 200
        for body in ({"username": "zhao"}, {"username": 1, "password": 2}, ["zhao", PASSWORD]):
            resp = c.post("/api/v1/auth/login", json=body)
            assert resp.status_code == 422 and PASSWORD not in resp.text
        assert c.post("/api/v1/auth/login", content=b"{not json",
                      headers={"content-type": "application/json"}).status_code == 422
        assert c.post("/api/v1/auth/login", content=b"x",
                      headers={"content-type": "text/plain"}).status_code == 422


def test_cookie_is_secure_when_configured(db_url: str, db: psycopg.Connection):
    ensure_user(db, "li", "om_manager")
    app = create_app(database_url=db_url, clock=Clock(), pool_max_size=2, cookie_secure=True,
                     cookie_name="rw_console")
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        cookie = _login(c, "li").headers["set-cookie"]
        assert cookie.startswith("rw_console=") and "Secure" in cookie


def test_wrong_password_is_401_and_the_log_holds_no_password(
    server: Server, db: psycopg.Connection, caplog: pytest.LogCaptureFixture
):
    ensure_user(db, "wang", "expert")
    secret = "hunter2-but-much-longer"
    with caplog.at_level(logging.DEBUG), server.client() as c:
        for name in ("wang", "no-such-user"):
            resp = _login(c, name, secret)
            assert resp.status_code == 401
            assert resp.json()["detail"] == "wrong username or password"  # same for both
            assert resp.headers["content-type"] == "application/problem+json"
            assert resp.headers["www-authenticate"].startswith("Bearer")
            assert "set-cookie" not in resp.headers
    failures = [r for r in caplog.records if "login failed" in r.getMessage()]
    assert {r.getMessage() for r in failures} == {
        "login failed for 'wang' from 127.0.0.1",
        "login failed for 'no-such-user' from 127.0.0.1"}
    assert all(secret not in r.getMessage() and secret not in str(r.args)
               for r in caplog.records)
    assert secret not in caplog.text


def test_logout_revokes_the_token_and_clears_the_cookie(server: Server, db: psycopg.Connection):
    ensure_user(db, "liu", "maintainer")
    with server.client() as c:
        token = _login(c, "liu").json()["access_token"]
    with server.client(headers=bearer(token)) as c:
        assert c.get("/api/v1/tickets").status_code == 200
        out = c.post("/api/v1/auth/logout")
        assert out.status_code == 204
        assert 'rw_session=""' in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
        again = c.get("/api/v1/tickets")
        assert again.status_code == 401 and 'error="invalid_token"' in \
            again.headers["www-authenticate"]


def test_token_expires_with_the_app_clock(server: Server, db: psycopg.Connection):
    ensure_user(db, "sun", "dispatcher")
    with server.client() as c:
        token = _login(c, "sun").json()["access_token"]
    with server.client(headers=bearer(token)) as c:
        server.clock.now = NOW + timedelta(minutes=59)
        assert c.get("/api/v1/auth/me").status_code == 200
        server.clock.now = NOW + timedelta(hours=1)
        assert c.get("/api/v1/auth/me").status_code == 401


def test_failed_logins_are_rate_limited_per_username_with_retry_after(
    server: Server, db: psycopg.Connection
):
    ensure_user(db, "gao", "engineer")
    with server.client() as c:
        for minute in range(3):
            server.clock.now = NOW + timedelta(minutes=minute)
            assert _login(c, "gao", "wrong-password!").status_code == 401
        server.clock.now = NOW + timedelta(minutes=3)
        # The right password is not even checked now.
        limited = _login(c, "gao")
        assert limited.status_code == 429
        # The oldest of the 3 failures (minute 0) leaves the 10-minute window at minute 10.
        assert limited.headers["retry-after"] == str(7 * 60)
        assert limited.headers["content-type"] == "application/problem+json"
        # A limited attempt is not counted: waiting out Retry-After is enough.
        server.clock.now = NOW + timedelta(minutes=10)
        assert _login(c, "gao").status_code == 200


def test_failed_logins_are_rate_limited_per_address(server: Server, db: psycopg.Connection):
    ensure_user(db, "hu", "engineer")
    with server.client() as c:
        for n in range(5):  # five usernames, one failure each: spraying from one address
            assert _login(c, f"guess{n}", "wrong-password!").status_code == 401
        limited = _login(c, "hu")
        assert limited.status_code == 429 and limited.headers["retry-after"] == str(10 * 60)


def test_api_key_created_by_admin_shown_once_and_revocable(
    server: Server, db: psycopg.Connection
):
    seed_fleet(db)
    ensure_user(db, "root", "admin")
    with server.client() as c:
        admin = bearer(_login(c, "root").json()["access_token"])
        created = c.post("/api/v1/api-keys", headers=admin,
                         json={"name": "erp-sync", "role": "customer_viewer",
                               "customer": "ACME"})
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert key.startswith("rwk_") and created.json()["created_by"] == "root"
        listed = c.get("/api/v1/api-keys", headers=admin).json()
        assert listed["count"] == 1 and "key" not in listed["items"][0]
        assert key not in c.get("/api/v1/api-keys", headers=admin).text
        dup = c.post("/api/v1/api-keys", headers=admin,
                     json={"name": "erp-sync", "role": "engineer"})
        assert dup.status_code == 409
        bad = c.post("/api/v1/api-keys", headers=admin, json={"name": "x", "role": "engineer",
                                                              "customer": "ACME"})
        assert bad.status_code == 409 and "customer_viewer" in bad.json()["detail"]

        machine = bearer(key)
        me = c.get("/api/v1/auth/me", headers=machine).json()
        assert me == {**me, "name": "key:erp-sync", "kind": "api_key",
                      "role": "customer_viewer", "customer": "ACME", "expires_at": None}
        robots = c.get("/api/v1/robots", headers=machine).json()
        assert {r["customer"] for r in robots["items"]} == {"ACME"}
        assert c.get("/api/v1/robots/R-0003", headers=machine).status_code == 404
        assert c.post("/api/v1/auth/password", headers=machine, json={
            "current_password": "x", "new_password": "y"}).status_code == 403

        key_id = created.json()["id"]
        assert c.delete(f"/api/v1/api-keys/{key_id}", headers=admin).status_code == 204
        assert c.delete(f"/api/v1/api-keys/{key_id}", headers=admin).status_code == 404
        assert c.get("/api/v1/robots", headers=machine).status_code == 401
    assert db.execute("SELECT count(*) FROM api_keys WHERE key_hash = %s",
                      (digest(key),)).fetchone() == (1,)


def test_password_change_revokes_other_sessions(server: Server, db: psycopg.Connection):
    ensure_user(db, "ma", "om_manager")
    new = "a much better passphrase"
    with server.client() as c:
        first = bearer(_login(c, "ma").json()["access_token"])
        second = bearer(_login(c, "ma").json()["access_token"])
        wrong = c.post("/api/v1/auth/password", headers=first,
                       json={"current_password": "not it at all", "new_password": new})
        assert wrong.status_code == 403
        short = c.post("/api/v1/auth/password", headers=first,
                       json={"current_password": PASSWORD, "new_password": "short"})
        assert short.status_code == 422 and "at least 12" in short.json()["detail"]
        ok = c.post("/api/v1/auth/password", headers=first,
                    json={"current_password": PASSWORD, "new_password": new})
        assert ok.status_code == 204
        assert c.get("/api/v1/auth/me", headers=first).status_code == 200
        assert c.get("/api/v1/auth/me", headers=second).status_code == 401
        assert _login(c, "ma").status_code == 401
        assert _login(c, "ma", new).status_code == 200


def test_disabling_a_user_revokes_its_sessions_and_refuses_login(
    server: Server, db: psycopg.Connection
):
    ensure_user(db, "admin1", "admin")
    ensure_user(db, "leaver", "engineer")
    with server.client() as c:
        admin = bearer(_login(c, "admin1").json()["access_token"])
        leaver = bearer(_login(c, "leaver").json()["access_token"])
        assert c.get("/api/v1/auth/me", headers=leaver).status_code == 200
        resp = c.post("/api/v1/users/leaver/disable", headers=admin)
        assert resp.status_code == 200 and resp.json()["disabled_at"] is not None
        assert c.get("/api/v1/auth/me", headers=leaver).status_code == 401
        assert _login(c, "leaver").status_code == 401
        assert c.post("/api/v1/users/nobody/disable", headers=admin).status_code == 404
        users = c.get("/api/v1/users", headers=admin).json()
        assert [u["username"] for u in users["items"]] == ["admin1", "leaver"]
        made = c.post("/api/v1/users", headers=admin, json={
            "username": "New.Hire", "role": "engineer", "password": PASSWORD})
        assert made.status_code == 201 and made.json()["username"] == "new.hire"
        taken = c.post("/api/v1/users", headers=admin, json={
            "username": "new.hire", "role": "engineer", "password": PASSWORD})
        assert taken.status_code == 409
    revoked = db.execute("""SELECT count(*) FROM auth_tokens t JOIN users u ON u.id = t.user_id
                            WHERE u.username = 'leaver' AND t.revoked_at IS NULL""").fetchone()
    assert revoked == (0,)
