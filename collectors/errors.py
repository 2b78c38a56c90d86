"""Exceptions of the collectors package.

    CollectorError
    ├── RejectedInput        one message or value refused; carries a reason code for quarantine
    └── CollectorConfigError configuration that cannot work (bad URL, no endpoints)
"""

from __future__ import annotations

__all__ = ["CollectorError", "RejectedInput", "CollectorConfigError"]


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
