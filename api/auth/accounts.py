"""Account operations shared by the API and ``robowatch user``: checked, hashed, stored.

Passwords and tokens enter here as given and leave only as hashes or digests; the plain
values are returned once (a new API key) and never logged.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from api.auth.crypto import KEY_PREFIX, hash_password, new_secret
from api.auth.errors import AccountError
from storage.connect import Conn
from storage.users import (
    ApiKeyRow,
    UnknownReference,
    UserExists,
    UserRow,
    create_api_key,
    create_user,
    disable_user,
    get_user,
    revoke_user_tokens,
    set_password_hash,
)
from ticketing.access import ROLES

__all__ = ["MIN_PASSWORD", "MAX_PASSWORD", "normal_username", "check_password", "add_user",
           "change_password", "disable", "new_api_key", "DEMO_PASSWORD_SUFFIX",
           "demo_password", "ensure_demo_users"]

log = logging.getLogger(__name__)

# NIST SP 800-63B asks for at least 8 characters and for allowing long passphrases; 12 makes
# an offline guess of a leaked argon2id hash impractical for any non-dictionary choice.
MIN_PASSWORD = 12
# Bounds the work one login can cause; any passphrase fits.
MAX_PASSWORD = 1024
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")


def normal_username(name: str) -> str:
    """Usernames compare case-insensitively: stored and looked up in lower case."""
    normal = name.strip().lower()
    if not _USERNAME_RE.match(normal):
        raise AccountError(f"username {name!r}: 2-64 characters, letters, digits and _ . @ -, "
                           "starting with a letter or digit")
    return normal


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters")


def _check_role(role: str, customer: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if (role == "customer_viewer") != (customer is not None):
        raise AccountError("a customer_viewer needs --customer, and only a customer_viewer "
                           "may have one")


def add_user(
    *, conn: Conn, username: str, role: str, password: str, at: datetime,
    display_name: str = "", customer: str | None = None, engineer: str | None = None,
) -> UserRow:
    name = normal_username(username)
    _check_role(role, customer)
    check_password(password)
    try:
        user = create_user(conn=conn, username=name, role=role,
                           password_hash=hash_password(password), at=at,
                           display_name=display_name, customer=customer, engineer=engineer)
    except (UserExists, UnknownReference) as exc:
        raise AccountError(str(exc)) from exc
    log.info("user %s added with role %s", name, role)
    return user


def change_password(
    *, conn: Conn, username: str, password: str, at: datetime, keep_token_id: int | None = None,
) -> int:
    """Set a new password and revoke the user's sessions (but ``keep_token_id``, the one
    that asked); return how many were revoked."""
    check_password(password)
    user = get_user(conn=conn, username=normal_username(username))
    if user is None:
        raise AccountError(f"no user {username!r}")
    with conn.transaction():
        set_password_hash(conn=conn, user_id=user.id, password_hash=hash_password(password),
                          at=at)
        revoked = revoke_user_tokens(conn=conn, user_id=user.id, at=at,
                                     keep_token_id=keep_token_id)
    log.info("password of %s changed; %d session(s) revoked", user.username, revoked)
    return revoked


def disable(*, conn: Conn, username: str, at: datetime) -> UserRow:
    """Disable a user; its sessions are revoked with it."""
    user = disable_user(conn=conn, username=normal_username(username), at=at)
    if user is None:
        raise AccountError(f"no user {username!r}")
    log.info("user %s disabled; its sessions are revoked", user.username)
    return user


def new_api_key(
    *, conn: Conn, name: str, role: str, at: datetime, customer: str | None = None,
    created_by: str | None = None,
) -> tuple[str, ApiKeyRow]:
    """A new API key: the key itself (shown once, never stored) and its row."""
    _check_role(role, customer)
    key, hashed = new_secret(KEY_PREFIX)
    try:
        row = create_api_key(conn=conn, name=name, key_hash=hashed, role=role, at=at,
                             customer=customer, created_by=created_by)
    except (UserExists, UnknownReference) as exc:
        raise AccountError(str(exc)) from exc
    log.info("API key %s created with role %s by %s", name, role, created_by)
    return key, row


# The demo's users: one per role, named after it, password "<username>-robowatch"
# (e.g. dispatcher / dispatcher-robowatch). For the demo on a laptop only.
DEMO_PASSWORD_SUFFIX = "-robowatch"


def demo_password(username: str) -> str:
    return username + DEMO_PASSWORD_SUFFIX


def ensure_demo_users(
    conn: Conn, *, at: datetime, customer: str, engineer: str | None = None,
    manager: str | None = None,
) -> list[str]:
    """Create the demo's users that are missing, one per role, and return every demo
    username. Existing users are left as they are (a changed password stays changed).

    ``customer`` is the customer code the ``customer_viewer`` is bound to; ``engineer`` and
    ``manager`` are engineer codes the ``engineer`` and ``om_manager`` users are linked to,
    so tickets dispatched to them are theirs.
    """
    links = {"engineer": engineer, "om_manager": manager}
    names: list[str] = []
    for role in ROLES:
        names.append(role)
        if get_user(conn=conn, username=role) is not None:
            continue
        add_user(conn=conn, username=role, role=role, password=demo_password(role), at=at,
                 display_name=f"Demo {role.replace('_', ' ')}",
                 customer=customer if role == "customer_viewer" else None,
                 engineer=links.get(role))
    return names
