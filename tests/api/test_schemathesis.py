"""Schemathesis against ``/openapi.json`` with a token of each role: no 5xx and no response
that breaks the schema, on generated valid and invalid requests of every operation.

Bounded (``EXAMPLES`` per operation and role) so that it runs in a minute or two on a shared
machine. Left out: the SSE stream (it never ends), the three operations that would end the test's
own credentials (logout, password change, disabling a user), and login, whose known 500 on a
NUL byte is pinned by ``test_login_with_nul_byte_is_refused`` below until api/auth fixes it
(found by this test; outside this change).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet
from tests.api.server import serve_in_thread
from ticketing.access import ROLES
from ticketing.duty import put_roster_in_force

ROSTER = Path(__file__).parents[2] / "robowatch" / "demo_roster.toml"
EXAMPLES = 6
SKIPPED = r"^/api/v1/(stream/events|auth/logout|auth/password|users/[^/]+/disable|auth/login)"
# What this test promises: no 5xx, and every answer as /openapi.json describes it (status,
# media type, body). Not "every schema-valid request succeeds": business rules refuse some
# (a ticket event without the version seen is a 428; a transfer to its own warehouse a 422).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

pytestmark = pytest.mark.slow


def _seed(db: psycopg.Connection) -> None:
    robots = seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name, role) VALUES ('E-101', '王伟', 'engineer')")
    db.commit()
    ticket = add_ticket(db, robots)
    add_ticket(db, robots, robot="R-0003", customer="BETA", grade="I", kind="collision",
               created_at=NOW - timedelta(hours=30))
    anomaly = add_anomaly(db, robots)
    db.execute("UPDATE anomalies SET ticket_id = %s WHERE id = %s", (ticket.id, anomaly))
    db.commit()


def _fuzz(op: Any, url: str, token: str) -> None:
    """``EXAMPLES`` generated requests to ``op`` as the caller of ``token``, each checked."""
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(op.as_strategy())
        case.call_and_validate(base_url=url, headers=bearer(token), checks=CHECKS)

    run()


def test_no_5xx_and_no_schema_break_for_any_role(db_url: str, db: psycopg.Connection) -> None:
    _seed(db)
    put_roster_in_force(conn=db, roster=ROSTER, source="demo_roster.toml")
    db.commit()
    tokens = {role: token_for(db, f"st-{role}", role,
                              customer="ACME" if role == "customer_viewer" else None)
              for role in ROLES}
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=4)
    failures: list[str] = []
    with serve_in_thread(app) as url:
        spec = httpx.get(f"{url}/openapi.json", headers=bearer(tokens["admin"])).json()
        schema = schemathesis.openapi.from_dict(spec).exclude(path_regex=SKIPPED)
        operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 20
        for role, token in tokens.items():
            for op in operations:
                try:
                    _fuzz(op, url, token)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all
                    failures.append(f"{role} {op.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_login_with_nul_byte_is_refused(anonymous: httpx.Client) -> None:
    # Found by schemathesis: a NUL reached PostgreSQL and answered 500.
    resp = anonymous.post("/api/v1/auth/login", json={"username": "a\x00b", "password": "x"})
    assert resp.status_code in (401, 422)


def test_a_value_the_database_cannot_store_is_a_422(client: httpx.Client) -> None:
    # Found by schemathesis on the parts lists: a NUL in a query parameter answered 500.
    resp = client.get("/api/v1/parts/requisitions", params={"work_order": "a\x00b"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
