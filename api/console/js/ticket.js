// Ticket page: its clocks, its timeline, the anomaly's evidence chart, and one button for
// each event the API says this user may post now (GET /tickets/{id}/allowed-events: the
// lifecycle and the access policy). An event that needs details opens its form; resolve
// opens the handling report.
import { ApiError, call, customerName, engineerName, names, onStream, serverNow } from "./api.js";
import { fmtTime, t, term } from "./i18n.js";
import { chartsAvailable, drawChart, missingBuild, signalLabel } from "./chart.js";
import { GRADES, el, gradeBadge, link, openClocks, paintClock, pair, ticketTitle } from "./ui.js";

// What each event asks for (ticketing/lifecycle.py validators; api/schemas.py fields).
const FIELDS = {
  dispatch: ["assignee"], reassign: ["assignee", "reason"], refuse: ["reason"],
  wait_customer: ["reason"], cancel: ["reason"], extend_resolve: ["reason"],
  dispute: ["reason"], reopen: ["reason"], submit_plan: ["plan"], send_update: ["message"],
  regrade: ["grade", "reason"], merge: ["into"],
  resolve: ["report.process", "report.cause", "report.solution", "report.parts_used",
            "report.before_after"],
};
const TEXTAREAS = new Set(["reason", "plan", "message", "report.process", "report.cause",
                           "report.solution", "report.before_after"]);
const EVIDENCE_BEFORE_S = 900, EVIDENCE_AFTER_S = 300;

