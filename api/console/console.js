// Live console: loads open tickets and recent anomalies over REST, then keeps them current
// from the WebSocket stream. Deadlines count down against the server's clock, not the
// wall screen's, which is often wrong.
"use strict";

const API = "/api/v1";
const STREAM_PATH = API + "/stream";
const LOGIN_PAGE = "/console/login.html";
const ANOMALY_ROWS = 25;
const SOON_S = 30 * 60; // a deadline this close is shown in orange

const tickets = new Map(); // id -> ticket JSON
let anomalies = []; // newest first
let clockOffsetMs = 0; // server time - local time
let retryMs = 1000;

const $ = (id) => document.getElementById(id);
const serverNow = () => Date.now() + clockOffsetMs;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// The session cookie goes with every request (same origin); without a live session the API
// answers 401 and the screen goes to the login form.
function toLogin() {
  location.assign(LOGIN_PAGE);
}

async function signedIn() {
  const resp = await fetch(`${API}/auth/me`, { headers: { Accept: "application/json" } });
  if (resp.ok) {
    const me = await resp.json();
    $("who").textContent = `${me.name} · ${me.role.replace("_", " ")}`;
  }
  return resp.status !== 401;
}

async function signOut() {
  await fetch(`${API}/auth/logout`, { method: "POST" });
  toLogin();
}

async function getJSON(path) {
  const resp = await fetch(path, { headers: { Accept: "application/json" } });
  if (resp.status === 401) { toLogin(); throw new Error("signed out"); }
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  const date = resp.headers.get("Date");
  if (date) clockOffsetMs = Date.parse(date) - Date.now();
  return resp.json();
}

async function reload() {
  const [open, recent] = await Promise.all([
    getJSON(`${API}/tickets?open=true&limit=1000`),
    getJSON(`${API}/anomalies?limit=${ANOMALY_ROWS}`),
  ]);
  tickets.clear();
  for (const t of open.items) tickets.set(t.id, t);
  anomalies = recent.items;
  renderTickets();
  renderAnomalies();
}

function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${h}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
  return `${m}m ${pad(sec)}s`;
}

function localTime(iso) {
  return new Date(iso).toLocaleString([], {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
  });
}

// One SLA cell: a running countdown, or how the clock stopped.
function paintSla(cell, deadlineIso, stoppedIso, label) {
  cell.replaceChildren();
  const deadline = Date.parse(deadlineIso);
  let cls, text;
  if (stoppedIso) {
    const late = Date.parse(stoppedIso) > deadline;
    cls = late ? "breached" : "done";
    text = late ? `${label} late` : `${label} ✓`;
  } else {
    const left = (deadline - serverNow()) / 1000;
    cls = left < 0 ? "overdue" : left < SOON_S ? "soon" : "ok";
    text = left < 0 ? `${duration(left)} overdue` : duration(left);
  }
  cell.className = `sla ${cls}`;
  cell.append(text, el("small", null, `by ${localTime(deadlineIso)}`));
}

function ticketRow(t, fresh) {
  const tr = el("tr", fresh ? "fresh" : "");
  tr.dataset.id = t.id;
  const grade = el("td");
  grade.append(el("span", `grade grade-${t.grade}`, t.grade));
  const what = el("td", null, t.number);
  what.append(el("span", "title", t.title));
  tr.append(grade, what, el("td", null, t.robot_id), el("td", null, t.customer_id),
            el("td", "state", t.state), el("td", null, t.assignee ?? "—"),
            el("td", "sla respond"), el("td", "sla resolve"));
  return tr;
}

function paintClocks(tr, t) {
  paintSla(tr.querySelector(".respond"), t.respond_by, t.responded_at, "responded");
  paintSla(tr.querySelector(".resolve"), t.resolve_by, t.resolved_at ?? t.closed_at, "resolved");
}

function renderTickets(freshId) {
  const sorted = [...tickets.values()].sort(
    (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
  const body = $("tickets");
  body.replaceChildren(...sorted.map((t) => ticketRow(t, t.id === freshId)));
  for (const tr of body.rows) paintClocks(tr, tickets.get(Number(tr.dataset.id)));
  $("no-tickets").hidden = sorted.length > 0;
  const overdue = sorted.filter((t) =>
    (!t.responded_at && Date.parse(t.respond_by) < serverNow()) ||
    (!(t.resolved_at ?? t.closed_at) && Date.parse(t.resolve_by) < serverNow())).length;
  $("counts").textContent = `${sorted.length} open · ${overdue} overdue`;
}

function renderAnomalies(freshId) {
  const list = $("anomalies");
  list.replaceChildren(...anomalies.map((a) => {
    const li = el("li", `${a.open ? "open" : "closed"}${a.id === freshId ? " fresh" : ""}`);
    li.append(el("div", "what", `${a.kind} · ${a.component}`),
              el("div", "where", `${a.robot_id} · ${a.customer_id} · ${a.impact}`),
              el("div", "when", `${localTime(a.started_at)}${a.open ? " · ongoing" : ""}` +
                 (a.ticket_id ? ` · ticket #${a.ticket_id}` : "")));
    return li;
  }));
  $("no-anomalies").hidden = anomalies.length > 0;
}

function onMessage(msg) {
  if (msg.type === "resync") { reload().catch(console.error); return; }
  if (msg.type === "ticket") {
    const t = msg.data;
    if (t.open) tickets.set(t.id, t); else tickets.delete(t.id);
    renderTickets(msg.op === "insert" ? t.id : undefined);
  } else if (msg.type === "anomaly") {
    const a = msg.data;
    anomalies = [a, ...anomalies.filter((x) => x.id !== a.id)]
      .sort((x, y) => Date.parse(y.started_at) - Date.parse(x.started_at) || y.id - x.id)
      .slice(0, ANOMALY_ROWS);
    renderAnomalies(msg.op === "insert" ? a.id : undefined);
  }
}

function setLink(state, text) {
  const link = $("link");
  link.className = `link ${state}`;
  link.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${STREAM_PATH}`);
  ws.onopen = () => {
    retryMs = 1000;
    setLink("live", "live");
    // Whatever changed while we were away is read again, then the stream keeps it current.
    reload().catch((err) => { console.error(err); setLink("down", "API error"); });
  };
  ws.onmessage = (ev) => {
    try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error("bad message", err); }
  };
  ws.onclose = async (ev) => {
    // 1008: the session ended. A refused handshake shows only as 1006, so ask the API.
    if (ev.code === 1008 || !(await signedIn().catch(() => true))) { toLogin(); return; }
    setLink("down", "reconnecting…");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
  };
}

function tick() {
  $("clock").textContent = new Date(serverNow()).toLocaleTimeString([], { hour12: false });
  for (const tr of $("tickets").rows) {
    const t = tickets.get(Number(tr.dataset.id));
    if (t) paintClocks(tr, t);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("signout").addEventListener("click", () => { signOut().catch(console.error); });
  signedIn().catch(console.error);
  connect();
  tick();
  setInterval(tick, 1000);
});
