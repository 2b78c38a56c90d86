"""``robowatch report weekly|monthly|quarterly``: the KPI report of a period as Markdown
(default), CSV or HTML, on stdout or into a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from reports.kpis import compute_kpis
from reports.periods import PeriodKind, parse_period
from reports.policy import load_reports_policy
from reports.render import FORMATS, as_format, render
from robowatch.cli.context import settings_of, writable_file
from robowatch.database import database
from storage.connect import connect
from storage.reports import ReportScope

app = typer.Typer(help="KPI reports (service rules section 9): weekly, monthly, quarterly.",
                  no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", callback=writable_file,
                                             help="Write here instead of stdout.")]
CustomerOpt = Annotated[str | None, typer.Option(help="Customer code.")]
SiteOpt = Annotated[str | None, typer.Option(help="Site code.")]
DepartmentOpt = Annotated[str | None, typer.Option(
    help="Role of the assigned person (engineer, manager, ...).")]
EngineerOpt = Annotated[str | None, typer.Option(help="Engineer code of the assignee.")]
PolicyOpt = Annotated[Path | None, typer.Option(help="Reports policy TOML (targets).")]

def _run(ctx: typer.Context, kind: PeriodKind, label: str, fmt: str, out: Path | None,
         scope: ReportScope, policy_file: Path | None) -> None:
    try:
        as_fmt = as_format(fmt)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--format") from exc
    policy = load_reports_policy(policy_file)
    period = parse_period(kind, label, zone=policy.reports.zone)
    with database(settings_of(ctx)) as url, connect(url) as conn:
        report = compute_kpis(conn=conn, period=period, scope=scope, policy=policy,
                              now=datetime.now(UTC))
    text = render(report, as_fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def _register(kind: PeriodKind, flag: str, example: str, doc: str) -> None:
    """One command per period kind; they differ only in how the period is named. That one
    option is a default, not ``Annotated``: typer resolves string annotations against module
    globals, which cannot see ``flag``."""

    def command(
        ctx: typer.Context,
        period: str = typer.Option(..., f"--{flag}", help=f"The {flag}, like {example}."),
        fmt: FormatOpt = "md", out: OutOpt = None, customer: CustomerOpt = None,
        site: SiteOpt = None, department: DepartmentOpt = None, engineer: EngineerOpt = None,
        policy: PolicyOpt = None,
    ) -> None:
        _run(ctx, kind, period, fmt, out, ReportScope(customer=customer, site=site,
                                                      department=department,
                                                      engineer=engineer), policy)

    command.__doc__ = doc
    app.command(name=kind)(command)


_register("weekly", "week", "2026-W48", "The week's KPIs, per grade, MTBF and tickets per day.")
_register("monthly", "month", "2026-11", "The month's KPIs (the monthly check).")
_register("quarterly", "quarter", "2026-Q4", "The quarter's KPIs (the quarterly review).")