export async function ticketPage(view, params, id) {
  let ticket;
  try { ticket = await call(`tickets/${id}`); } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      view.replaceChildren(el("p", "not-found", t("ticket.not_found", { id })));
      return {};
    }
    throw err;
  }
  const head = el("section", "panel ticket-head");
  const clocks = el("div", "clocks");
  const actions = el("div", "actions");
  actions.id = "actions";
  const form = el("form", "event-form");
  form.hidden = true;
  const timeline = el("ol", "timeline");
  const evidence = el("div", "chart panel evidence");
  const layout = el("div", "ticket-layout");
  const left = el("div"), right = el("div");
  const tl = el("section", "panel");
  tl.append(el("h3", null, t("ticket.timeline")), timeline);
  left.append(actions, form, el("h3", null, t("ticket.evidence")), evidence);
  right.append(tl);
  layout.append(left, right);
  view.replaceChildren(head, layout);

  function renderHead() {
    head.replaceChildren();
    const h = el("h2");
    h.append(gradeBadge(ticket.grade), " ", el("span", "code", ticket.number), " ",
             el("span", `state state-${ticket.state}`, term("state", ticket.state)));
    const facts = el("dl", "facts");
    const fact = (k, v) => facts.append(pair(t(k), el("dd", null, v)));
    const robot = el("dd");
    robot.append(link(`#/robot/${encodeURIComponent(ticket.robot_id)}`, "code", ticket.robot_id));
    facts.append(pair(t("ticket.robot"), robot));
    fact("ticket.customer", customerName(ticket.customer_id));
    const r = names.robots.get(ticket.robot_id);
    if (r) fact("ticket.site", r.site_name);
    fact("ticket.assignee", ticket.assignee ? engineerName(ticket.assignee) : t("board.unassigned"));
    fact("ticket.kind", `${term("kind", ticket.kind)} · ${ticket.component}`);
    fact("ticket.impact", term("impact", ticket.impact));
    fact("ticket.created", fmtTime(ticket.created_at));
    head.append(h, el("p", "title", ticketTitle(ticket)), facts, clocks);
    paintClocks();
  }

  function paintClocks() {
    clocks.replaceChildren(...(ticket.clocks || []).filter((c) => c.name !== "update").map((c) => {
      const node = el("div", "sla");
      paintClock(node, ticket, c);
      return node;
    }));
    if (!openClocks(ticket).length && !ticket.clocks?.length) clocks.append(el("span", "muted", t("sla.none")));
  }

  function renderTimeline() {
    timeline.replaceChildren(...[...ticket.events].reverse().map((e) => {
      const li = el("li", `ev ev-${e.event}`);
      li.append(el("span", "when", fmtTime(e.at)), el("strong", null, term("event", e.event)),
                el("span", "muted", ` · ${engineerName(e.actor) || e.actor}`));
      if (e.from_state && e.to_state && e.from_state !== e.to_state) {
        li.append(el("div", "muted", `${term("state", e.from_state)} → ${term("state", e.to_state)}`));
      }
      const detail = e.data && (e.data.reason || e.data.message || e.data.plan ||
                                (e.data.report && e.data.report.solution));
      if (detail) li.append(el("div", "detail", detail));
      return li;
    }));
  }

  async function renderActions() {
    const allowed = await call(`tickets/${id}/allowed-events`);
    actions.replaceChildren();
    if (!allowed.events.length) actions.append(el("span", "muted", t("ticket.no_actions")));
    for (const ev of allowed.events) {
      const b = el("button", "action", term("event", ev));
      b.type = "button";
      b.dataset.event = ev;
      b.addEventListener("click", () => (FIELDS[ev] ? openForm(ev) : post(ev, {})));
      actions.append(b);
    }
  }

  function field(name) {
    const label = el("label", null, t(`field.${name}`));
    let input;
    if (name === "assignee") {
      input = el("select");
      for (const [code, who] of names.engineers) {
        const o = el("option", null, who);
        o.value = code;
        input.append(o);
      }
    } else if (name === "grade") {
      input = el("select");
      for (const g of GRADES) { const o = el("option", null, t("grade.label", { g })); o.value = g; input.append(o); }
    } else {
      input = el(TEXTAREAS.has(name) ? "textarea" : "input");
      if (name === "into") input.type = "number";
    }
    input.name = name;
    input.required = true;
    label.append(input);
    return label;
  }

  function openForm(ev) {
    form.replaceChildren(el("h3", null, term("event", ev)), ...FIELDS[ev].map(field));
    const submit = el("button", "primary", t("ticket.submit"));
    submit.type = "submit";
    const cancel = el("button", null, t("ticket.cancel_form"));
    cancel.type = "button";
    cancel.addEventListener("click", () => { form.hidden = true; });
    form.append(submit, cancel, el("p", "error"));
    form.dataset.event = ev;
    form.hidden = false;
    form.querySelector("input, textarea, select")?.focus();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const details = {};
    for (const input of form.querySelectorAll("[name]")) {
      let value = input.value.trim();
      if (input.name === "into") value = Number(value);
      if (input.name === "report.parts_used") value = value.split(/[,，;；\n]/).map((s) => s.trim()).filter(Boolean);
      if (input.name.startsWith("report.")) (details.report ||= {})[input.name.slice(7)] = value;
      else details[input.name] = value;
    }
    post(form.dataset.event, details).catch(console.error);
  });

  async function post(ev, details) {
    try {
      ticket = await call(`tickets/${id}/events`, { method: "POST",
        body: { event: ev, expected_version: ticket.version, ...details } });
      form.hidden = true;
      refresh();
    } catch (err) {
      const msg = err instanceof ApiError && err.status === 409 ? t("ticket.conflict") : err.message;
      if (!form.hidden) form.querySelector(".error").textContent = msg;
      else actions.append(el("p", "error", msg));
      if (err.status === 409) { ticket = await call(`tickets/${id}`); refresh(); }
    }
  }

  function refresh() {
    renderHead();
    renderTimeline();
    renderActions().catch(console.error);
  }

  async function renderEvidence() {
    const aid = ticket.anomaly_ids[0];
    if (!aid) { evidence.replaceChildren(el("p", "empty", t("ticket.no_anomaly"))); return; }
    if (!chartsAvailable()) { missingBuild(evidence); return; }
    const a = await call(`anomalies/${aid}`);
    const start = Date.parse(a.started_at) / 1000;
    const end = a.ended_at ? Date.parse(a.ended_at) / 1000 : serverNow() / 1000;
    const from = new Date((start - EVIDENCE_BEFORE_S) * 1000).toISOString();
    const to = new Date(Math.min(end + EVIDENCE_AFTER_S, serverNow() / 1000 + 1) * 1000).toISOString();
    const signals = a.signals.length ? a.signals.join(",") : `${a.component}.current`;
    const data = await call(`robots/${encodeURIComponent(a.robot_id)}/telemetry?signals=${signals}&from=${from}&to=${to}`);
    drawChart(evidence, data, { title: `${term("kind", a.kind)} · ${a.component}`, label: signalLabel,
      bands: [{ id: a.id, start, end: a.ended_at ? end : null, label: term("kind", a.kind) }] });
  }

  refresh();
  renderEvidence().catch((err) => evidence.replaceChildren(el("p", "error", err.message)));
  const off = onStream((msg) => {
    if ((msg.type === "ticket" && msg.data.id === ticket.id) ||
        (msg.type === "ticket_event" && msg.data.ticket_id === ticket.id)) {
      call(`tickets/${id}`).then((x) => { ticket = x; refresh(); }).catch(console.error);
    }
  });
  const timer = setInterval(paintClocks, 1000);
  return { leave: () => { off(); clearInterval(timer); } };
}
