"""Errors of identity and access that are not HTTP refusals (those are in ``problems``).

::

    AuthError
    └── AccountError      a user or API key cannot be created or changed as asked (bad name,
                          weak password, unknown role, customer or engineer, name taken)
"""

from __future__ import annotations

__all__ = ["AuthError", "AccountError"]


class AuthError(Exception):
    """Base of the package's errors."""


class AccountError(AuthError):
    """The account change was refused; the message says why and is safe to show."""
