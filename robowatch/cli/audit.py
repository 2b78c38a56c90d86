"""``robowatch audit``: verify the ticket history's hash chains, read a ticket's archive (the
read is logged), list archive reads, and retention: what is due, approve, purge.

``verify`` exits 1 when anything is broken, naming each edited, deleted or cut row; ``purge``
without ``--execute`` only lists, and ``--execute`` destroys only what has an approval.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from reports.errors import ArchiveNotFound
from reports.policy import load_reports_policy
from reports.records import approve, due_purges, execute_purges, read_archive
from robowatch.cli.context import settings_of
from robowatch.database import database
from storage import audit
from storage.connect import Conn, connect

app = typer.Typer(help="Records: tamper-evident history, archives, retention and purges.",
                  no_args_is_help=True)

TicketArg = Annotated[str, typer.Argument(help="Ticket id or number (RW-20261123-0001).")]
PolicyOpt = Annotated[Path | None, typer.Option(help="Reports policy TOML (retention).")]


def _ticket_id(conn: Conn, ticket: str) -> int:
    found = int(ticket) if ticket.isdigit() else audit.ticket_id_of(conn=conn, number=ticket)
    if found is None:
        raise ArchiveNotFound(f"no ticket {ticket}")
    return found


def _json(value: Any) -> str:
    return json.dumps(dataclasses.asdict(value), default=str, ensure_ascii=False, indent=2)


@app.command()
def verify(
    ctx: typer.Context,
    ticket: Annotated[str | None, typer.Option(help="Only this ticket (id or number).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object.")] = False,
) -> None:
    """Recompute every event's hash and link; name each edited, deleted or cut row."""
    started = time.perf_counter()
    with database(settings_of(ctx)) as url, connect(url) as conn:
        tid = _ticket_id(conn, ticket) if ticket else None
        breaks = audit.verify_chains(conn=conn, ticket_id=tid)
        summary = audit.chain_summary(conn=conn)
    for b in breaks:
        typer.echo(b.describe())
    elapsed = time.perf_counter() - started
    typer.echo(f"{summary.events} events of {summary.tickets} tickets checked in "
               f"{elapsed:.2f} s: {'INTACT' if not breaks else f'{len(breaks)} break(s)'}; "
               f"heads digest {summary.root}", err=as_json)
    if as_json:
        typer.echo(json.dumps({"intact": not breaks, "breaks": [dataclasses.asdict(b)
                                                                for b in breaks],
                               "events": summary.events, "tickets": summary.tickets,
                               "root": summary.root}))
    if breaks:
        raise typer.Exit(1)


@app.command()
def archive(ctx: typer.Context, ticket: TicketArg) -> None:
    """Print a ticket's whole archive as JSON; the read is logged under your OS user name."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        found = read_archive(conn=conn, ticket_id=_ticket_id(conn, ticket),
                             reader=getpass.getuser(), role=None, via="cli",
                             now=datetime.now(UTC))
        conn.commit()
    typer.echo(_json(found))


@app.command()
def reads(
    ctx: typer.Context,
    ticket: Annotated[str | None, typer.Option(help="Only this ticket (id or number).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Who read which archive, and when (newest first)."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        tid = _ticket_id(conn, ticket) if ticket else None
        rows = audit.archive_reads(conn=conn, ticket_id=tid, limit=limit)
    for r in rows:
        typer.echo(f"{r.at:%Y-%m-%d %H:%M:%S%z}  {r.reader:<20} {r.role or '-':<14} "
                   f"{r.number:<20} {r.what} via {r.via}")


@app.command()
def purge(
    ctx: typer.Context,
    approve_ticket: Annotated[str | None, typer.Option(
        "--approve", help="Record the approval to destroy this ticket's records.")] = None,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Destroy the due tickets that have an approval.")] = False,
    by: Annotated[str | None, typer.Option(help="Who approves or purges.")] = None,
    reason: Annotated[str, typer.Option(help="Why (with --approve).")] = "",
    today: Annotated[str | None, typer.Option(help="Judge as of this day (YYYY-MM-DD).")] = None,
    policy: PolicyOpt = None,
) -> None:
    """List the tickets whose retention has run out; approve one; purge the approved."""
    retention = load_reports_policy(policy).retention
    day = date.fromisoformat(today) if today else datetime.now(UTC).date()
    now = datetime.now(UTC)
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        if approve_ticket is not None:
            if not by:
                raise typer.BadParameter("--approve needs --by", param_hint="--by")
            keep = approve(conn=conn, ticket_id=_ticket_id(conn, approve_ticket),
                           retention=retention, approved_by=by, reason=reason, now=now)
            typer.echo(f"approved: {approve_ticket} may be purged after {keep}")
            return
        if execute:
            if not by:
                raise typer.BadParameter("--execute needs --by", param_hint="--by")
            outcome = execute_purges(conn=conn, retention=retention, today=day, purged_by=by,
                                     now=now)
            for p in outcome.purged:
                typer.echo(f"purged {p.number}: {p.events} events (approved by "
                           f"{p.approved_by} at {p.approved_at:%Y-%m-%d})")
            for number, why in outcome.refused:
                typer.echo(f"kept {number}: {why}")
            typer.echo(f"{len(outcome.purged)} purged, {len(outcome.refused)} kept", err=True)
            return
        due = due_purges(conn=conn, retention=retention, today=day)
        for d in due:
            state = f"approved by {d.approved_by}" if d.approved else "NOT approved"
            typer.echo(f"{d.number}  grade {d.grade} {d.tier:<9} closed {d.closed_at:%Y-%m-%d}"
                       f"  kept until {d.keep_until}  {state}")
        typer.echo(f"{len(due)} due, {sum(d.approved for d in due)} approved", err=True)
