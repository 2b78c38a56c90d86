"""The access policy: the shipped file loads, answers sensibly, and bad files are refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ticketing.access import (
    MANAGE,
    ROLES,
    SCOPES,
    TICKET_EVENTS,
    builtin_access,
    load_access,
    ticket_in_reach,
)
from ticketing.errors import PolicyError
from ticketing.lifecycle import EVENTS

ACCESS = Path(__file__).parents[2] / "ticketing" / "policies" / "access.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "access.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_loads_and_lists_every_role():
    policy = builtin_access()
    assert policy == load_access(ACCESS) == load_access(None)
    assert set(policy.roles) == set(ROLES)
    assert policy.label == "robowatch-default@2026.1"


def test_ticket_events_are_the_lifecycles_and_two_more():
    # An event the lifecycle has that the policy cannot name would be impossible to grant; a
    # name the lifecycle lost would grant nothing.
    assert set(TICKET_EVENTS) - set(EVENTS) == {"create", "acknowledge_handover"}
    assert set(EVENTS) <= set(TICKET_EVENTS)


def test_sensible_defaults():
    p = builtin_access()
    assert p.allows("engineer", "accept") and p.reach("engineer") == "assigned"
    assert not p.allows("engineer", "dispatch") and not p.allows("engineer", "sign_off")
    assert p.allows("om_manager", "regrade") and p.reach("om_manager") == "all"
    assert not p.allows("dispatcher", "regrade") and p.allows("dispatcher", "dispatch")
    assert p.allows("customer_viewer", "sign_off") and p.allows("customer_viewer", "dispute")
    assert not p.allows("customer_viewer", "resolve")
    assert p.reach("customer_viewer") == "own_customer"
    assert not p.may_read("customer_viewer", "reports")
    assert not p.may_read("customer_viewer", "users")
    assert p.allows("admin", "manage_users") and p.allows("admin", "manage_api_keys")
    assert not any(p.allows("admin", e) for e in TICKET_EVENTS)
    assert not any(p.allows(r, "manage_users") for r in ROLES if r != "admin")
    assert all(p.may_read(r, "tickets") for r in ROLES)
    assert p.rights("parts_keeper").events == () and p.may_read("parts_keeper", "parts")


def test_unknown_names_are_programming_errors():
    p = builtin_access()
    with pytest.raises(PolicyError, match="unknown role 'root'"):
        p.allows("root", "accept")
    with pytest.raises(PolicyError, match="unknown action 'teleport'"):
        p.allows("engineer", "teleport")
    with pytest.raises(PolicyError, match="unknown action 'manage_robots'"):
        p.allows("admin", "manage_robots")
    with pytest.raises(PolicyError, match="unknown read scope 'secrets'"):
        p.may_read("admin", "secrets")


@pytest.mark.parametrize(
    ("reach", "assignee", "customer_of_ticket", "engineer", "customer", "expected"),
    [
        ("all", None, "ACME", None, None, True),
        ("assigned", "E-1", "ACME", "E-1", None, True),
        ("assigned", "E-2", "ACME", "E-1", None, False),
        ("assigned", None, "ACME", None, None, False),  # unlinked user owns nothing
        ("own_customer", None, "ACME", None, "ACME", True),
        ("own_customer", None, "BETA", None, "ACME", False),
        ("own_customer", None, "ACME", None, None, False),
        ("none", "E-1", "ACME", "E-1", "ACME", False),
    ],
)
def test_ticket_in_reach(reach, assignee, customer_of_ticket, engineer, customer, expected):
    assert ticket_in_reach(reach=reach, ticket_assignee=assignee,
                           ticket_customer=customer_of_ticket, engineer=engineer,
                           customer=customer) is expected


def _shipped() -> str:
    return ACCESS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + '\n[roles.root]\nread = []\nevents = []\ntickets = "none"\n',
         "roles.root"),
        (lambda t: t.replace('[roles.expert]\n', '[roles.expert]\ncolour = "red"\n'),
         "roles.expert.colour: Extra inputs are not permitted"),
        (lambda t: t.replace('events = ["sign_off", "dispute"]', 'events = ["sign_of"]'),
         "roles.customer_viewer.events.0"),
        (lambda t: t.replace('read = ["robots", "tickets", "parts"]',
                             'read = ["robots", "tickets", "secrets"]'),
         "roles.parts_keeper.read.2"),
        (lambda t: t.replace('tickets = "own_customer"', 'tickets = "none"'),
         "a role with events needs tickets"),
        (lambda t: t.replace('name = "robowatch-default"', 'name = "x"\nextra = 1'),
         "access.extra"),
        (lambda t: t.split("[roles.maintainer]")[0], "roles missing: maintainer, "
                                                      "customer_viewer"),
        (lambda t: t.replace('manage = ["users", "api_keys"]', 'manage = ["robots"]'),
         "roles.admin.manage.0"),
        (lambda t: t.replace('events = ["start_remote", "submit_plan", "send_update"]',
                             'events = ["submit_plan", "submit_plan"]'),
         "events lists a name twice"),
        (lambda t: t + "\n[roles", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused_with_the_offending_field(tmp_path, edit, message):
    text = edit(_shipped())
    assert text != _shipped()
    with pytest.raises(PolicyError, match="invalid access policy|not valid TOML") as info:
        load_access(_write(tmp_path, text))
    assert message in str(info.value)


def test_unreadable_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read access policy"):
        load_access(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"name = '\xe9'")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_access(bad)


def test_comments_give_a_reason_for_every_role():
    # House rule: policy numbers and choices carry a why. Each role's table is preceded or
    # followed by at least one comment line.
    blocks = _shipped().split("[roles.")[1:]
    assert len(blocks) == len(ROLES)
    for block in blocks:
        assert "\n#" in block, block.splitlines()[0]
    assert tomllib.loads(_shipped())["roles"].keys() == set(ROLES)
    assert set(MANAGE) == {"users", "api_keys"} and "telemetry" in SCOPES
