"""Secrets at rest: argon2id password hashes, and SHA-256 digests of random tokens.

Passwords are low-entropy, so they get a slow, memory-hard hash (argon2-cffi's defaults are
RFC 9106's second recommended profile: t=3, m=64 MiB, p=4; about 0.3 s per hash on our
2-core reference machine). Session tokens and API keys are 256-bit random values, which no
one can guess, so a fast SHA-256 digest is enough and lets the database find them by index.

Tokens carry a prefix saying what they are (``rws_`` session, ``rwk_`` API key), so a leaked
one is recognisable in a log or by a secret scanner.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["SESSION_PREFIX", "KEY_PREFIX", "hash_password", "verify_password", "needs_rehash",
           "waste_verify", "new_secret", "digest"]

SESSION_PREFIX = "rws_"
KEY_PREFIX = "rwk_"
# 32 random bytes = 256 bits, the strength of the SHA-256 digest that stands for them.
_TOKEN_BYTES = 32

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on a mismatch or an unreadable stored hash."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: rehash at the next login."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def waste_verify(password: str) -> None:
    """Spend the time of a real verification, so an unknown username answers as slowly as a
    wrong password and response times do not tell which usernames exist."""
    verify_password(_dummy_hash(), password)


def new_secret(prefix: str) -> tuple[str, bytes]:
    """A fresh token (to give out once) and its digest (to store)."""
    token = prefix + secrets.token_urlsafe(_TOKEN_BYTES)
    return token, digest(token)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
