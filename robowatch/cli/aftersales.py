"""``robowatch aftersales``: what a person does with feedback, callbacks and the improvement
loop at a terminal (docs/after-sales.md): list open feedback and complaints, issue a
customer's survey link, list common problems, draw the quality-control sample."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from robowatch.cli.context import settings_of
from robowatch.cli.ticketing import PolicyOpt
from robowatch.database import database
from storage import feedback as fstore
from storage import improvement as istore
from storage.connect import connect
from ticketing.feedback import callbacks
from ticketing.improvement import quality
from ticketing.policy import load_policy

app = typer.Typer(help="After sales: feedback, complaints, callbacks, root causes, QC.",
                  no_args_is_help=True)

Actor = Annotated[str, typer.Option("--as", help="who acts (written in the history)")]


def _day(value: str) -> datetime:
    try:
        d = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: write a date like 2026-11-01") from exc
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@app.command("feedback")
def list_feedback(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="feedback or complaint")] = None,
    state: Annotated[str | None, typer.Option(help="received, routing, processing, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Feedback records and complaints, newest first."""
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        rows, total = fstore.list_feedback(conn=conn, kind=kind, state=state, limit=limit)
    typer.echo(f"{total} record(s)")
    for r in rows:
        late = " (registered late)" if r.registered_late else ""
        typer.echo(f"{r.number}  {r.state:<10} {r.urgency:<8} {r.customer:<10} "
                   f"{r.department or '-':<28} {r.summary[:40]}{late}")


@app.command("link")
def survey_link(
    ctx: typer.Context,
    ticket_id: Annotated[int, typer.Argument(min=1, help="a completed ticket's id")],
    policy: PolicyOpt = None,
) -> None:
    """Issue the customer's single-use survey link (printed once; earlier ones stop working)."""
    chosen = load_policy(policy or settings_of(ctx).policy_file)
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        token = callbacks.issue_link(conn=conn, ticket_id=ticket_id, policy=chosen,
                                     now=datetime.now(UTC))
    typer.echo(f"/api/v1/survey/{token}")


@app.command("problems")
def list_problems(ctx: typer.Context) -> None:
    """Common problems with their CAPA state."""
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        for p in istore.list_problems(conn=conn):
            tickets = istore.problem_tickets(conn=conn, problem_id=p.id)
            typer.echo(f"{p.number}  {p.state:<8} {p.kind:<24} robots {p.robots} customers "
                       f"{p.customers}  owner {p.owner}  CAPA due {p.capa_due:%Y-%m-%d}  "
                       f"tickets {', '.join(tickets)}")


@app.command("qc-draw")
def qc_draw(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="first day of the period (ISO date)")],
    until: Annotated[str, typer.Option(help="day after the period (ISO date)")],
    seed: Annotated[int, typer.Option(min=0, help="the same seed redraws the same tickets")],
    actor: Actor = "qc",
    policy: PolicyOpt = None,
) -> None:
    """Draw the policy's share of the tickets resolved in the period for a quality check."""
    chosen = load_policy(policy or settings_of(ctx).policy_file)
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        d = quality.run_draw(conn=conn, since=_day(since), until=_day(until), seed=seed,
                             actor=actor, now=datetime.now(UTC), policy=chosen)
        checks = istore.draw_checks(conn=conn, draw_id=d.id)
    typer.echo(f"draw {d.id}: {len(checks)} of {d.population} resolved tickets "
               f"({d.share:.0%}, seed {d.seed})")
    for c in checks:
        typer.echo(f"  {c.ticket}")
