// Small DOM helpers and the pieces several pages draw the same way: grade badges, SLA clocks
// and the urgency order of tickets.
import { serverNow } from "./api.js";
import { duration, fmtTime, t, term } from "./i18n.js";

export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function link(href, cls, text) {
  const a = el("a", cls, text);
  a.href = href;
  return a;
}

// One "label: value" of a <dl>, grouped so the pairs wrap together.
export function pair(label, dd) {
  const div = el("div", "fact");
  div.append(el("dt", null, label), dd);
  return div;
}

// A ticket opened from an anomaly is titled by what was detected, in the viewer's language;
// one taken from a customer's report keeps the words it was reported in.
export function ticketTitle(x) {
  return x.anomaly_ids && x.anomaly_ids.length
    ? `${term("kind", x.kind)} · ${x.component} · ${term("impact", x.impact)}` : x.title;
}

export const GRADES = ["I", "II", "III", "IV"];

export function gradeBadge(grade) {
  return el("span", `grade grade-${grade}`, grade ? t("grade.label", { g: grade }) : "—");
}

// The policy's warning share of the allowed time (ticketing policy timers.warn_share), from
// /console/settings; set once at start.
export const settings = { warn_share: 0.8 };

// One clock's colour: green, amber past the warning share, red past due, grey while the
// ticket is paused; met clocks are done (green) or late (red); one never met on a ticket
// whose work is over (a plan not needed once resolved) is closed (grey), not counting down.
export function clockState(ticket, clock, nowMs = serverNow()) {
  const due = Date.parse(clock.due);
  if (clock.met_at) return Date.parse(clock.met_at) > due ? "late" : "done";
  if (DONE_STATES.has(ticket.state)) return "closed";
  if (ticket.paused) return "paused";
  if (due <= nowMs) return "overdue";
  const start = Date.parse(ticket.created_at);
  const share = (nowMs - start) / Math.max(due - start, 1);
  return share >= settings.warn_share ? "warning" : "ok";
}

const CLOCK_ORDER = ["respond_by", "onsite_by", "plan_by", "resolve_by"];

// Once the work is resolved no response, visit or plan is owed any more.
const DONE_STATES = new Set(["resolved", "signed_off", "archived", "cancelled", "merged"]);

export function openClocks(ticket) {
  if (DONE_STATES.has(ticket.state)) return [];
  return (ticket.clocks || []).filter((c) => !c.met_at && c.name !== "update")
    .sort((a, b) => CLOCK_ORDER.indexOf(a.name) - CLOCK_ORDER.indexOf(b.name));
}

// The clock that matters most now: the first overdue, else the one with least time left.
export function keyClock(ticket, nowMs = serverNow()) {
  const open = openClocks(ticket);
  if (!open.length) return null;
  return open.reduce((best, c) => (Date.parse(c.due) < Date.parse(best.due) ? c : best));
}

export function paintClock(node, ticket, clock) {
  node.replaceChildren();
  if (!clock) { node.className = "sla done"; node.textContent = t("sla.none"); return; }
  const state = clockState(ticket, clock);
  const left = (Date.parse(clock.due) - serverNow()) / 1000;
  node.className = `sla sla-${state}`;
  node.dataset.state = state;
  const label = term("clock", clock.name);
  let text;
  if (state === "done") text = t("sla.met", { clock: label });
  else if (state === "late") text = t("sla.met_late", { clock: label });
  else if (state === "paused") text = t("sla.paused", { clock: label });
  else if (state === "closed") text = t("sla.closed", { clock: label });
  else if (state === "overdue") text = t("sla.overdue", { clock: label, d: duration(left) });
  else text = t("sla.left", { clock: label, d: duration(left) });
  node.append(el("span", "sla-text", text), el("small", null, t("sla.by", { at: fmtTime(clock.due) })));
}

const GRADE_RANK = { I: 0, II: 1, III: 2, IV: 3 };

// Breached first, then least time left, then grade (I first), then oldest.
export function byUrgency(a, b, nowMs = serverNow()) {
  const ka = keyClock(a, nowMs), kb = keyClock(b, nowMs);
  const la = ka ? Date.parse(ka.due) - nowMs : Infinity;
  const lb = kb ? Date.parse(kb.due) - nowMs : Infinity;
  const ba = la < 0 ? 0 : 1, bb = lb < 0 ? 0 : 1;
  return ba - bb || la - lb || GRADE_RANK[a.grade] - GRADE_RANK[b.grade] ||
    Date.parse(a.created_at) - Date.parse(b.created_at);
}

export function message(node, key, cls = "empty") {
  node.replaceChildren(el("p", cls, t(key)));
}
