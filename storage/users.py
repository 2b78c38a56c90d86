"""Users, their session tokens, API keys and failed logins: the rows behind identity and access.

Nothing here sees a secret as given. Callers pass what ``api.auth`` derived from it: an
argon2id hash for a password, a SHA-256 digest for a token or an API key. Times are passed in
(the API's clock), never taken from the database's ``now()``, so expiry is testable.

Each function works in the caller's transaction when one is open, in its own otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from storage.connect import Conn
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one

__all__ = [
    "UserRow", "Credentials", "SessionRow", "ApiKeyRow", "UserExists", "UnknownReference",
    "create_user", "get_user", "list_users", "user_credentials", "set_password_hash",
    "disable_user", "issue_token", "session_of", "revoke_token", "revoke_user_tokens",
    "create_api_key", "api_key_of", "list_api_keys", "revoke_api_key",
    "record_login_failure", "recent_login_failures",
]


class UserExists(ValueError):
    """A user or API key of that name exists already."""


class UnknownReference(ValueError):
    """The customer or engineer code named for a user does not exist."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: str
    customer: str | None
    engineer: str | None
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    user_id: int
    password_hash: str
    disabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRow:
    token_id: int
    expires_at: datetime
    user: UserRow


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRow:
    id: int
    name: str
    role: str
    customer: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


_USER_SELECT = """
    SELECT u.id, u.username, u.display_name, u.role, c.code AS customer, e.code AS engineer,
           u.created_at, u.password_changed_at, u.disabled_at
    FROM users u
    LEFT JOIN customers c ON c.id = u.customer_id
    LEFT JOIN engineers e ON e.id = u.engineer_id
"""


def _ref_id(conn: Conn, table: str, code: str | None) -> int | None:
    if code is None:
        return None
    # ``table`` is one of two literals below, never input.
    row = _one(conn, f"SELECT id FROM {table} WHERE code = %s", (code,))
    if row is None:
        raise UnknownReference(f"no {table[:-1]} {code!r}")
    return int(row["id"])


def create_user(
    *,
    conn: Conn,
    username: str,
    role: str,
    password_hash: str,
    at: datetime,
    display_name: str = "",
    customer: str | None = None,
    engineer: str | None = None,
) -> UserRow:
    """Add a user; raises ``UserExists`` or ``UnknownReference`` (customer or engineer code)."""
    with conn.transaction():
        customer_id = _ref_id(conn, "customers", customer)
        engineer_id = _ref_id(conn, "engineers", engineer)
        try:
            with conn.transaction():
                conn.execute("""
                    INSERT INTO users (username, display_name, role, customer_id, engineer_id,
                                       password_hash, created_at, password_changed_at)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    (username, display_name, role, customer_id, engineer_id, password_hash,
                     at, at))
        except psycopg.errors.UniqueViolation as exc:
            what = "engineer is linked to another user" if "engineer" in str(exc) else "exists"
            raise UserExists(f"user {username!r}: {what}") from exc
        user = get_user(conn=conn, username=username)
    if user is None:
        raise RuntimeError(f"user {username!r} vanished after insert")
    return user


def get_user(*, conn: Conn, username: str) -> UserRow | None:
    row = _one(conn, f"{_USER_SELECT} WHERE u.username = %s", (username,))
    return UserRow(**row) if row else None


def list_users(*, conn: Conn) -> list[UserRow]:
    return [UserRow(**r) for r in _rows(conn, f"{_USER_SELECT} ORDER BY u.username")]


def user_credentials(*, conn: Conn, username: str) -> Credentials | None:
    row = _one(conn, "SELECT id, password_hash, disabled_at FROM users WHERE username = %s",
               (username,))
    if row is None:
        return None
    return Credentials(user_id=int(row["id"]), password_hash=row["password_hash"],
                       disabled=row["disabled_at"] is not None)


def set_password_hash(*, conn: Conn, user_id: int, password_hash: str, at: datetime) -> None:
    conn.execute("UPDATE users SET password_hash = %s, password_changed_at = %s WHERE id = %s",
                 (password_hash, at, user_id))


def disable_user(*, conn: Conn, username: str, at: datetime) -> UserRow | None:
    """Disable a user and revoke every token it holds, in one transaction; None if unknown.
    Disabling a disabled user keeps the first time."""
    with conn.transaction():
        row = _one(conn, """UPDATE users SET disabled_at = coalesce(disabled_at, %s)
                            WHERE username = %s RETURNING id""", (at, username))
        if row is None:
            return None
        revoke_user_tokens(conn=conn, user_id=int(row["id"]), at=at)
        return get_user(conn=conn, username=username)


def issue_token(
    *, conn: Conn, user_id: int, token_hash: bytes, created_at: datetime, expires_at: datetime,
    client: str | None,
) -> int:
    rows = _rows(conn, """INSERT INTO auth_tokens (user_id, token_hash, created_at, expires_at,
                                                   client)
                          VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                 (user_id, token_hash, created_at, expires_at, client))
    return int(rows[0]["id"])


