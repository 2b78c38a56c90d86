"""Signed-in callers for the API tests: users made through storage and tokens issued the way
the login endpoint issues them, without paying argon2 for every test (one hash per session).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import psycopg

from api.auth.crypto import KEY_PREFIX, SESSION_PREFIX, hash_password, new_secret
from storage.users import create_api_key, create_user, get_user, issue_token
from tests.api.seed import NOW

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def ensure_user(
    conn: psycopg.Connection, username: str, role: str, *, customer: str | None = None,
    engineer: str | None = None,
) -> int:
    user = get_user(conn=conn, username=username)
    if user is None:
        user = create_user(conn=conn, username=username, role=role,
                           password_hash=password_hash(), at=NOW - timedelta(days=1),
                           customer=customer, engineer=engineer)
        conn.commit()
    return user.id


def token_for(
    conn: psycopg.Connection, username: str, role: str, *, customer: str | None = None,
    engineer: str | None = None, issued_at: datetime = NOW, ttl: timedelta = timedelta(hours=8),
) -> str:
    user_id = ensure_user(conn, username, role, customer=customer, engineer=engineer)
    token, hashed = new_secret(SESSION_PREFIX)
    issue_token(conn=conn, user_id=user_id, token_hash=hashed, created_at=issued_at,
                expires_at=issued_at + ttl, client="test")
    conn.commit()
    return token


def api_key_for(conn: psycopg.Connection, name: str, role: str, *,
                customer: str | None = None) -> str:
    key, hashed = new_secret(KEY_PREFIX)
    create_api_key(conn=conn, name=name, key_hash=hashed, role=role, at=NOW, customer=customer)
    conn.commit()
    return key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
