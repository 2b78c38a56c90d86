"""The console as a person uses it, in real headless Chromium: sign in, watch a fault arrive on
the alert wall without a reload, acknowledge it for every wall, see its band on the robot's
chart, work its ticket to resolved through the forms, read the KPIs, switch to Chinese and
back, and stay out of another customer's robots. Every page is photographed in both
languages at 1366x768 and 1920x1080 (tests/browser/artifacts/)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from storage.anomalies import NewAnomaly, open_anomaly
from storage.fleet import signal_ids
from storage.tickets import NewTicket, create_ticket
from tests.api.callers import PASSWORD
from tests.browser.conftest import ARTIFACTS, _write, keep_in_docs, shot
from ticketing.intake import ticket_anomaly
from ticketing.policy import load_policy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
DOC_SHOTS = os.environ.get("ROBOWATCH_DOC_SHOTS") == "1"
# A laptop and a wall screen (issue 12).
SIZES = ((1366, 768), (1920, 1080))
# What each page draws after it says it is ready (charts come in a second step).
DRAWN = {"robot": ".chart[data-quantity='current'] canvas", "ticket": ".evidence canvas",
         "kpi": ".kpi-chart canvas", "calendar": "#calendar li", "fleet": "#fleet details"}
MISSING_KEY = re.compile(r"\[[a-z_]+\.[a-z0-9_.]+\]")


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/console/login.html")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    page.wait_for_selector("#view[data-ready='1']", timeout=TIMEOUT_MS)


def open_page(page: Page, url: str, route: str) -> None:
    page.goto(f"{url}/#/{route}")
    # The page asked for, ready: a hash change leaves the previous page "ready" for a moment.
    name = route.split("/")[0].split("?")[0]
    page.wait_for_selector(f"#view[data-page='{name}'][data-ready='1']", timeout=TIMEOUT_MS)


def tour(page: Page, url: str, routes: list[str], lang: str) -> list[str]:
    """Open each route at each size, wait for what it draws, photograph it and check that no
    message key shows untranslated; the names of the screenshots taken."""
    taken = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for route in routes:
            open_page(page, url, route)
            name = route.split("/")[0]
            if name in DRAWN:
                page.wait_for_selector(DRAWN[name], timeout=TIMEOUT_MS)
            text = page.inner_text("body")
            assert not MISSING_KEY.search(text), (route, lang, MISSING_KEY.findall(text))
            taken.append(f"{name}-{lang}" + ("" if width == 1366 else f"-{width}"))
            shot(page, taken[-1])
            shot(page, f"{taken[-1]}-full", full_page=True)  # below the fold, for review
    page.set_viewport_size({"width": 1366, "height": 768})
    return taken


def inject_fault(db_url: str, robots: dict[str, int], *, robot: str = "R-0001",
                 signal: str = "J3.temperature", kind: str = "temperature_high",
                 impact: str = "core-module", rise: tuple[float, float] = (60.0, 95.0)) -> int:
    """What detection and ticketing store for a fault (by default a J3 overheating on
    R-0001): the readings, the anomaly, the graded ticket (the stream relays the rows to the
    wall)."""
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        sid = signal_ids(conn=conn)[signal]
        t = np.arange(now.timestamp() - 180, now.timestamp(), 1.0) + 0.5
        _write(conn, robots[robot], sid, t, np.linspace(*rise, t.size))
        anomaly_id = open_anomaly(conn=conn, anomaly=NewAnomaly(
            robot_id=robots[robot], component=signal.split(".")[0], kind=kind,
            detector="limits", impact=impact, started_at=now - timedelta(seconds=150),
            score=4.2, signals=(signal,), evidence={"max": rise[1]}))
        conn.commit()
        assert anomaly_id is not None
        result = ticket_anomaly(conn=conn, anomaly_id=anomaly_id, policy=load_policy(), now=now)
        conn.commit()
    assert result.ticket_id is not None
    return result.ticket_id


def test_fault_to_resolved_ticket_in_two_languages(
    page: Page, console_url: str, db_url: str, console_db: dict[str, int]
) -> None:
    url = console_url
    page.goto(f"{url}/console/login.html")
    shot(page, "login-en")
    sign_in(page, url, "manager")
    expect(page.locator("#link")).to_have_class("link live", timeout=TIMEOUT_MS)
    assert page.locator("#wall .card[data-robot='R-0001']").count() == 0

    ticket_id = inject_fault(db_url, console_db)
    card = page.locator("#wall .card[data-robot='R-0001']")
    expect(card).to_be_visible(timeout=TIMEOUT_MS)  # no reload: the stream brought it
    expect(card.locator("a.ticket-link")).to_be_visible(timeout=TIMEOUT_MS)
    expect(card.locator(".what")).to_contain_text("High temperature")
    counts = page.locator(".toolbar .counts")
    expect(counts).to_have_text("1 alert · 1 not acknowledged")  # one, not "1 alerts"
    shot(page, "wall-new-alert-en")
    card.locator("button.ack").click()  # recorded on the server, for every wall
    expect(card).to_have_class(re.compile(r"\backed\b"))
    expect(card.locator(".acked-by")).to_contain_text("Acknowledged by manager")
    assert card.locator("button.ack").count() == 0
    expect(counts).to_have_text("1 alert · 0 not acknowledged")

    card.locator(".where a.code").click()
    band = page.locator(".chart[data-quantity='temperature'] .anomaly-band")
    expect(band.first).to_be_visible(timeout=TIMEOUT_MS)
    box = band.first.bounding_box()
    assert box is not None and box["width"] > 2
    expect(page.locator(".warranty.expired")).to_be_visible()
    shot(page, "robot-en")

    page.locator(f".robot-tickets a[href='#/ticket/{ticket_id}']").click()
    page.wait_for_selector("#actions button[data-event]", timeout=TIMEOUT_MS)
    page.click("#actions button[data-event='dispatch']")
    page.select_option(".event-form select[name='assignee']", "E-101")
    page.click(".event-form button[type=submit]")
    expect(page.locator(".ticket-head .state")).to_have_text("Dispatched", timeout=TIMEOUT_MS)
    expect(page.locator(".ticket-head")).to_contain_text("陈浩")  # the name, not E-101
    page.click("#actions button[data-event='accept']")
    expect(page.locator(".ticket-head .state")).to_have_text("Accepted", timeout=TIMEOUT_MS)
    page.click("#actions button[data-event='start_remote']")
    expect(page.locator(".ticket-head .state")).to_have_text("In progress", timeout=TIMEOUT_MS)
    page.click("#actions button[data-event='resolve']")
    for name, text in [("report.process", "Remote session; checked J3 fan and drive log"),
                       ("report.cause", "J3 motor fan clogged"),
                       ("report.solution", "Cleaned the fan; temperature back to 48 degC"),
                       ("report.parts_used", "none"),
                       ("report.before_after", "95 degC before, 48 degC after")]:
        page.fill(f".event-form [name='{name}']", text)
    shot(page, "ticket-resolve-form-en")
    page.click(".event-form button[type=submit]")
    expect(page.locator(".ticket-head .state")).to_have_text("Resolved", timeout=TIMEOUT_MS)
    expect(page.locator(".timeline")).to_contain_text("Resolve")
    # The manager may not sign off for the customer: no such button.
    assert page.locator("#actions button[data-event='sign_off']").count() == 0

    check_kpis(page, url)
    # A second fault, not yet taken in, so the pages show work in each state.
    inject_fault(db_url, console_db, robot="R-0003", signal="J2.vibration",
                 kind="vibration_high", impact="stoppage", rise=(1.2, 6.0))

    pages = ["wall", "board", "fleet", f"ticket/{ticket_id}", "robot/R-0001", "calendar", "kpi"]
    taken = tour(page, url, pages, "en")
    page.click("#lang")
    expect(page.locator("nav a[data-page='wall']")).to_have_text("告警墙", timeout=TIMEOUT_MS)
    taken += tour(page, url, pages, "zh")
    open_page(page, url, "calendar")
    expect(page.locator(".toolbar .counts")).to_have_text("未完成工单 2 个")
    expect(page.locator("#calendar")).to_contain_text("月度硬件检查")  # the plan, in words
    page.click("#lang")
    expect(page.locator("nav a[data-page='wall']")).to_have_text("Alert wall",
                                                                  timeout=TIMEOUT_MS)
    open_page(page, url, "board")
    # The page asked for, not the calendar the language switch was still redrawing.
    expect(page.locator("#board")).to_be_visible()
    page.set_viewport_size({"width": 1000, "height": 768})
    # At 1000 px ticket numbers and robot codes stay on one line.
    for code in page.locator(".board .code").all():
        box = code.bounding_box()
        assert box is not None and box["height"] < 30, code.inner_text()
    shot(page, "board-1000px-en")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{url}/console/login.html")
    page.click("#lang")
    expect(page.locator("button[type=submit]")).to_have_text("登录")
    shot(page, "login-zh")
    if DOC_SHOTS:  # one of each page in each language at the laptop size, the wall on a wall
        for name in [*(n for n in taken if not n.endswith("-1920")), "login-en", "login-zh",
                     "wall-en-1920"]:
            keep_in_docs(ARTIFACTS / f"{name}.png")


def check_kpis(page: Page, url: str) -> None:
    """The KPI dashboard of this month: the ticket just resolved counts, each figure beside its
    target, per-grade rates, six trend charts, the CSV of the period, the week view."""
    open_page(page, url, "kpi")
    page.wait_for_selector(".kpi-chart canvas", timeout=TIMEOUT_MS)
    completion = page.locator(".kpi-tile[data-kpi='completion']")
    expect(completion.locator(".kpi-value")).to_have_text("100.0 %")
    expect(completion).to_contain_text("target ≥ 95.0 %")
    expect(completion).to_contain_text("from 1 record")  # one, not "1 records"
    expect(page.locator(".kpi-tile[data-kpi='satisfaction'] .kpi-value")).to_have_text("no data")
    expect(page.locator(".kpi-grades tr[data-grade]")).to_have_count(4)
    expect(page.locator(".kpi-chart canvas")).to_have_count(6)
    csv = page.locator("a.csv")
    href = csv.get_attribute("href") or ""
    assert re.fullmatch(r"/api/v1/reports/monthly/\d{4}-\d{2}\?format=csv", href), href
    resp = page.request.get(f"{url}{href}")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "completion" in resp.text()
    page.click(".kinds button[data-kind='weekly']")
    expect(page.locator("a.csv")).to_have_attribute("href", re.compile(r"/weekly/\d{4}-W\d{2}"))
    page.wait_for_selector(".kpi-chart canvas", timeout=TIMEOUT_MS)
    page.select_option("select[name='customer']", "MDHOME")  # no tickets there this week
    expect(page.locator(".kpi-tile[data-kpi='completion'] .kpi-value")).to_have_text("no data")
    shot(page, "kpi-week-customer-en", full_page=True)


def test_acknowledging_on_one_wall_shows_on_another_without_reload(
    browser: Browser, page: Page, console_url: str, db_url: str, console_db: dict[str, int]
) -> None:
    """Two walls: the manager's in English and customer service's in Chinese (its browser
    asks for Chinese). The manager acknowledges; the other wall sees who, at once."""
    url = console_url
    other_context = browser.new_context(viewport={"width": 1920, "height": 1080},
                                        locale="zh-CN", timezone_id="Asia/Shanghai")
    other = other_context.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, url, "manager")
        sign_in(other, url, "dispatcher")
        for p in (page, other):
            expect(p.locator("#link")).to_have_class("link live", timeout=TIMEOUT_MS)
        inject_fault(db_url, console_db)
        mine = page.locator("#wall .card[data-robot='R-0001']")
        theirs = other.locator("#wall .card[data-robot='R-0001']")
        for card in (mine, theirs):
            expect(card.locator("button.ack")).to_be_visible(timeout=TIMEOUT_MS)
        expect(other.locator(".toolbar .counts")).to_have_text("告警 1 条 · 未确认 1 条")
        mine.locator("button.ack").click()
        expect(theirs).to_have_class(re.compile(r"\backed\b"), timeout=TIMEOUT_MS)
        expect(theirs.locator(".acked-by")).to_contain_text("manager")
        expect(theirs.locator(".acked-by")).to_contain_text("确认")
        assert theirs.locator("button.ack").count() == 0
        expect(other.locator(".toolbar .counts")).to_have_text("告警 1 条 · 未确认 0 条")
        shot(other, "wall-acked-elsewhere-zh-1920")
        other.reload()  # stored, not remembered by the browser
        expect(other.locator("#wall .card[data-robot='R-0001'] .acked-by")).to_be_visible(
            timeout=TIMEOUT_MS)
        # Customer service reads no maintenance work orders: no such page in its navigation.
        expect(other.locator("nav a[data-page='calendar']")).to_be_hidden()
        expect(other.locator("nav a[data-page='kpi']")).to_be_visible()
    finally:
        other_context.close()
    assert not errors, errors


def test_customer_viewer_cannot_reach_another_customers_robot(
    page: Page, console_url: str
) -> None:
    sign_in(page, console_url, "midea")
    open_page(page, console_url, "robot/R-0001")
    expect(page.locator(".not-found")).to_be_visible()
    assert page.request.get(f"{console_url}/api/v1/robots/R-0001/telemetry").status == 404
    open_page(page, console_url, "fleet")
    expect(page.locator("#fleet")).to_contain_text("美的家电")
    expect(page.locator("#fleet")).not_to_contain_text("上汽")
    open_page(page, console_url, "robot/R-0003")
    page.wait_for_selector(".chart[data-quantity='current'] canvas", timeout=TIMEOUT_MS)
    shot(page, "robot-customer-viewer-en")


def test_board_orders_by_urgency_and_colours_clocks_by_the_policy_share(
    page: Page, console_url: str, db_url: str, console_db: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    minute = timedelta(minutes=1)
    with psycopg.connect(db_url) as conn:
        # (customer, grade, created minutes ago, respond within minutes): the newest ticket is
        # the overdue grade III one, an old grade IV has most time left.
        cases = {"overdue": ("MDHOME", "III", 30, 20), "warning": ("SQAUTO", "II", 50, 60),
                 "ok-I": ("SQAUTO", "I", 5, 60), "ok-IV": ("SQAUTO", "IV", 90, 600)}
        ids = {}
        for name, (customer, grade, ago, respond) in cases.items():
            cid = conn.execute("SELECT id FROM customers WHERE code = %s",
                               (customer,)).fetchone()[0]  # type: ignore[index]
            robot = "R-0003" if customer == "MDHOME" else "R-0002"
            created = now - ago * minute
            ids[name] = create_ticket(conn=conn, actor="test", ticket=NewTicket(
                robot_id=console_db[robot], customer_id=cid, tier="core", impact="minor",
                grade=grade, component="J1", kind="vibration_high", title=name,
                policy="test", created_at=created, respond_by=created + respond * minute,
                resolve_by=created + 24 * 60 * minute)).id
        conn.commit()
    sign_in(page, console_url, "manager")
    open_page(page, console_url, "board")
    cards = page.locator(".column[data-state='new'] .card")
    expect(cards).to_have_count(4, timeout=TIMEOUT_MS)
    order = [int(c.get_attribute("data-id") or 0) for c in cards.all()]
    # Breached first, then least time left (the grade I ticket has 55 min, the grade II 10).
    assert order == [ids["overdue"], ids["warning"], ids["ok-I"], ids["ok-IV"]], order
    states = [c.locator(".sla").get_attribute("data-state") for c in cards.all()]
    # 50 of 60 min used is past the policy's 0.8 share: amber.
    assert states == ["overdue", "warning", "ok", "ok"], states
    page.select_option("select[name='customer']", "MDHOME")
    expect(cards).to_have_count(1)
    shot(page, "board-urgency-en")
