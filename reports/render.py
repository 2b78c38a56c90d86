"""A :class:`reports.kpis.KpiReport` as Markdown, CSV or a self-contained HTML page (inline
CSS and SVG charts, nothing fetched)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from html import escape
from typing import Literal

from reports.charts import Series, bar_chart
from reports.kpis import Kpi, KpiReport, Unit, format_value

__all__ = ["Format", "FORMATS", "MEDIA_TYPES", "as_format", "render", "to_markdown", "to_csv",
           "to_html"]

Format = Literal["md", "csv", "html"]
FORMATS: tuple[Format, ...] = ("md", "csv", "html")
MEDIA_TYPES: dict[Format, str] = {"md": "text/markdown; charset=utf-8",
                                  "csv": "text/csv; charset=utf-8",
                                  "html": "text/html; charset=utf-8"}


def as_format(text: str) -> Format:
    """``text`` as a format name; ValueError when it is none of :data:`FORMATS`."""
    for f in FORMATS:
        if f == text:
            return f
    raise ValueError(f"unknown format {text!r}; one of {', '.join(FORMATS)}")


def _verdict(k: Kpi) -> str:
    met = k.met
    return "" if met is None else ("met" if met else "missed")


def _opt(value: float | None, unit: Unit) -> str:
    return "no data" if value is None else format_value(value, unit)


def _title(r: KpiReport) -> str:
    kind = {"weekly": "Weekly", "monthly": "Monthly", "quarterly": "Quarterly"}.get(
        r.period.kind, "Service")
    return f"{kind} service report {r.period.label}"


def _subtitle(r: KpiReport) -> str:
    return (f"{r.period.first_day} to {r.period.last_day} ({r.scope.label()}); counted up to "
            f"{r.as_of:%Y-%m-%d %H:%M} UTC; targets: {r.policy}")


def _fleet_line(r: KpiReport) -> str:
    mtbf = "no failures" if r.fleet_mtbf_h is None else f"{r.fleet_mtbf_h:.1f} h"
    return f"Fleet MTBF: {mtbf} ({r.fleet_robots} robots, {r.fleet_failures} stoppages)"


def to_markdown(r: KpiReport) -> str:
    lines = [f"# {_title(r)}", "", _subtitle(r), "", "## KPIs", "",
             "| KPI | Value | Target | | Over | Note |", "|---|---:|---:|---|---:|---|"]
    for k in r.kpis:
        lines.append(f"| {k.title} | {k.shown()} | {k.target_shown()} | {_verdict(k)} | "
                     f"{'' if k.basis is None else k.basis} | {k.note} |")
    lines += ["", "## Per grade", "",
              "| Grade | Tickets | Response on time | Resolution on time | Completion | "
              "First response |", "|---|---:|---:|---:|---:|---:|"]
    for g in r.grades:
        lines.append(f"| {g.grade} | {g.tickets} | {_opt(g.response_on_time, 'share')} | "
                     f"{_opt(g.resolution_on_time, 'share')} | {_opt(g.completion, 'share')} | "
                     f"{_opt(g.first_response_min, 'min')} |")
    lines += ["", "## Reliability", "", _fleet_line(r), ""]
    if r.robots:
        lines += ["| Robot | Stoppages | Down | MTBF |", "|---|---:|---:|---:|"]
        lines += [f"| {m.robot} | {m.failures} | {m.down_h:.1f} h | {m.mtbf_h:.1f} h |"
                  for m in r.robots]
    lines += ["", "## Per day", "", "| Day | Opened | Resolved | Resolve clock ran out |",
              "|---|---:|---:|---:|"]
    lines += [f"| {d.day} | {d.opened} | {d.resolved} | {d.breached} |" for d in r.days]
    return "\n".join(lines) + "\n"


def to_csv(r: KpiReport) -> str:
    """One row per figure: section, name, key (grade, robot or day), value, unit, target,
    verdict, basis. Values are plain numbers (shares as fractions); no data is empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["period", "section", "name", "key", "value", "unit", "target", "verdict",
                "basis"])
    p = r.period.label

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:.6g}"

    for k in r.kpis:
        w.writerow([p, "kpi", k.name, "", num(k.value), k.unit,
                    "" if k.target is None else f"{k.target.direction} {k.target.value:g}",
                    _verdict(k) or ("no data" if k.value is None else ""),
                    "" if k.basis is None else k.basis])
    for g in r.grades:
        for name, value, unit in (("tickets", float(g.tickets), "count"),
                                  ("response_on_time", g.response_on_time, "share"),
                                  ("resolution_on_time", g.resolution_on_time, "share"),
                                  ("completion", g.completion, "share"),
                                  ("first_response_min", g.first_response_min, "min")):
            w.writerow([p, "grade", name, g.grade, num(value), unit, "", "", g.tickets])
    w.writerow([p, "fleet", "mtbf_h", "", num(r.fleet_mtbf_h), "h", "", "", r.fleet_robots])
    for m in r.robots:
        w.writerow([p, "robot", "mtbf_h", m.robot, num(m.mtbf_h), "h", "", "", m.failures])
    for d in r.days:
        for name, n in (("opened", d.opened), ("resolved", d.resolved),
                        ("breached", d.breached)):
            w.writerow([p, "day", name, d.day.isoformat(), n, "count", "", "", ""])
    return buf.getvalue()


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:right;white-space:nowrap}
td.note{white-space:normal}
th:first-child,td:first-child,td.note{text-align:left}
.met{color:#1a7f37;font-weight:600} .missed{color:#c62828;font-weight:600}
.nodata{color:#888;font-style:italic}
.chart{width:100%;height:auto;margin:.5em 0 1.5em}
.chart .t{font-weight:600;font-size:13px} .chart .a{font-size:10px;fill:#555}
.chart .g{stroke:#eee}
"""


def _cell(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"


def _table(head: list[str], rows: list[str]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def to_html(r: KpiReport) -> str:
    kpi_rows = []
    for k in r.kpis:
        value = _cell(k.shown(), "nodata" if k.value is None else "")
        kpi_rows.append(f"<tr>{_cell(k.title)}{value}{_cell(k.target_shown())}"
                        f"{_cell(_verdict(k), _verdict(k))}"
                        f"{_cell('' if k.basis is None else str(k.basis))}"
                        f"{_cell(k.note, 'note')}</tr>")
    grade_rows = [f"<tr>{_cell(g.grade)}{_cell(str(g.tickets))}"
                  f"{_cell(_opt(g.response_on_time, 'share'))}"
                  f"{_cell(_opt(g.resolution_on_time, 'share'))}"
                  f"{_cell(_opt(g.completion, 'share'))}"
                  f"{_cell(_opt(g.first_response_min, 'min'))}</tr>" for g in r.grades]
    robot_rows = [f"<tr>{_cell(m.robot)}{_cell(str(m.failures))}{_cell(f'{m.down_h:.1f} h')}"
                  f"{_cell(f'{m.mtbf_h:.1f} h')}</tr>" for m in r.robots]
    days = bar_chart(
        title="Tickets per day", labels=[f"{d.day:%m-%d}" for d in r.days],
        series=[Series(name="opened", color="#4e79a7", values=[d.opened for d in r.days]),
                Series(name="resolved", color="#59a14f", values=[d.resolved for d in r.days]),
                Series(name="resolve clock ran out", color="#e15759",
                       values=[d.breached for d in r.days])])
    grades = bar_chart(
        title="On time per grade", labels=[f"grade {g.grade}" for g in r.grades], percent=True,
        y_max=1.0,
        series=[Series(name="response", color="#4e79a7",
                       values=[g.response_on_time for g in r.grades]),
                Series(name="resolution", color="#f28e2b",
                       values=[g.resolution_on_time for g in r.grades])])
    body = [
        f"<h1>{escape(_title(r))}</h1>", f'<p class="sub">{escape(_subtitle(r))}</p>',
        "<h2>KPIs</h2>",
        _table(["KPI", "Value", "Target", "", "Over", "Note"], kpi_rows),
        days, "<h2>Per grade</h2>", grades,
        _table(["Grade", "Tickets", "Response on time", "Resolution on time", "Completion",
                "First response"], grade_rows),
        "<h2>Reliability</h2>", f"<p>{escape(_fleet_line(r))}</p>",
        _table(["Robot", "Stoppages", "Down", "MTBF"], robot_rows) if robot_rows else "",
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(_title(r))}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


_RENDERERS: dict[Format, Callable[[KpiReport], str]] = {
    "md": to_markdown, "csv": to_csv, "html": to_html}


def render(report: KpiReport, fmt: Format) -> str:
    return _RENDERERS[fmt](report)
