"""``robowatch user add|list|disable|password`` through typer's CliRunner against the test
database, and the demo's users."""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from api.auth import demo_password, ensure_demo_users
from api.auth.crypto import verify_password
from robowatch.cli.main import app
from storage.fleet import EngineerSpec, FleetSpec, register_fleet
from storage.users import list_users, user_credentials
from tests.api.callers import token_for
from tests.api.seed import NOW, seed_fleet
from ticketing.access import ROLES

PASSWORD = "a long enough passphrase"


@pytest.fixture
def run(db_url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("ROBOWATCH_HOME", str(tmp_path))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(app, ["user", *args], input=stdin)

    # The root command points logging at CliRunner's stream, closed after each invoke: put
    # the handlers back so later tests do not log into a closed file.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield invoke
    root.handlers[:] = handlers
    root.setLevel(level)


def test_add_with_prompt_never_echoes_the_password(run, db: psycopg.Connection):
    seed_fleet(db)
    result = run("add", "Chen", "--role", "engineer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "added chen (engineer)" in result.output
    assert PASSWORD not in result.output
    creds = user_credentials(conn=db, username="chen")
    assert creds is not None and creds.password_hash.startswith("$argon2id$")
    assert verify_password(creds.password_hash, PASSWORD)


def test_add_from_stdin_binds_a_customer_viewer(run, db: psycopg.Connection):
    seed_fleet(db)
    ok = run("add", "acme-ops", "--role", "customer_viewer", "--customer", "ACME",
             "--password-stdin", stdin=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    [user] = list_users(conn=db)
    assert (user.username, user.role, user.customer) == ("acme-ops", "customer_viewer", "ACME")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x1", "--role", "root"], "unknown role 'root'"),
        (["x2", "--role", "customer_viewer"], "needs --customer"),
        (["x3", "--role", "engineer", "--customer", "ACME"], "only a customer_viewer"),
        (["x4", "--role", "customer_viewer", "--customer", "NOPE"], "no customer 'NOPE'"),
        (["x5", "--role", "engineer", "--engineer", "E-404"], "no engineer 'E-404'"),
        (["bad name!", "--role", "engineer"], "username 'bad name!'"),
    ],
)
def test_add_refusals_exit_2_with_a_reason(run, db: psycopg.Connection, args, message):
    seed_fleet(db)
    result = run("add", *args, "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 2 and message in result.output, result.output


def test_short_password_and_duplicate_are_refused(run, db: psycopg.Connection):
    short = run("add", "gao", "--role", "expert", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 12" in short.output
    assert run("add", "gao", "--role", "expert", "--password-stdin",
               stdin=PASSWORD + "\n").exit_code == 0
    again = run("add", "GAO", "--role", "expert", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 2 and "exists" in again.output


def test_list_disable_and_password(run, db: psycopg.Connection):
    register_fleet(conn=db, fleet=FleetSpec(engineers=(EngineerSpec(code="E-101", name="C"),)))
    db.commit()
    assert run("add", "chen", "--role", "engineer", "--engineer", "E-101",
               "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    token_for(db, "chen", "engineer")
    token_for(db, "chen", "engineer", issued_at=NOW + timedelta(minutes=1))

    listing = run("list")
    assert listing.exit_code == 0
    assert listing.output.splitlines()[1].split() == ["chen", "engineer", "-", "E-101",
                                                      "active"]

    changed = run("password", "chen", "--password-stdin", stdin="another fine passphrase\n")
    assert changed.exit_code == 0 and "2 session(s) revoked" in changed.output
    creds = user_credentials(conn=db, username="chen")
    assert creds is not None and verify_password(creds.password_hash, "another fine passphrase")

    token_for(db, "chen", "engineer")
    disabled = run("disable", "chen")
    assert disabled.exit_code == 0 and "sessions are revoked" in disabled.output
    live = db.execute("SELECT count(*) FROM auth_tokens WHERE revoked_at IS NULL").fetchone()
    assert live == (0,)
    assert "disabled" in run("list").output
    assert run("disable", "nobody").exit_code == 2
    assert run("password", "nobody", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 2


def test_demo_users_one_per_role_idempotent(db: psycopg.Connection):
    seed_fleet(db)
    register_fleet(conn=db, fleet=FleetSpec(engineers=(
        EngineerSpec(code="E-101", name="Chen"),
        EngineerSpec(code="E-MGR-1", name="Wang", role="manager"))))
    names = ensure_demo_users(db, at=NOW, customer="ACME", engineer="E-101", manager="E-MGR-1")
    db.commit()
    assert names == list(ROLES)
    users = {u.username: u for u in list_users(conn=db)}
    assert set(users) == set(ROLES)
    assert users["customer_viewer"].customer == "ACME"
    assert users["engineer"].engineer == "E-101" and users["om_manager"].engineer == "E-MGR-1"
    creds = user_credentials(conn=db, username="dispatcher")
    assert creds is not None
    assert verify_password(creds.password_hash, demo_password("dispatcher"))
    assert demo_password("dispatcher") == "dispatcher-robowatch"
    # A second start changes nothing (and keeps a password someone changed).
    assert ensure_demo_users(db, at=NOW, customer="ACME") == names
    assert len(list_users(conn=db)) == len(ROLES)
