// KPI dashboard: the service KPIs of the current week, month or quarter beside their policy
// targets, the on-time rates per grade, and the trend over the last periods as charts
// (GET /console/kpis, the figures of reports/kpis.py); filters by customer, site and
// engineer; the period's CSV from GET /reports/{kind}/{period}?format=csv. The choices live
// in the URL (#/kpi?kind=weekly&customer=...), so a view can be bookmarked on a wall screen.
import { API, call, names, viewer } from "./api.js";
import { fmtTime, t, tn } from "./i18n.js";
import { chartsAvailable, drawTrend, missingBuild } from "./chart.js";
import { GRADES, el, link } from "./ui.js";

const KINDS = ["weekly", "monthly", "quarterly"];
const FILTERS = ["customer", "site", "engineer"];
const PERIODS = 6;
const ORDER = ["response_on_time", "resolution_on_time", "completion", "first_response_min",
               "mttr_h", "first_time_fix", "recurrence", "work_order_accuracy",
               "archive_completeness", "satisfaction", "satisfied_share", "complaint_rate"];
const GRADE_COLUMNS = ["response_on_time", "resolution_on_time", "completion", "first_response_min"];

function digits(v, n) {
  return v.toLocaleString(document.documentElement.lang, { minimumFractionDigits: n, maximumFractionDigits: n });
}

// A figure in its unit, in the viewer's language; null is "no data", never zero.
export function fmtKpi(value, unit) {
  if (value === null || value === undefined) return t("kpi.no_data");
  if (unit === "share") return t("kpi.unit.share", { v: digits(100 * value, 1) });
  if (unit === "min") return t("kpi.unit.min", { v: digits(value, 1) });
  if (unit === "h") return t("kpi.unit.h", { v: digits(value, 1) });
  return t("kpi.unit.score", { v: digits(value, 2) });
}

function axisFmt(unit) {
  return (v) => (unit === "share" ? `${Math.round(100 * v)}%`
    : digits(v, unit === "score" || !Number.isInteger(v) ? 1 : 0));
}

function tile(k) {
  const verdict = k.met === null ? "none" : k.met ? "met" : "missed";
  const box = el("div", `kpi-tile kpi-${verdict}`);
  box.dataset.kpi = k.name;
  box.append(el("div", "kpi-name", t(`kpi.name.${k.name}`)),
             el("div", "kpi-value", fmtKpi(k.value, k.unit)));
  const foot = el("div", "kpi-foot");
  if (k.target !== null) {
    foot.append(el("span", null, t("kpi.target", { op: k.direction === "min" ? "≥" : "≤",
                                                    v: fmtKpi(k.target, k.unit) })));
  }
  if (k.met !== null) foot.append(el("span", `verdict ${verdict}`, t(`kpi.${verdict}`)));
  if (k.basis !== null) foot.append(el("span", "basis", tn("kpi.basis", k.basis)));
  box.append(foot);
  return box;
}

function mtbfTile(p) {
  const box = el("div", "kpi-tile kpi-none");
  box.dataset.kpi = "fleet_mtbf_h";
  box.append(el("div", "kpi-name", t("kpi.name.fleet_mtbf_h")),
             el("div", "kpi-value", fmtKpi(p.fleet_mtbf_h, "h")));
  const foot = el("div", "kpi-foot");
  foot.append(el("span", "basis", tn("kpi.failures", p.fleet_failures)));
  box.append(foot);
  return box;
}

function gradeTable(p) {
  const table = el("table", "robots kpi-grades");
  const head = el("tr");
  head.append(el("th", null, t("field.grade")), el("th", "num", t("kpi.tickets")),
              ...GRADE_COLUMNS.map((c) => el("th", "num", t(`kpi.name.${c}`))));
  table.append(head);
  const byGrade = new Map(p.grades.map((g) => [g.grade, g]));
  for (const grade of GRADES) {
    const g = byGrade.get(grade) || { tickets: 0 };
    const tr = el("tr");
    tr.dataset.grade = grade;
    const badge = el("td");
    badge.append(el("span", `grade grade-${grade}`, t("grade.label", { g: grade })));
    tr.append(badge, el("td", "num", String(g.tickets)),
              ...GRADE_COLUMNS.map((c) => el("td", "num",
                fmtKpi(g[c] ?? null, c === "first_response_min" ? "min" : "share"))));
    table.append(tr);
  }
  return table;
}

