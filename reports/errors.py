"""Every error the reports package raises on purpose derives from ``ReportError``.

::

    ReportError
    ├── PeriodError       a week, month or quarter that cannot be read (``2026-W48``)
    └── RecordsError      an archive or purge request that cannot be served
        ├── ArchiveNotFound   no ticket with that id or number
        └── PurgeRefused      a purge without approval, already done, or not due yet

A policy file that cannot be used raises ticketing's ``PolicyError``: the reports policy is
read by ticketing's one TOML reader.
"""

from __future__ import annotations

__all__ = ["ReportError", "PeriodError", "RecordsError", "ArchiveNotFound", "PurgeRefused"]


class ReportError(Exception):
    """Base of the package's errors."""


class PeriodError(ReportError):
    """A report period that cannot be parsed."""


class RecordsError(ReportError):
    """An archive or purge request that cannot be served."""


class ArchiveNotFound(RecordsError):
    """No ticket with that id or number."""


class PurgeRefused(RecordsError):
    """The purge was refused and nothing was destroyed; the message says why."""