def session_of(*, conn: Conn, token_hash: bytes, now: datetime) -> SessionRow | None:
    """The live session a token digest stands for: not revoked, not expired at ``now``, and
    its user not disabled. None otherwise (the caller cannot tell which, nor should it)."""
    row = _one(conn, """
        SELECT t.id AS token_id, t.expires_at AS token_expires_at,
               u.id, u.username, u.display_name, u.role, c.code AS customer,
               e.code AS engineer, u.created_at, u.password_changed_at, u.disabled_at
        FROM auth_tokens t
        JOIN users u ON u.id = t.user_id
        LEFT JOIN customers c ON c.id = u.customer_id
        LEFT JOIN engineers e ON e.id = u.engineer_id
        WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s
          AND u.disabled_at IS NULL""", (token_hash, now))
    if row is None:
        return None
    token_id, expires_at = row.pop("token_id"), row.pop("token_expires_at")
    return SessionRow(token_id=int(token_id), expires_at=expires_at, user=UserRow(**row))


def revoke_token(*, conn: Conn, token_id: int, at: datetime) -> bool:
    row = _one(conn, """UPDATE auth_tokens SET revoked_at = %s
                        WHERE id = %s AND revoked_at IS NULL RETURNING id""", (at, token_id))
    return row is not None


def revoke_user_tokens(
    *, conn: Conn, user_id: int, at: datetime, keep_token_id: int | None = None
) -> int:
    """Revoke every live token of a user (but ``keep_token_id``); return how many."""
    rows = _rows(conn, """UPDATE auth_tokens SET revoked_at = %s
                          WHERE user_id = %s AND revoked_at IS NULL
                            AND id IS DISTINCT FROM %s RETURNING id""",
                 (at, user_id, keep_token_id))
    return len(rows)


_KEY_SELECT = """
    SELECT k.id, k.name, k.role, c.code AS customer, u.username AS created_by, k.created_at,
           k.revoked_at
    FROM api_keys k
    LEFT JOIN customers c ON c.id = k.customer_id
    LEFT JOIN users u ON u.id = k.created_by
"""


def create_api_key(
    *, conn: Conn, name: str, key_hash: bytes, role: str, at: datetime,
    customer: str | None = None, created_by: str | None = None,
) -> ApiKeyRow:
    with conn.transaction():
        customer_id = _ref_id(conn, "customers", customer)
        creator = _one(conn, "SELECT id FROM users WHERE username = %s", (created_by,))
        try:
            with conn.transaction():
                inserted = _rows(conn, """
                    INSERT INTO api_keys (name, key_hash, role, customer_id, created_by,
                                          created_at)
                    VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                    (name, key_hash, role, customer_id, creator["id"] if creator else None, at))
        except psycopg.errors.UniqueViolation as exc:
            raise UserExists(f"API key {name!r} exists") from exc
        keys = _rows(conn, f"{_KEY_SELECT} WHERE k.id = %s", (inserted[0]["id"],))
    return ApiKeyRow(**keys[0])


def api_key_of(*, conn: Conn, key_hash: bytes) -> ApiKeyRow | None:
    """The live (not revoked) API key with this digest."""
    row = _one(conn, f"{_KEY_SELECT} WHERE k.key_hash = %s AND k.revoked_at IS NULL",
               (key_hash,))
    return ApiKeyRow(**row) if row else None


def list_api_keys(*, conn: Conn) -> list[ApiKeyRow]:
    return [ApiKeyRow(**r) for r in _rows(conn, f"{_KEY_SELECT} ORDER BY k.name")]


def revoke_api_key(*, conn: Conn, key_id: int, at: datetime) -> bool:
    row = _one(conn, """UPDATE api_keys SET revoked_at = %s
                        WHERE id = %s AND revoked_at IS NULL RETURNING id""", (at, key_id))
    return row is not None


def record_login_failure(
    *, conn: Conn, username: str, address: str, at: datetime, forget_before: datetime
) -> None:
    """Remember one failed login; forget failures older than ``forget_before`` (no longer
    counted by any window), so the table stays as small as the window."""
    with conn.transaction():
        conn.execute("DELETE FROM login_failures WHERE at < %s", (forget_before,))
        conn.execute("INSERT INTO login_failures (at, username, address) VALUES (%s, %s, %s)",
                     (at, username, address))


def recent_login_failures(
    *, conn: Conn, username: str, address: str, since: datetime, limit: int
) -> tuple[list[datetime], list[datetime]]:
    """Times of failed logins after ``since``, newest first, at most ``limit`` of each: for
    this username (from any address) and from this address (for any username)."""
    by_user = _rows(conn, """SELECT at FROM login_failures WHERE username = %s AND at > %s
                             ORDER BY at DESC LIMIT %s""", (username, since, limit))
    by_addr = _rows(conn, """SELECT at FROM login_failures WHERE address = %s AND at > %s
                             ORDER BY at DESC LIMIT %s""", (address, since, limit))
    return [r["at"] for r in by_user], [r["at"] for r in by_addr]
