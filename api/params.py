"""Query and path parameters shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["Limit", "Offset", "RowId", "MAX_LIMIT"]

# A page larger than this is a scrape, not a screen: paging keeps each query cheap.
MAX_LIMIT = 1000
# Ids and offsets are PostgreSQL bigints; anything larger is refused here as a 422 instead
# of failing inside the driver as a 500.
_BIGINT_MAX = 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=_BIGINT_MAX, description="Rows to skip")]
RowId = Annotated[int, Path(ge=1, le=_BIGINT_MAX)]
