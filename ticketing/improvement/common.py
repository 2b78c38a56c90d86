"""A common problem's life (service rules section 6): a systemic improvement with an owner,
corrective and preventive actions (CAPA) due by ``capa_due``, and a verification of their
effect no earlier than ``verify_after`` after the CAPA.

::

    open --record_capa--> capa --verify--> verified
     ^                     |
     +-----reject----------+   (the effect did not show: a new CAPA is needed)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from statemachine import State, StateMachine

from storage import improvement as istore
from storage.tickets import Conn, atomic
from ticketing.errors import EventRefused, PolicyError, TicketNotFound
from ticketing.lifecycle import next_state, require_detail
from ticketing.policy import Policy

__all__ = ["CommonProblemLifecycle", "act"]


class CommonProblemLifecycle(StateMachine):
    open = State(initial=True)
    capa = State()
    verified = State(final=True)

    record_capa = open.to(capa, validators="_needs_capa")
    verify = capa.to(verified, validators="_needs_verification")
    reject = capa.to(open, validators="_needs_verification")

    def _needs_capa(self, corrective: str | None = None, preventive: str | None = None,
                    **_: Any) -> None:
        require_detail("corrective", corrective)
        require_detail("preventive", preventive)

    def _needs_verification(self, verification: str | None = None, **_: Any) -> None:
        require_detail("verification", verification)


def act(
    *, conn: Conn, problem_id: int, event: str, actor: str, now: datetime, policy: Policy,
    **details: Any,
) -> istore.CommonProblemRow:
    """Apply ``record_capa`` (corrective, preventive), ``verify`` or ``reject``
    (verification) to a common problem; the problem afterwards."""
    rules = policy.improvement
    if rules is None:
        raise PolicyError(f"policy {policy.label} has no [improvement] section")
    with atomic(conn=conn):
        p = istore.lock_problem(conn=conn, problem_id=problem_id)
        if p is None:
            raise TicketNotFound(f"no common problem {problem_id}")
        to_state = next_state(CommonProblemLifecycle, state=p.state, event=event, **details)
        changes: dict[str, Any] = {"state": to_state}
        if event == "record_capa":
            changes.update(corrective=details["corrective"], preventive=details["preventive"],
                           capa_at=now, verify_due=now + rules.verify_after)
        else:
            if p.verify_due is not None and now < p.verify_due:
                raise EventRefused(event=event, state=p.state,
                                   why=f"the effect is verified from {p.verify_due.isoformat()}")
            changes.update(verification=f"{details['verification']} ({actor})", verified_at=now)
            if event == "reject":
                changes.update(capa_at=None, verify_due=None)
        istore.update_problem(conn=conn, problem_id=p.id, changes=changes)
        out = istore.get_problem(conn=conn, problem_id=p.id)
    assert out is not None
    return out
