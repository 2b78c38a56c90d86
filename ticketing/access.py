"""Who may read what and perform which ticket event: the access policy, loaded from TOML.

What each role may do is data (``ticketing/policies/access.toml``), validated completely when
loaded: every role listed, no unknown role, scope, event or key, so a typo can neither grant
nor silently withhold a right. This module is pure: it reads the packaged TOML (or a file
the caller names) and answers questions; the API enforces the answers.

The role names, the read scopes and the action names are vocabularies of the code (the
``users.role`` CHECK constraint in storage, the lifecycle's events), not policy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ticketing.errors import PolicyError
from ticketing.policy import parse_toml, read_toml

__all__ = ["Role", "ROLES", "Scope", "SCOPES", "TICKET_EVENTS", "MANAGE", "PARTS_ACTIONS",
           "AFTER_SALES", "MAINTENANCE_ACTIONS", "ALERT_ACTIONS", "Reach", "RoleRights",
           "AccessPolicy", "load_access", "builtin_access", "ticket_in_reach"]

Role = Literal["admin", "om_manager", "dispatcher", "engineer", "expert", "parts_keeper",
               "maintainer", "customer_viewer"]
ROLES: tuple[Role, ...] = get_args(Role)

# ``records``: archives of tickets and feedback, their read log and the audit of the history
# (service rules section 10), apart from ``reports`` (figures) because an archive holds the
# customer's own words and data, and every read of it is logged.
Scope = Literal["robots", "anomalies", "tickets", "telemetry", "reports", "users", "api_keys",
                "parts", "feedback", "maintenance", "records"]
SCOPES: tuple[Scope, ...] = get_args(Scope)

# The lifecycle's events (ticketing/lifecycle.py EVENTS), plus two acts that are not moves of
# the machine: ``create`` (intake of a ticket by hand) and ``acknowledge_handover`` (taking
# over a shift's open work). tests/ticketing/test_access.py checks the two stay in step.
TicketEvent = Literal[
    "dispatch", "refuse", "reassign", "accept", "start_remote", "start_travel", "arrive",
    "wait_customer", "resume", "resolve", "dispute", "sign_off", "reopen", "archive", "cancel",
    "merge", "regrade", "extend_resolve", "submit_plan", "send_update",
    "create", "acknowledge_handover",
]
TICKET_EVENTS: tuple[TicketEvent, ...] = get_args(TicketEvent)

Manage = Literal["users", "api_keys"]
MANAGE: tuple[Manage, ...] = get_args(Manage)

# Acts on spare parts (parts/): asking for parts (for a ticket within the role's ticket reach,
# or a work order), deciding and handing them out, goods in, transfers, serials on robots.
PartsAction = Literal["request", "approve", "issue", "return", "receive", "transfer",
                      "install", "scrap", "catalogue"]
PARTS_ACTIONS: tuple[PartsAction, ...] = get_args(PartsAction)

# After-sales acts (docs/after-sales.md), granted under a role's ``after_sales`` key: register
# a feedback or complaint; work one (route, confirm, respond, plan, progress, ask for an
# extension, complete, tell, revisit, archive); decide an extension (the customer-service
# head's); take a callback survey or issue its link; submit a root-cause report; run common
# problems' CAPA; draw and record quality checks.
AfterSales = Literal["feedback_register", "feedback_work", "feedback_decide_extension",
                     "callback", "rca_submit", "problem_manage", "qc_manage"]
AFTER_SALES: tuple[AfterSales, ...] = get_args(AfterSales)

# Acts on preventive-maintenance work orders (maintenance/, docs/maintenance.md), granted under
# a role's ``maintenance`` key: start one on site, complete it with its checklist results and
# findings, cancel one not started. Checked as ``maintenance_<act>``.
MaintenanceAction = Literal["start", "complete", "cancel"]
MAINTENANCE_ACTIONS: tuple[MaintenanceAction, ...] = get_args(MaintenanceAction)
# Acts on the alert wall (docs/console.md), granted under a role's ``alerts`` key as
# ``alerts_<act>``: acknowledge an anomaly for every wall (who and when are recorded).
AlertAction = Literal["acknowledge"]
ALERT_ACTIONS: tuple[AlertAction, ...] = get_args(AlertAction)

Reach = Literal["all", "assigned", "own_customer", "none"]

# Actions asked as ``<prefix><act>``: the names known after the prefix, and the role's key
# that grants them.
_PREFIXED: dict[str, tuple[tuple[str, ...], str]] = {
    "manage_": (MANAGE, "manage"), "parts_": (PARTS_ACTIONS, "parts"),
    "maintenance_": (MAINTENANCE_ACTIONS, "maintenance"), "alerts_": (ALERT_ACTIONS, "alerts"),
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoleRights(_Model):
    description: str = ""
    read: tuple[Scope, ...]
    events: tuple[TicketEvent, ...]
    tickets: Reach
    manage: tuple[Manage, ...] = ()
    parts: tuple[PartsAction, ...] = ()
    after_sales: tuple[AfterSales, ...] = ()
    maintenance: tuple[MaintenanceAction, ...] = ()
    alerts: tuple[AlertAction, ...] = ()

    @model_validator(mode="after")
    def _reach_fits_events(self) -> RoleRights:
        if self.events and self.tickets == "none":
            raise ValueError("a role with events needs tickets = 'all', 'assigned' or "
                             "'own_customer'")
        if not self.events and self.tickets != "none":
            raise ValueError("a role without events must say tickets = 'none'")
        if self.events and "tickets" not in self.read:
            raise ValueError("a role with ticket events must be able to read tickets")
        if self.parts and "parts" not in self.read:
            raise ValueError("a role with parts actions must be able to read parts")
        if self.maintenance and "maintenance" not in self.read:
            raise ValueError("a role with maintenance actions must be able to read maintenance")
        if self.alerts and "anomalies" not in self.read:
            raise ValueError("a role with alerts actions must be able to read anomalies")
        for name in ("read", "events", "manage", "parts", "after_sales", "maintenance", "alerts"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a name twice")
        return self


class AccessHeader(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str = Field(min_length=1, max_length=32)


class AccessPolicy(_Model):
    access: AccessHeader
    roles: dict[Role, RoleRights]

    @model_validator(mode="after")
    def _every_role(self) -> AccessPolicy:
        missing = [r for r in ROLES if r not in self.roles]
        if missing:
            raise ValueError(f"roles missing: {', '.join(missing)} (list each, even with no "
                             "rights, so an omission is never silent)")
        return self

    @property
    def label(self) -> str:
        return f"{self.access.name}@{self.access.version}"

    def rights(self, role: str) -> RoleRights:
        try:
            return self.roles[role]  # type: ignore[index]
        except KeyError:
            raise PolicyError(f"unknown role {role!r}; roles are {', '.join(ROLES)}") from None

    def may_read(self, role: str, scope: str) -> bool:
        """May ``role`` read ``scope``? An unknown scope is a programming error."""
        if scope not in SCOPES:
            raise PolicyError(f"unknown read scope {scope!r}; scopes are {', '.join(SCOPES)}")
        return scope in self.rights(role).read

    def allows(self, role: str, action: str) -> bool:
        """May ``role`` perform ``action``: a ticket event, ``manage_<what>``, ``parts_<act>``,
        ``maintenance_<act>``, ``alerts_<act>`` or an after-sales act?

        Whether the event may touch a given ticket is :func:`ticket_in_reach`'s question.
        """
        rights = self.rights(role)
        for prefix, (known, field) in _PREFIXED.items():
            if action.startswith(prefix):
                act = action.removeprefix(prefix)
                if act not in known:
                    raise PolicyError(f"unknown action {action!r}")
                return act in getattr(rights, field)
        if action in AFTER_SALES:
            return action in rights.after_sales
        if action not in TICKET_EVENTS:
            raise PolicyError(f"unknown action {action!r}")
        return action in rights.events

    def reach(self, role: str) -> Reach:
        return self.rights(role).tickets


def ticket_in_reach(
    *,
    reach: Reach,
    ticket_assignee: str | None,
    ticket_customer: str,
    engineer: str | None,
    customer: str | None,
) -> bool:
    """Is a ticket (its assignee's engineer code and its customer code) within a user's reach
    (the engineer code the user is linked to, the customer code it is bound to)?"""
    if reach == "all":
        return True
    if reach == "assigned":
        return engineer is not None and ticket_assignee == engineer
    if reach == "own_customer":
        return customer is not None and ticket_customer == customer
    return False


def builtin_access() -> AccessPolicy:
    """The access policy shipped in ``ticketing/policies/access.toml``."""
    entry = resources.files("ticketing.policies").joinpath("access.toml")
    return parse_toml(entry.read_text(encoding="utf-8"), "built-in access policy", AccessPolicy,
                      what="access policy")


def load_access(path: Path | None = None) -> AccessPolicy:
    """The access policy in ``path``; the built-in one when ``path`` is None."""
    if path is None:
        return builtin_access()
    return read_toml(path, AccessPolicy, what="access policy")
