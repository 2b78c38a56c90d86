"""``robowatch ticketing``: the ticketing service and a view of the effective policy."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import typer

from maintenance.timers import inspection_pass
from robowatch.cli.context import settings_of
from robowatch.database import database
from robowatch.settings import NotifySettings
from storage.connect import connect
from ticketing.duty import put_roster_in_force, roster_in_force
from ticketing.feedback.policy import Deadline
from ticketing.notify.channels import ChannelConfig, Webhook
from ticketing.notify.service import run_notifications
from ticketing.policy import GRADES, IMPACTS, TIERS, Policy, format_duration, load_policy
from ticketing.service import run_ticketing

app = typer.Typer(help="Ticketing: grade anomalies into tickets with SLA clocks.",
                  no_args_is_help=True)

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy TOML file; default: the built-in seed 000 policy.",
                 exists=False, dir_okay=False),
]


def _policy(path: Path | None) -> Policy:
    # A PolicyError reaches the CLI's one error line (robowatch.cli.main).
    return load_policy(path)


def render_policy(policy: Policy) -> str:
    """The grading matrix and clock tables as plain text."""
    out = [f"policy {policy.label}: {policy.policy.description}"]
    if policy.policy.source:
        out.append(f"source: {policy.policy.source}")
    out += ["", "Grading (tier x impact; * = assumed, not stated by the rules)"]
    out.append(f"{'tier':<10}" + "".join(f"{i:>13}" for i in IMPACTS))
    for t in TIERS:
        cells = []
        for i in IMPACTS:
            star = "*" if f"{t}.{i}" in policy.grading.assumed else ""
            cells.append(f"{policy.grading.matrix[t][i] + star:>13}")
        out.append(f"{t:<10}" + "".join(cells))
    rule = policy.grading.multi_core
    if rule is not None:
        out.append(f"escalate to {rule.grade}: same fault kind at >= {rule.min_customers} "
                   f"{'/'.join(rule.tiers)} customers within {format_duration(rule.window)}")
    out += ["", "Clocks from acceptance, 24x7 (* = assumed row)",
            f"{'grade':<6}{'tiers':<26}{'respond':>9}{'onsite':>9}{'plan':>8}{'resolve':>9}"
            f"{'extend':>8}{'update':>12}"]
    for g in GRADES:
        for row in (r for r in policy.clocks if r.grade == g):
            update = format_duration(row.update_every) if row.update_every else "at end"
            out.append(
                f"{g + ('*' if row.assumed else ''):<6}{','.join(row.tiers):<26}"
                f"{format_duration(row.respond):>9}{format_duration(row.onsite):>9}"
                f"{format_duration(row.plan):>8}{format_duration(row.resolve):>9}"
                f"{format_duration(row.resolve_extended):>8}{update:>12}")
    r = policy.routing
    out += ["", f"Process: dispatch within {format_duration(policy.process.dispatch)}, "
                f"confirm within {format_duration(policy.process.confirm)}",
            f"Routing: grades {', '.join(r.manager_grades)} -> {r.manager_role}; "
            f"others -> {r.engineer_role}"]
    return "\n".join(out + _after_sales(policy))


def _when(d: Deadline) -> str:
    day = timedelta(days=1)
    if d.calendar == "working" and d.allowed % day == timedelta(0):
        n = d.allowed // day
        return f"{n} working day{'s' if n != 1 else ''}"
    return format_duration(d.allowed) + (" working" if d.calendar == "working" else "")


def _after_sales(policy: Policy) -> list[str]:
    """The after-sales deadlines (docs/after-sales.md), one line each."""
    out: list[str] = []
    if policy.feedback is not None:
        f = policy.feedback
        out += ["", "Feedback: register " + _when(f.register_within) + ", confirm "
                + _when(f.confirm_within) + ", result told " + _when(f.tell_within)]
        for name, c in f.urgency.items():
            solve = f", solve {_when(c.solve)}" if c.solve else ""
            every = f", progress every {_when(c.update_every)}" if c.update_every else ""
            out.append(f"  {name}: plan {_when(c.plan)}{solve}{every}")
        out.append(f"  complaint: respond {_when(f.complaint.respond)}, answer "
                   f"{_when(f.complaint.answer)}")
    if policy.callbacks is not None:
        out.append(f"Callback within {_when(policy.callbacks.within)}; a score below "
                   f"{policy.callbacks.low_score} opens a follow-up")
    if policy.improvement is not None:
        i = policy.improvement
        out.append(f"Root-cause report for grades {', '.join(i.rca_grades)} and repeats "
                   f"within {_when(i.rca_within)}; repeat window "
                   f"{format_duration(i.repeat_window)}; common problem: >= "
                   f"{i.common_min_robots} robots or >= {i.common_min_customers} customers "
                   f"within {format_duration(i.common_window)}; QC {i.qc_share:.0%}")
    return out


@app.command("policy")
def show_policy(policy: PolicyOpt = None) -> None:
    """Print the effective grading matrix and clock table."""
    typer.echo(render_policy(_policy(policy)))


def channel_config(notify: NotifySettings) -> ChannelConfig:
    """The notifier's channels from the settings (secrets stay out of the policy)."""
    webhooks = {name: Webhook(url=w.url, format=w.format) for name, w in notify.webhooks.items()}
    if not notify.smtp_url:
        return ChannelConfig(mail_from=notify.mail_from, webhooks=webhooks)
    u = urlsplit(notify.smtp_url)
    tls: Literal["none", "starttls", "ssl"] = {"smtps": "ssl", "smtp+starttls": "starttls"}.get(
        u.scheme, "none")  # type: ignore[assignment]
    return ChannelConfig(
        smtp_host=u.hostname, smtp_port=u.port or (465 if tls == "ssl" else 25), smtp_tls=tls,
        smtp_user=unquote(u.username) if u.username else None,
        smtp_password=unquote(u.password) if u.password else None,
        mail_from=notify.mail_from, webhooks=webhooks)


