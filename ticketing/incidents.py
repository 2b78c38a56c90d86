"""One incident, one ticket: which open ticket of the same robot a new anomaly belongs to.

Pure: the caller passes the robot's open tickets as :class:`OpenIncident` and the policy's
:class:`ticketing.policy.IncidentRules`; nothing is read or stored here.

An anomaly on a part of the arm (``J1`` .. ``J6``) joins the open ticket of that part. A
system-level anomaly (the controller's) joins:

1. the ticket of the joint its alarm names (``evidence["joint"]`` = ``"J3"`` or
   ``evidence["axis"]`` = ``3``), when there is one;
2. else the most recently active ticket of a part with an anomaly of a kind it follows from
   (``follows``), active within ``window`` before it started;
3. else an open system-level ticket of the same component and kind.

A part's anomaly also joins an open system-level ticket that it explains (an alarm that came
first, within ``window``). Different parts stay different tickets. Without rules, only the
same component and kind join (the behaviour before incidents were grouped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ticketing.policy import IncidentRules

__all__ = ["OpenIncident", "IncidentMatch", "match_incident", "named_joint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenIncident:
    ticket_id: int
    component: str                  # the ticket's component
    components: frozenset[str]      # of its anomalies
    kinds: frozenset[str]           # of its anomalies (and the ticket's own kind)
    last_anomaly_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentMatch:
    ticket_id: int
    reason: str
    # The joint a controller-level anomaly was attributed to, when it was.
    attributed_to: str | None = None


def named_joint(evidence: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    """The joint an alarm's evidence names, as a component (``"J3"``), or None."""
    for key in keys:
        value = evidence.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int) and 1 <= value <= 99:
            return f"J{value}"
        if isinstance(value, str):
            text = value.strip().upper()
            if text.isdigit():
                text = f"J{int(text)}"
            if len(text) >= 2 and text[0] == "J" and text[1:].isdigit():
                return f"J{int(text[1:])}"
    return None


_NEVER = datetime.min.replace(tzinfo=UTC)


def _recent(incidents: Sequence[OpenIncident]) -> OpenIncident:
    return max(incidents, key=lambda i: (i.last_anomaly_at or _NEVER, i.ticket_id))


def match_incident(
    *,
    component: str,
    kind: str,
    started_at: datetime,
    evidence: Mapping[str, Any],
    open_incidents: Sequence[OpenIncident],
    rules: IncidentRules | None,
) -> IncidentMatch | None:
    """The open ticket the anomaly belongs to, with the reason; None: a new incident."""
    same_kind = [i for i in open_incidents if i.component == component and kind in i.kinds]
    if rules is None:
        return IncidentMatch(ticket_id=_recent(same_kind).ticket_id,
                             reason=f"same component {component} and kind {kind}"
                             ) if same_kind else None

    def active(i: OpenIncident) -> bool:
        return i.last_anomaly_at is not None and started_at - i.last_anomaly_at <= rules.window

    if component in rules.system_components:
        joint = named_joint(evidence, rules.axis_keys)
        if joint is not None:
            of_joint = [i for i in open_incidents if joint in i.components]
            if of_joint:
                return IncidentMatch(ticket_id=_recent(of_joint).ticket_id, attributed_to=joint,
                                     reason=f"{kind} names joint {joint}")
        causes = set(rules.follows.get(kind, ()))
        followed = [i for i in open_incidents
                    if i.component not in rules.system_components and causes & i.kinds
                    and active(i)]
        if followed:
            hit = _recent(followed)
            return IncidentMatch(
                ticket_id=hit.ticket_id, attributed_to=hit.component,
                reason=f"{kind} follows {', '.join(sorted(causes & hit.kinds))} on "
                       f"{hit.component} within {rules.window}")
        if same_kind:
            return IncidentMatch(ticket_id=_recent(same_kind).ticket_id,
                                 reason=f"same component {component} and kind {kind}")
        return None

    same_part = [i for i in open_incidents if component in i.components
                 or (i.component == component and i.component not in rules.system_components)]
    if same_part:
        return IncidentMatch(ticket_id=_recent(same_part).ticket_id,
                             reason=f"same part {component}")
    explained = [i for i in open_incidents
                 if i.component in rules.system_components and active(i)
                 and any(kind in rules.follows.get(k, ()) for k in i.kinds)]
    if explained:
        hit = _recent(explained)
        return IncidentMatch(
            ticket_id=hit.ticket_id, attributed_to=component,
            reason=f"{kind} on {component} explains {', '.join(sorted(hit.kinds))} "
                   f"within {rules.window}")
    return None
