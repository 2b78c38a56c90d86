"""The inspection lifecycle, the policy file's validation, and the iCalendar feed parsed
back with the icalendar package."""

from datetime import UTC, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from maintenance.errors import InspectionRefused, MissingDetail, PolicyError
from maintenance.ical import entries_of_visits, feed
from maintenance.lifecycle import STATES, check_event
from maintenance.planner import Completion, RobotInfo, due_items
from maintenance.policy import builtin_policy, load_policy
from maintenance.scheduler import schedule
from storage.fleet import EngineerSpec

SH = ZoneInfo("Asia/Shanghai")


def test_the_happy_path_and_refusals():
    assert check_event(state="planned", event="schedule",
                       window_start=datetime.now(UTC)) == "scheduled"
    assert check_event(state="scheduled", event="start") == "in_progress"
    assert check_event(state="in_progress", event="complete",
                       results={"fans": "ok"}) == "completed"
    assert check_event(state="scheduled", event="reschedule", reason="window gone") == "scheduled"
    assert check_event(state="scheduled", event="escalate", reason="overdue") == "scheduled"
    with pytest.raises(InspectionRefused):
        check_event(state="completed", event="start")
    with pytest.raises(InspectionRefused):
        check_event(state="nonsense", event="start")
    with pytest.raises(MissingDetail):
        check_event(state="in_progress", event="complete", results={})
    with pytest.raises(MissingDetail):
        check_event(state="scheduled", event="reschedule")
    assert set(STATES) == {"planned", "scheduled", "in_progress", "completed", "cancelled"}


def test_the_builtin_policy_follows_the_service_rules():
    p = builtin_policy()
    months = {n: pl.calendar.every_months for n, pl in p.plans.items() if pl.calendar}
    assert months == {"hardware": 1, "software": 3, "performance": 6, "full_service": 6,
                      "basic_service": 12}
    assert all("fault_records" in pl.checklist for pl in p.plans.values())
    assert p.condition.lead_time_h == 72.0


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    text = tmp_path / "p.toml"
    good = resources.files("maintenance.policies").joinpath("default.toml").read_text()
    text.write_text(good.replace("lead_time_h = 72.0", "lead_time_hours = 72.0"))
    with pytest.raises(PolicyError, match="lead_time"):
        load_policy(text)
    text.write_text(good.replace('default_package = "full"', 'default_package = "gold"'))
    with pytest.raises(PolicyError, match="gold"):
        load_policy(text)
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "missing.toml")


def test_the_feed_parses_back_with_one_event_per_visit():
    policy = builtin_policy()
    now = datetime(2026, 3, 2, 9, tzinfo=SH)
    robots = [RobotInfo(code=f"R{n}", customer="acme", site="s1" if n < 3 else "s2",
                        city="Suzhou", in_service_since=now - timedelta(days=300))
              for n in range(1, 5)]
    done = {(r.code, p): Completion(at=now - timedelta(days=27)) for r in robots
            for p in policy.plans}
    items = [i for i in due_items(policy=policy, robots=robots, completions=done, states={})
             if i.plan == "hardware"]
    visits, _ = schedule(policy=policy, items=items, robots=robots, now=now,
                         engineers=[EngineerSpec(code="li", name="Li", city="Suzhou")])
    doc = feed(entries_of_visits(policy, visits), name="robowatch maintenance", stamp=now)
    cal = Calendar.from_ical(doc)
    events = cal.walk("VEVENT")
    assert len(events) == len(visits) == 2
    starts = sorted(e.decoded("dtstart") for e in events)
    assert starts == sorted(v.slot.start for v in visits)
    one = next(e for e in events if "s1" in str(e.get("location")))
    assert "R1: Monthly hardware check" in str(one.get("description"))
    assert str(one.get("attendee")) == "urn:robowatch:engineer:li"
    assert len({str(e.get("uid")) for e in events}) == 2