async def _serve(url: str, policy: Policy, sweep_every: float, dispatch: bool,
                 channels: ChannelConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    # Inspection work orders' overdue timers live in the same rows: one timer loop fires both.
    services: list[Coroutine[Any, Any, None]] = [run_ticketing(
        conninfo=url, policy=policy, stop=stop, sweep_every=sweep_every, dispatch=dispatch,
        also=(inspection_pass,))]
    if policy.notifications is not None:
        services.append(run_notifications(conninfo=url, rules=policy.notifications,
                                          channels=channels, stop=stop))
    await asyncio.gather(*services)


@app.command()
def run(
    ctx: typer.Context,
    policy: PolicyOpt = None,
    sweep_every: Annotated[float, typer.Option(min=0.5, help="Seconds between sweeps.")] = 5.0,
    dispatch: Annotated[bool, typer.Option(help="Dispatch new tickets automatically.")] = True,
) -> None:
    """Turn anomalies into graded tickets with SLA clocks until SIGINT/SIGTERM."""
    chosen = _policy(policy or settings_of(ctx).policy_file)
    with database(settings_of(ctx)) as url:
        asyncio.run(_serve(url, chosen, sweep_every, dispatch,
                           channel_config(settings_of(ctx).notify)))


roster_app = typer.Typer(help="The on-call roster: who is on duty when.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")


@roster_app.command("load")
def roster_load(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="Roster TOML (robowatch/demo_roster.toml).")],
) -> None:
    """Put a roster in force (validated first; the same rota again changes nothing)."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        roster_id = put_roster_in_force(conn=conn, roster=path)
        conn.commit()
    typer.echo(f"roster {roster_id} in force ({path})")


@roster_app.command("show")
def roster_show(
    ctx: typer.Context,
    at: Annotated[datetime | None, typer.Option(
        help="Instant with its UTC offset (default: now).")] = None,
) -> None:
    """Who is on duty at an instant, by team and shift."""
    when = at if at is not None and at.tzinfo is not None else datetime.now(UTC)
    with database(settings_of(ctx)) as url, connect(url) as conn:
        found = roster_in_force(conn=conn)
    if found is None:
        typer.echo("no roster in force: nobody is on duty (robowatch ticketing roster load)")
        raise typer.Exit(1)
    stored, roster = found
    typer.echo(f"roster {stored.id} ({stored.source or 'no file'}) at "
               f"{when.isoformat(timespec='minutes')}")
    for team in roster.teams:
        shift = roster.shift_at(team.name, when)
        people = sorted(roster.crew_at(team.name, when))
        typer.echo(f"  {team.name:<20} {shift.shift:<10} until "
                   f"{shift.ends_at.isoformat(timespec='minutes')}: {', '.join(people)}")
