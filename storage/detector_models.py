"""Model registry: learned detector baselines per robot, versioned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

__all__ = ["ModelRow", "save_model", "save_model_once", "latest_models", "latest_versions",
           "list_models", "training_points"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRow:
    robot_id: int
    detector: str
    version: int
    params: dict[str, Any]
    state: dict[str, Any]
    trained_from: datetime | None
    trained_to: datetime | None
    created_at: datetime


def save_model(
    *, conn: psycopg.Connection, robot_id: int, detector: str, params: dict[str, Any],
    state: dict[str, Any], trained_from: datetime | None, trained_to: datetime | None,
) -> int:
    """Store a new version of a robot's baseline; return its version number."""
    row = conn.execute(
        """INSERT INTO detector_models (robot_id, detector, version, params, state,
                                        trained_from, trained_to)
           SELECT %(r)s, %(d)s, coalesce(max(version), 0) + 1, %(p)s, %(s)s, %(f)s, %(t)s
           FROM detector_models WHERE robot_id = %(r)s AND detector = %(d)s
           RETURNING version""",
        {"r": robot_id, "d": detector, "p": Jsonb(params), "s": Jsonb(state),
         "f": trained_from, "t": trained_to},
    ).fetchone()
    return int(row[0])  # type: ignore[index]


def save_model_once(
    *, conn: psycopg.Connection, robot_id: int, detector: str, params: dict[str, Any],
    state: dict[str, Any], trained_from: datetime, trained_to: datetime,
) -> tuple[int, bool]:
    """Store a baseline learnt over ``[trained_from, trained_to]`` unless that version is
    stored already; return its version and whether this call stored it.

    A learner never learns two baselines of one robot over the same period, so the period
    keys the version: a retry after a commit whose outcome was lost stores nothing twice.
    Call it inside a transaction.
    """
    row = conn.execute(
        """SELECT version FROM detector_models
           WHERE robot_id = %s AND detector = %s AND trained_from = %s AND trained_to = %s
           ORDER BY version DESC LIMIT 1""",
        (robot_id, detector, trained_from, trained_to),
    ).fetchone()
    if row is not None:
        return int(row[0]), False
    return save_model(conn=conn, robot_id=robot_id, detector=detector, params=params,
                      state=state, trained_from=trained_from, trained_to=trained_to), True


def latest_models(*, conn: psycopg.Connection, detector: str) -> dict[int, ModelRow]:
    rows = conn.execute(
        """SELECT DISTINCT ON (robot_id) robot_id, detector, version, params, state,
                  trained_from, trained_to, created_at
           FROM detector_models WHERE detector = %s
           ORDER BY robot_id, version DESC""",
        (detector,),
    ).fetchall()
    return {r[0]: ModelRow(robot_id=r[0], detector=r[1], version=r[2], params=r[3], state=r[4],
                           trained_from=r[5], trained_to=r[6], created_at=r[7]) for r in rows}


def latest_versions(*, conn: psycopg.Connection, detector: str) -> dict[int, int]:
    """robot id -> newest version: lets a running engine notice a retrained baseline."""
    rows = conn.execute(
        "SELECT robot_id, max(version) FROM detector_models WHERE detector = %s GROUP BY robot_id",
        (detector,),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def list_models(*, conn: psycopg.Connection, detector: str,
                robot_id: int | None = None) -> list[ModelRow]:
    """Every stored version, newest first (the registry's history)."""
    rows = conn.execute(
        """SELECT robot_id, detector, version, params, state, trained_from, trained_to, created_at
           FROM detector_models
           WHERE detector = %(d)s AND (%(r)s::int IS NULL OR robot_id = %(r)s)
           ORDER BY robot_id, version DESC""",
        {"d": detector, "r": robot_id},
    ).fetchall()
    return [ModelRow(robot_id=r[0], detector=r[1], version=r[2], params=r[3], state=r[4],
                     trained_from=r[5], trained_to=r[6], created_at=r[7]) for r in rows]


def training_points(
    *, conn: psycopg.Connection, robot_id: int, after: datetime, until: datetime
) -> list[tuple[datetime, int, float]]:
    """Good points of one robot in ``(after, until]``, oldest first: a retraining's input."""
    return conn.execute(
        """SELECT time, signal_id, value FROM telemetry
           WHERE robot_id = %s AND time > %s AND time <= %s AND quality = 0
             AND value IS NOT NULL
           ORDER BY time""",
        (robot_id, after, until),
        binary=True,
    ).fetchall()
