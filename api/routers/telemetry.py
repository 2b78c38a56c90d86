"""``GET /api/v1/robots/{code}/telemetry``: one robot's signals for a chart, downsampled on
the server (``storage.downsample``) to at most ``max_points`` per series whatever the range:
raw points for a short range, min / mean / max per bucket for a long one, so a spike shows at
every zoom. Refusals are RFC 9457 problem details; another customer's robot is a 404.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from api.auth import require_read
from api.auth.problems import not_found
from api.console_policy import ConsolePolicy
from api.deps import ConnDep, CurrentUser, NowDep
from api.schemas import CODE_PATTERN, UtcDatetime
from storage.downsample import read_series, signal_units
from storage.fleet import get_robot

__all__ = ["router", "DEFAULT_SIGNALS"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/robots", tags=["telemetry"],
                   dependencies=[require_read("telemetry")])

DEFAULT_SIGNALS = tuple(f"J{j}.current" for j in range(1, 7))
DEFAULT_SPAN = timedelta(hours=1)
_SIGNALS_PATTERN = r"^[A-Za-z][A-Za-z0-9_.]{0,63}(,[A-Za-z][A-Za-z0-9_.]{0,63})*$"


class SeriesPublic(BaseModel):
    model_config = ConfigDict(frozen=True)
    signal: str
    unit: str | None
    t: list[float]
    min: list[float]
    avg: list[float]
    max: list[float]


class TelemetryPublic(BaseModel):
    # "from" is a Python keyword: the field is from_, its JSON name "from".
    model_config = ConfigDict(frozen=True, populate_by_name=True)
    robot: str
    from_: UtcDatetime = Field(alias="from")
    to: UtcDatetime
    bucket_s: float | None = Field(description="bucket length; null: raw points")
    series: list[SeriesPublic]


def console_policy(connection: HTTPConnection) -> ConsolePolicy:
    policy: ConsolePolicy = connection.app.state.console_policy
    return policy


def _utc(v: datetime) -> datetime:
    return v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)


def _refuse(detail: str) -> HTTPException:
    log.warning("telemetry request refused: %s", detail)
    return HTTPException(status_code=422, detail=detail)


@router.get("/{code}/telemetry",
            responses={404: {"description": "No robot with this code (or not yours)"},
                       422: {"description": "Unknown signal, empty or too long range"}})
def read(
    caller: CurrentUser, now: NowDep, conn: ConnDep,
    policy: Annotated[ConsolePolicy, Depends(console_policy)],
    code: Annotated[str, Path(pattern=CODE_PATTERN)],
    signals: Annotated[str | None, Query(
        pattern=_SIGNALS_PATTERN, description="Comma-separated signal names; "
        "default the six joint currents")] = None,
    from_: Annotated[datetime | None, Query(alias="from", description="ISO 8601; "
                                            "default one hour before 'to'")] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601; default now")] = None,
    max_points: Annotated[int | None, Query(ge=10, description="Points per series at most")]
    = None,
) -> TelemetryPublic:
    robot = get_robot(conn=conn, code=code)
    if robot is None or not caller.sees(robot.customer):
        raise not_found(f"robot {code!r} not found")
    charts = policy.charts
    points = max_points or charts.max_points
    if points > charts.max_points_limit:
        raise _refuse(f"max_points {points} exceeds {charts.max_points_limit}")
    end = _utc(to) if to else now
    start = _utc(from_) if from_ else end - DEFAULT_SPAN
    if start >= end:
        raise _refuse(f"'from' ({start.isoformat()}) must be before 'to' ({end.isoformat()})")
    if end - start > timedelta(days=charts.max_range_days):
        raise _refuse(f"range longer than {charts.max_range_days:g} days")
    names = list(dict.fromkeys(signals.split(","))) if signals else list(DEFAULT_SIGNALS)
    if len(names) > charts.max_signals:
        raise _refuse(f"{len(names)} signals named; at most {charts.max_signals}")
    known = signal_units(conn=conn, names=names)
    unknown = [n for n in names if n not in known]
    if unknown and signals:
        raise _refuse(f"unknown signal(s): {', '.join(unknown)}")
    wanted = {n: known[n] for n in names if n in known}
    data = read_series(conn=conn, robot_id=robot.id, signals=wanted, start=start, end=end,
                       max_points=points)
    return TelemetryPublic.model_validate({
        "robot": robot.code, "from": start, "to": end, "bucket_s": data.bucket_s,
        "series": [SeriesPublic(signal=s.signal, unit=s.unit, t=s.t, min=s.min, avg=s.avg,
                                max=s.max) for s in data.series]})
