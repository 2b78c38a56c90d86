"""The list contract every list endpoint follows, and how a bad parameter is answered.

Every list (``GET /api/v1/<things>``) takes:

- ``limit`` (1..:data:`MAX_LIMIT`, default 100) and ``offset`` (rows to skip);
- ``sort``: one key of the resource's enumeration, ``-key`` for descending;
- filters, each an enumeration, a code (matched case-insensitively) or a boolean;

and answers ``{"items": [...], "count": N}``, ``count`` being the total matching the filters.
A value outside an enumeration, a malformed code or an out-of-range page is a ``422`` problem
document (RFC 9457) whose ``errors`` name each bad parameter; it is never an empty 200.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.auth.problems import problem_response
from api.schemas import CODE_PATTERN

__all__ = ["Limit", "Offset", "RowId", "MAX_LIMIT", "CodeFilter", "TextFilter", "TicketRef",
           "TicketQuery",
           "TICKET_REF_PATTERN", "validation_problem"]

# A page larger than this is a scrape, not a screen: paging keeps each query cheap.
MAX_LIMIT = 1000
# Ids and offsets are PostgreSQL bigints; anything larger is refused here as a 422 instead
# of failing inside the driver as a 500.
_BIGINT_MAX = 2**63 - 1

# A ticket is named by its id or by the number people see (RW-20261202-0001), in any case.
TICKET_REF_PATTERN = r"^([1-9][0-9]{0,17}|[Rr][Ww]-[0-9]{8}-[0-9]{4,9})$"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=_BIGINT_MAX, description="Rows to skip")]
RowId = Annotated[int, Path(ge=1, le=_BIGINT_MAX)]
CodeFilter = Annotated[str | None, Query(pattern=CODE_PATTERN,
                                         description="A code, matched case-insensitively")]
# Free text (a search, a city): printable, since PostgreSQL text cannot hold NUL and control
# characters are never part of a name.
TextFilter = Annotated[str | None, Query(min_length=1, max_length=64,
                                         pattern=r"^[^\x00-\x1f\x7f]+$",
                                         description="Part of a code or name")]
TicketRef = Annotated[str, Path(pattern=TICKET_REF_PATTERN,
                                description="Ticket id (42) or number (RW-20261202-0001)")]
TicketQuery = Annotated[str | None, Query(pattern=TICKET_REF_PATTERN,
                                          description="Ticket id or number")]


def _text(value: object) -> str:
    # A key the client sent may hold lone surrogates, which UTF-8 cannot encode.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _issue(error: Any) -> dict[str, Any]:
    # Only what is safe to echo and serialisable: the input itself may be neither.
    return {"loc": [p if isinstance(p, int) else _text(p) for p in error.get("loc", ())],
            "msg": _text(error.get("msg", "")), "type": _text(error.get("type", ""))}


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """A refused request (bad parameter or body) as a 422 problem document."""
    if not isinstance(exc, RequestValidationError):
        raise TypeError(f"not a RequestValidationError: {exc!r}")
    issues = [_issue(e) for e in exc.errors()]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in i['loc'][1:]) or i['loc'][0] if i['loc'] else '?'}: "
        f"{i['msg']}" for i in issues) or "invalid request"
    return problem_response(422, detail, instance=request.url.path, errors=issues)
