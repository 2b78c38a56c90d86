"""``/``: the support engineers' wall screen, plain static files with no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from api.deps import get_current_user

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"

router = APIRouter(tags=["console"], dependencies=[Depends(get_current_user)])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(CONSOLE_DIR / "index.html", media_type="text/html")
