// Maintenance calendar: open inspections (GET /maintenance/inspections?open=true) by the day
// they are due, in the viewer's time zone, with their window, engineer and why they are due
// (calendar, usage, or a condition that moved them earlier).
import { call, customerName, engineerName, viewer } from "./api.js";
import { currentLang, fmtDate, fmtTime, t, term, tn } from "./i18n.js";
import { el, link } from "./ui.js";

export function inspectionItem(x) {
  const li = el("li", `inspection m-${x.state}`);
  li.dataset.id = x.id;
  const head = el("div", "card-head");
  head.append(el("strong", null, term("plan", x.plan)), el("span", "state", term("mstate", x.state)));
  const where = el("div", "where");
  where.append(link(`#/robot/${encodeURIComponent(x.robot)}`, "code", x.robot), ` · ${customerName(x.customer)}`);
  li.append(head, where,
            el("div", "muted", `${t("maint.due", { at: fmtTime(x.due_at) })} · ${term("trigger", x.trigger)}` +
               (x.engineer ? ` · ${engineerName(x.engineer)}` : "")));
  if (x.window_start) {
    li.append(el("div", "muted", t("maint.window", { from: fmtTime(x.window_start), to: fmtTime(x.window_end) })));
  }
  return li;
}

// A planner reads days by their weekday as much as by their date.
function fmtDay(value) {
  return `${fmtDate(value)} ${new Date(value).toLocaleDateString(currentLang(), { weekday: "short" })}`;
}

export async function calendarPage(view) {
  if (!viewer.read.includes("maintenance")) {
    view.replaceChildren(el("p", "empty", t("calendar.not_allowed")));
    return {};
  }
  const data = await call("maintenance/inspections?open=true&limit=1000");
  const bar = el("div", "toolbar");
  bar.append(el("h2", null, t("nav.calendar")), el("span", "counts", tn("maint.count", data.count)));
  const days = new Map();
  for (const x of [...data.items].sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at))) {
    const day = fmtDay(x.due_at);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(x);
  }
  const agenda = el("div", "agenda");
  agenda.id = "calendar";
  for (const [day, items] of days) {
    const box = el("section", "panel");
    const ol = el("ol", "ticket-list");
    ol.append(...items.map(inspectionItem));
    box.append(el("h3", null, day), ol);
    agenda.append(box);
  }
  if (!days.size) agenda.append(el("p", "empty", t("calendar.coming")));
  view.replaceChildren(bar, agenda);
  return {};
}