// The trend charts: what each draws from the periods, and its target line where one exists.
function charts(periods) {
  const value = (name) => periods.map((p) => p.kpis.find((k) => k.name === name)?.value ?? null);
  const target = (name) => {
    const k = periods.at(-1).kpis.find((x) => x.name === name);
    return k && k.target !== null ? [{ label: t("kpi.target_line"), values: periods.map(() => k.target), target: true }] : [];
  };
  const named = (name) => ({ label: t(`kpi.name.${name}`), values: value(name) });
  return [
    { key: "on_time", unit: "share", series: [named("response_on_time"), named("resolution_on_time"),
                                              ...target("resolution_on_time")] },
    { key: "by_grade", unit: "share", series: GRADES.map((g) => ({
      label: t("grade.label", { g }),
      values: periods.map((p) => p.grades.find((x) => x.grade === g)?.resolution_on_time ?? null) })) },
    { key: "mttr", unit: "h", series: [named("mttr_h"), ...target("mttr_h")] },
    { key: "quality", unit: "share", series: [named("first_time_fix"), named("recurrence"),
                                              named("archive_completeness"), ...target("first_time_fix")] },
    { key: "satisfaction", unit: "score", series: [named("satisfaction"), ...target("satisfaction")] },
    { key: "mtbf", unit: "h", series: [{ label: t("kpi.name.fleet_mtbf_h"), values: periods.map((p) => p.fleet_mtbf_h) }] },
  ];
}

function filterSelect(name, entries, chosen, onChange) {
  const sel = el("select", "filter");
  sel.name = name;
  sel.setAttribute("aria-label", t(`board.filter.${name}`));
  const all = el("option", null, t(`board.filter.${name}`));
  all.value = "";
  sel.append(all);
  for (const [value, label] of [...entries].sort((a, b) => a[1].localeCompare(b[1]))) {
    const o = el("option", null, label);
    o.value = value;
    sel.append(o);
  }
  sel.value = chosen;
  sel.addEventListener("change", () => onChange(sel.value));
  return sel;
}

export async function kpiPage(view, params) {
  if (!viewer.read.includes("reports")) {
    view.replaceChildren(el("p", "empty", t("kpi.not_allowed")));
    return {};
  }
  const kind = KINDS.includes(params.get("kind")) ? params.get("kind") : "monthly";
  const chosen = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""]));
  const go = (changes) => {
    const next = new URLSearchParams({ kind, ...chosen, ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/kpi?${next}`;
  };

  const bar = el("div", "toolbar");
  const kinds = el("div", "kinds");
  for (const k of KINDS) {
    const b = el("button", `range${k === kind ? " on" : ""}`, t(`kpi.kind.${k}`));
    b.type = "button";
    b.dataset.kind = k;
    b.addEventListener("click", () => go({ kind: k }));
    kinds.append(b);
  }
  const sites = [...names.sites].filter(([key]) => !chosen.customer || key.startsWith(`${chosen.customer}/`))
    .map(([key, label]) => [key.split("/")[1], label]);
  bar.append(el("h2", null, t("kpi.title")), kinds,
             filterSelect("customer", names.customers, chosen.customer, (v) => go({ customer: v, site: "" })),
             filterSelect("site", sites, chosen.site, (v) => go({ site: v })),
             filterSelect("engineer", names.engineers, chosen.engineer, (v) => go({ engineer: v })));
  const query = new URLSearchParams({ kind, count: String(PERIODS) });
  for (const f of FILTERS) if (chosen[f]) query.set(f, chosen[f]);
  const data = await call(`console/kpis?${query}`);
  const current = data.periods.at(-1);

  const csvQuery = new URLSearchParams({ format: "csv" });
  for (const f of FILTERS) if (chosen[f]) csvQuery.set(f, chosen[f]);
  const csv = link(`${API}/reports/${kind}/${current.period}?${csvQuery}`, "csv", t("kpi.csv"));
  csv.setAttribute("download", `report-${current.period}.csv`);
  bar.append(el("span", "counts", t("kpi.period", { p: current.period, at: fmtTime(current.as_of) })), csv);

  const tiles = el("div", "kpi-tiles");
  tiles.id = "kpis";
  const byName = new Map(current.kpis.map((k) => [k.name, k]));
  tiles.append(...ORDER.filter((n) => byName.has(n)).map((n) => tile(byName.get(n))), mtbfTile(current));

  const grades = el("section", "panel");
  grades.append(el("h3", null, t("kpi.grades", { p: current.period })), gradeTable(current));

  const trend = el("div", "kpi-charts");
  trend.id = "kpi-trend";
  view.replaceChildren(bar, tiles, grades, trend);
  // Six week labels side by side do not fit a chart's width with their year ("W49" does).
  const labels = data.periods.map((p) => (kind === "weekly" ? p.period.split("-")[1] : p.period));
  for (const c of charts(data.periods)) {
    const box = el("div", "panel chart kpi-chart");
    box.dataset.chart = c.key;
    trend.append(box);
    if (!chartsAvailable()) { missingBuild(box); continue; }
    drawTrend(box, { title: t(`kpi.chart.${c.key}`), labels, series: c.series, fmt: axisFmt(c.unit),
                     width: Math.max(box.clientWidth - 30, 280),
                     yRange: c.unit === "share" ? [0, 1.05] : c.unit === "score" ? [0, 5] : null });
  }
  return {};
}
