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


@app.command()
def weekly(
    ctx: typer.Context,
    week: Annotated[str, typer.Option(help="ISO week, like 2026-W48.")],
    fmt: FormatOpt = "md", out: OutOpt = None, customer: CustomerOpt = None,
    site: SiteOpt = None, department: DepartmentOpt = None, engineer: EngineerOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """The week's KPIs, per grade, MTBF and tickets per day."""
    _run(ctx, "weekly", week, fmt, out, ReportScope(customer=customer, site=site,
                                                     department=department, engineer=engineer),
         policy)


@app.command()
def monthly(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(help="Month, like 2026-11.")],
    fmt: FormatOpt = "md", out: OutOpt = None, customer: CustomerOpt = None,
    site: SiteOpt = None, department: DepartmentOpt = None, engineer: EngineerOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """The month's KPIs (the monthly check)."""
    _run(ctx, "monthly", month, fmt, out, ReportScope(customer=customer, site=site,
                                                       department=department,
                                                       engineer=engineer), policy)


@app.command()
def quarterly(
    ctx: typer.Context,
    quarter: Annotated[str, typer.Option(help="Quarter, like 2026-Q4.")],
    fmt: FormatOpt = "md", out: OutOpt = None, customer: CustomerOpt = None,
    site: SiteOpt = None, department: DepartmentOpt = None, engineer: EngineerOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """The quarter's KPIs (the quarterly review)."""
    _run(ctx, "quarterly", quarter, fmt, out, ReportScope(customer=customer, site=site,
                                                          department=department,
                                                          engineer=engineer), policy)
