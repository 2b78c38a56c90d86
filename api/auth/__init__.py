"""Identity and access at the API edge: who calls (sessions, API keys), what they may read
and do (``ticketing/policies/access.toml``), login, logout, rate limits, accounts.

Modules: ``caller`` (authentication and the permission helpers every router uses),
``crypto`` (argon2id, token digests), ``limits`` (login rate limits), ``accounts`` (user and
API key operations shared with ``robowatch user``), ``router`` (the endpoints),
``problems`` (RFC 9457 refusals), ``schemas``, ``errors``. The rows live in
``storage.users``; docs/access.md describes the whole.
"""

from api.auth.accounts import demo_password, ensure_demo_users
from api.auth.caller import Caller, authorize_event, get_current_user, require_action, require_read
from api.auth.errors import AccountError, AuthError

__all__ = ["Caller", "get_current_user", "require_read", "require_action", "authorize_event",
           "ensure_demo_users", "demo_password", "AuthError", "AccountError"]
