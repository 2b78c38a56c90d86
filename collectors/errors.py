"""Exceptions of the collectors package.

    CollectorError
    ├── RejectedInput        one message or value refused; carries a reason code for quarantine
    ├── CollectorConfigError configuration that cannot work (bad URL, no endpoints)
    └── SourceRefused        a server refused us for good (credentials, protocol version):
                             the transport stops instead of retrying

    ConnectionError (builtin; retried with backoff by collectors.supervise)
    └── SubscriptionRefused  the server accepted the connection but refused a subscription
"""

from __future__ import annotations

__all__ = ["CollectorError", "RejectedInput", "CollectorConfigError", "SourceRefused",
           "SubscriptionRefused"]


class CollectorError(Exception):
    pass


class RejectedInput(CollectorError):
    """Input refused. ``reason`` is a short code (counted in metrics and the quarantine)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CollectorConfigError(CollectorError):
    pass


class SourceRefused(CollectorError):
    """Refused for good (bad credentials, not authorised, protocol version): do not retry."""


class SubscriptionRefused(ConnectionError):
    """Connected, but the subscription was refused (usually the broker's ACL).

    Retried with backoff, not treated as :class:`SourceRefused`: the credentials were
    accepted, and an ACL can be corrected while we wait (Mosquitto reloads it on SIGHUP).
    """

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"subscription to {topic} refused: {reason}")
        self.topic = topic
        self.reason = reason
