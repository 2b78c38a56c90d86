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

from parts.labour import ticket_labour
from parts.policy import load_policy as load_parts_policy
from reports.errors import ArchiveNotFound
from reports.feedback_records import (
    approve_feedback,
    due_feedback_purges,
    execute_feedback_purges,
    read_feedback_archive,
)
from reports.policy import load_reports_policy
from reports.records import PurgeOutcome, approve, due_purges, execute_purges, read_archive
from robowatch.cli.context import settings_of
from robowatch.database import database
from storage import audit
from storage.connect import Conn, connect
from storage.feedback_records import feedback_id_of

app = typer.Typer(help="Records: tamper-evident history, archives, retention and purges.",
                  no_args_is_help=True)

TicketArg = Annotated[str, typer.Argument(
    help="Ticket id or number (RW-20261123-0001), or a feedback or complaint number "
         "(FB-20261123-0001, CP-...).")]
# Numbers of feedback records and complaints (storage.feedback.create_feedback).
FEEDBACK_PREFIXES = ("FB-", "CP-")
PolicyOpt = Annotated[Path | None, typer.Option(help="Reports policy TOML (retention).")]


def _ticket_id(conn: Conn, ticket: str) -> int:
    found = int(ticket) if ticket.isdigit() else audit.ticket_id_of(conn=conn, number=ticket)
    if found is None:
        raise ArchiveNotFound(f"no ticket {ticket}")
    return found


def _feedback_id(conn: Conn, number: str) -> int:
    found = feedback_id_of(conn=conn, number=number.upper())
    if found is None:
        raise ArchiveNotFound(f"no feedback record {number}")
    return found


def _json(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=str, ensure_ascii=False, indent=2)


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
        # The feedback history is checked with the whole history, not with one ticket.
        fb_breaks = [] if tid is not None else audit.verify_feedback_chains(conn=conn)
        fb_summary = audit.chain_summary(conn=conn, record="feedback")
    breaks += fb_breaks
    for b in breaks:
        typer.echo(b.describe())
    elapsed = time.perf_counter() - started
    feedback_part = (f" and {fb_summary.events} events of {fb_summary.tickets} feedback "
                     f"records" if tid is None else "")
    typer.echo(f"{summary.events} events of {summary.tickets} tickets{feedback_part} checked "
               f"in {elapsed:.2f} s: {'INTACT' if not breaks else f'{len(breaks)} break(s)'}; "
               f"heads digest {summary.root}", err=as_json)
    if as_json:
        typer.echo(json.dumps({"intact": not breaks, "breaks": [dataclasses.asdict(b)
                                                                for b in breaks],
                               "events": summary.events, "tickets": summary.tickets,
                               "root": summary.root,
                               "feedback_events": fb_summary.events,
                               "feedback_records": fb_summary.tickets,
                               "feedback_root": fb_summary.root}))
    if breaks:
        raise typer.Exit(1)


@app.command()
def archive(
    ctx: typer.Context, ticket: TicketArg,
    parts: Annotated[Path | None, typer.Option(
        "--parts-policy", help="Parts policy TOML (warranty, labour rate).")] = None,
) -> None:
    """Print a ticket's (or a feedback record's) whole archive as JSON; the read is logged
    under your OS user name."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        found: Any
        if ticket.upper().startswith(FEEDBACK_PREFIXES):
            found = read_feedback_archive(conn=conn, feedback_id=_feedback_id(conn, ticket),
                                          reader=getpass.getuser(),
                                          role=None, via="cli", now=datetime.now(UTC))
        else:
            now = datetime.now(UTC)
            a = read_archive(conn=conn, ticket_id=_ticket_id(conn, ticket),
                             reader=getpass.getuser(), role=None, via="cli", now=now)
            labour = ticket_labour(conn=conn, ticket=a.ticket, policy=load_parts_policy(parts),
                                   now=now)
            found = dataclasses.asdict(a) | {"labour": dataclasses.asdict(labour)}
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
        "--approve", help="Record the approval to destroy this ticket's (or feedback "
                          "record's) records.")] = None,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Destroy the due tickets that have an approval.")] = False,
    by: Annotated[str | None, typer.Option(help="Who approves or purges.")] = None,
    reason: Annotated[str, typer.Option(help="Why (with --approve).")] = "",
    today: Annotated[str | None, typer.Option(help="Judge as of this day (YYYY-MM-DD).")] = None,
    policy: PolicyOpt = None,
) -> None:
    """List the tickets and feedback records whose retention has run out; approve one (a
    ticket, or a feedback number FB-/CP-...); purge the approved."""
    retention = load_reports_policy(policy).retention
    day = date.fromisoformat(today) if today else datetime.now(UTC).date()
    now = datetime.now(UTC)
    with database(settings_of(ctx)) as url, connect(url, autocommit=True) as conn:
        if approve_ticket is not None:
            if not by:
                raise typer.BadParameter("--approve needs --by", param_hint="--by")
            if approve_ticket.upper().startswith(FEEDBACK_PREFIXES):
                keep = approve_feedback(conn=conn, feedback_id=_feedback_id(conn, approve_ticket),
                                        retention=retention, approved_by=by, reason=reason,
                                        now=now)
            else:
                keep = approve(conn=conn, ticket_id=_ticket_id(conn, approve_ticket),
                               retention=retention, approved_by=by, reason=reason, now=now)
            typer.echo(f"approved: {approve_ticket} may be purged after {keep}")
            return
        if execute:
            if not by:
                raise typer.BadParameter("--execute needs --by", param_hint="--by")
            tickets = execute_purges(conn=conn, retention=retention, today=day, purged_by=by,
                                     now=now)
            records = execute_feedback_purges(conn=conn, retention=retention, today=day,
                                              purged_by=by, now=now)
            outcome = PurgeOutcome(purged=tickets.purged + records.purged,
                                   refused=tickets.refused + records.refused)
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
        due_fb = due_feedback_purges(conn=conn, retention=retention, today=day)
        for f in due_fb:
            state = f"approved by {f.approved_by}" if f.approved else "NOT approved"
            typer.echo(f"{f.number}  {'major' if f.major else 'feedback':<8} {f.tier:<9} "
                       f"completed {f.closed_at:%Y-%m-%d}  kept until {f.keep_until}  {state}")
        typer.echo(f"{len(due) + len(due_fb)} due, "
                   f"{sum(d.approved for d in due) + sum(f.approved for f in due_fb)} approved",
                   err=True)
