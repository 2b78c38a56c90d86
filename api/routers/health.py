"""``/healthz``: is the database reachable and is the live stream listening?

Left outside ``CurrentUser`` on purpose: load balancers and the process supervisor probe it
without credentials, and it reveals nothing about the fleet.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ConfigDep, HubDep, PoolDep, RelayDep
from api.schemas import Health
from storage.connect import DatabaseUnavailable, PoolTimeout, first_line, ping

router = APIRouter(tags=["health"])

log = logging.getLogger(__name__)


@router.get(
    "/healthz", response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable"}},
)
def healthz(
    pool: PoolDep, relay: RelayDep, hub: HubDep, config: ConfigDep
) -> Health | JSONResponse:
    try:
        # A short wait: a probe that hangs for the pool's full timeout tells nobody anything.
        with pool.connection(timeout=config.health_timeout) as conn:
            ping(conn=conn)
        database = "ok"
    except (DatabaseUnavailable, PoolTimeout) as exc:
        database = f"unreachable: {first_line(exc)}"
        log.warning("health check: database %s", database)
    health = Health(status="ok" if database == "ok" else "unavailable", database=database,
                    stream=relay.state, stream_clients=hub.clients)
    if health.status != "ok":
        return JSONResponse(status_code=503, content=health.model_dump(mode="json"))
    return health
