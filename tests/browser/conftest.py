"""Real headless Chromium (Debian's ``chromium``, installed by ``make test``) driven by
Playwright against the real API on a real PostgreSQL; screenshots go to ``artifacts/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api import create_app
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    ensure_signals,
    register_fleet,
)
from storage.maintenance import NewInspection, insert_inspection
from storage.telemetry import PointColumns, encode_copy, write_copy
from tests.api.callers import ensure_user
from tests.api.server import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
JOINTS = range(1, 7)
QUANTITIES = {"current": ("A", 8.0), "torque": ("N.m", 400.0), "temperature": ("degC", 45.0),
              "vibration": ("mm/s", 1.2)}
HISTORY_S = 2 * 3600

FLEET = FleetSpec(
    customers=(
        CustomerSpec(code="SQAUTO", name="上汽示范工厂", tier="core", city="上海", sites=(
            SiteSpec(code="AT1", name="安亭车身车间", city="上海", lines=(
                LineSpec(code="WELD-A", name="焊装A线", robots=(
                    RobotSpec(code="R-0001", brand="KUKA", model="KR 210 R2700-2",
                              serial="KR210-100231", warranty_end=datetime(2025, 3, 1).date()),
                    RobotSpec(code="R-0002", brand="KUKA", model="KR 210 R2700-2",
                              serial="KR210-100232"),
                )),
            )),
        )),
        CustomerSpec(code="MDHOME", name="美的家电", tier="ordinary", city="佛山", sites=(
            SiteSpec(code="SD1", name="顺德总装车间", city="佛山", lines=(
                LineSpec(code="PACK", name="包装线", robots=(
                    RobotSpec(code="R-0003", brand="ABB", model="IRB 6700",
                              serial="ABB-6700-5521"),)),
            )),
        )),
    ),
    engineers=(EngineerSpec(code="E-101", name="陈浩", city="苏州"),
               EngineerSpec(code="E-102", name="赵敏", city="无锡")),
)


def _store(conn: psycopg.Connection, robot_id: int, signal_ids: dict[str, int],
           end: datetime) -> None:
    """Two hours of 1 Hz telemetry for every joint quantity, plus the program state."""
    t = np.arange(end.timestamp() - HISTORY_S, end.timestamp(), 1.0)
    rng = np.random.default_rng(robot_id)
    for quantity, (_, base) in QUANTITIES.items():
        for j in JOINTS:
            values = base * (1 + 0.1 * np.sin(t / (60 + j * 7))) + rng.normal(0, base * 0.02,
                                                                               t.size)
            _write(conn, robot_id, signal_ids[f"J{j}.{quantity}"], t, values)
    _write(conn, robot_id, signal_ids["program_state"], t, np.ones(t.size))


def _write(conn: psycopg.Connection, robot_id: int, sid: int, t: np.ndarray,
           values: np.ndarray) -> None:
    cols = PointColumns(time_us=(t * 1e6).astype(np.int64),
                        robot_id=np.full(t.size, robot_id, np.int32),
                        signal_id=np.full(t.size, sid, np.int16),
                        value=values.astype(np.float64), quality=np.zeros(t.size, np.int16))
    write_copy(conn=conn, data=encode_copy(cols), rows=t.size)


def _plan_maintenance(conn: psycopg.Connection, robots: dict[str, int], now: datetime) -> None:
    """Two open work orders for the calendar: a monthly check with its window and engineer,
    and one a condition moved earlier."""
    day = timedelta(days=1)
    insert_inspection(conn=conn, state="scheduled", new=NewInspection(
        robot_id=robots["R-0001"], plan="hardware", due_at=now + 2 * day, trigger="calendar",
        reason="calendar: every 1 months", engineer="E-101",
        window_start=now + 2 * day, window_end=now + 2 * day + timedelta(hours=4)))
    insert_inspection(conn=conn, state="planned", new=NewInspection(
        robot_id=robots["R-0003"], plan="performance", due_at=now + day, trigger="condition",
        reason="condition: J2 vibration trend", moved_from=now + 40 * day))


@pytest.fixture
def console_db(db_url: str) -> dict[str, int]:
    """The fleet above with two hours of telemetry ending now, two maintenance work orders,
    and the console's users."""
    with psycopg.connect(db_url) as conn:
        robots = register_fleet(conn=conn, fleet=FLEET)
        names = [f"J{j}.{q}" for q in QUANTITIES for j in JOINTS] + ["program_state"]
        ids = ensure_signals(conn=conn, names=names)
        for q, (unit, _) in QUANTITIES.items():
            conn.execute("UPDATE signals SET unit = %s WHERE name LIKE %s", (unit, f"J_.{q}"))
        now = datetime.now(UTC)
        for code in ("R-0001", "R-0003"):
            _store(conn, robots[code], ids, now)
        _plan_maintenance(conn, robots, now)
        conn.commit()
        ensure_user(conn, "manager", "om_manager")
        ensure_user(conn, "dispatcher", "dispatcher")
        ensure_user(conn, "midea", "customer_viewer", customer="MDHOME")
    return robots


@pytest.fixture
def console_url(db_url: str, console_db: dict[str, int]) -> Iterator[str]:
    """The app on the real clock (the browser counts down against it)."""
    app = create_app(database_url=db_url, pool_max_size=4, stream_auth_recheck=600.0)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="package")  # stopped after tests/browser: its loop must not outlive them
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium: `make test` installs it (browser-test-deps)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM),
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1366x768 browser context in Asia/Shanghai, failing the test on a script error."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US",
                                  timezone_id="Asia/Shanghai")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    context.close()
    assert not errors, errors


def shot(page: Page, name: str, *, full_page: bool = False) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def keep_in_docs(path: Path) -> None:
    """Copy a screenshot into docs/console/ (run with ROBOWATCH_DOC_SHOTS=1)."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "console"
    docs.mkdir(exist_ok=True)
    shutil.copy(path, docs / path.name)


