// Live alert wall: open anomalies and SLA warnings as cards, newest first, coloured by the
// grade of their ticket. New ones arrive over the stream without a reload; optional sound
// and desktop notification. Acknowledging an anomaly is shared: the server records who and
// when (POST /anomalies/{id}/acknowledge) and the row's update reaches every other wall over
// the stream. An SLA warning belongs to its ticket's clock, not to an anomaly: acknowledging
// it quietens this screen only (kept in localStorage); working the ticket ends it.
import { call, customerName, onStream, viewer } from "./api.js";
import { fmtTime, t, term, tn } from "./i18n.js";
import { clockState, el, gradeBadge, keyClock, link } from "./ui.js";

const ACK_KEY = "robowatch.acked";
const PREF_KEY = "robowatch.wall";
const MAX_CARDS = 60;

const acked = new Set(JSON.parse(localStorage.getItem(ACK_KEY) || "[]"));
const prefs = { sound: false, notify: false, ...JSON.parse(localStorage.getItem(PREF_KEY) || "{}") };
let audio = null;

function saveAcks() { localStorage.setItem(ACK_KEY, JSON.stringify([...acked].slice(-500))); }
function savePrefs() { localStorage.setItem(PREF_KEY, JSON.stringify(prefs)); }

function beep() {
  if (!prefs.sound) return;
  audio = audio || new AudioContext();
  const osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.15;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.25);
}

function notify(title, body) {
  if (prefs.notify && "Notification" in window && Notification.permission === "granted") {
    new Notification(title, { body, tag: title });
  }
}

export async function wallPage(view) {
  const tickets = new Map();
  const anomalies = new Map();
  const warnings = new Map(); // `${ticket}:${clock}` -> {ticket id, clock, event, at}
  const fresh = new Set();

  const bar = el("div", "toolbar");
  const soundBox = toggle("wall.sound", prefs.sound, (on) => { prefs.sound = on; savePrefs(); if (on) beep(); });
  const notifyBox = toggle("wall.notify", prefs.notify, async (on) => {
    if (on && "Notification" in window && Notification.permission !== "granted") {
      on = (await Notification.requestPermission()) === "granted";
    }
    prefs.notify = on; savePrefs();
  });
  const counts = el("span", "counts");
  bar.append(el("h2", null, t("wall.title")), counts, soundBox, notifyBox);
  const grid = el("div", "wall");
  grid.id = "wall";
  view.replaceChildren(bar, grid);

  function anomalyCard(a) {
    const ticket = a.ticket_id ? tickets.get(a.ticket_id) : null;
    const key = `a:${a.id}`;
    const card = el("article", `card alert ${ticket ? `g-${ticket.grade}` : `i-${a.impact}`}`);
    card.dataset.key = key;
    card.dataset.robot = a.robot_id;
    const head = el("div", "card-head");
    head.append(ticket ? gradeBadge(ticket.grade) : el("span", "impact", term("impact", a.impact)),
                el("span", "when", fmtTime(a.started_at)));
    const what = el("div", "what", `${term("kind", a.kind)} · ${a.component}`);
    const where = el("div", "where");
    where.append(link(`#/robot/${encodeURIComponent(a.robot_id)}`, "code", a.robot_id),
                 ` · ${customerName(a.customer_id)}`);
    card.append(head, what, where);
    if (ticket) card.append(link(`#/ticket/${ticket.id}`, "ticket-link code", ticket.number));
    if (a.acknowledged_at) {
      card.classList.add("acked");
      card.append(el("div", "acked-by", t("wall.acked_by", { who: a.acknowledged_by,
                                                             at: fmtTime(a.acknowledged_at, false) })));
    } else {
      card.classList.add("unacked");
      if (viewer.alerts.includes("acknowledge")) {
        card.append(ackButton(async (button) => {
          button.disabled = true;
          try {
            anomalies.set(a.id, await call(`anomalies/${a.id}/acknowledge`, { method: "POST" }));
          } catch (err) {
            console.error(err);
            button.disabled = false;
          }
          render();
        }));
      }
    }
    if (fresh.has(key)) card.classList.add("fresh");
    return card;
  }

  function warningCard(w) {
    const ticket = tickets.get(w.ticket);
    if (!ticket) return null;
    const key = `s:${w.ticket}:${w.clock}`;
    const card = el("article", `card sla-card g-${ticket.grade} ${w.event === "clock_breached" ? "breached" : "warned"}`);
    card.dataset.key = key;
    const head = el("div", "card-head");
    head.append(gradeBadge(ticket.grade), el("span", "when", fmtTime(w.at)));
    card.append(head,
      el("div", "what", t(w.event === "clock_breached" ? "wall.breached" : "wall.warning",
                          { clock: term("clock", w.clock) })),
      link(`#/ticket/${ticket.id}`, "ticket-link code", ticket.number),
      el("div", "where", `${ticket.robot_id} · ${customerName(ticket.customer_id)}`));
    if (acked.has(key)) card.classList.add("acked");
    else {
      card.classList.add("unacked");
      card.append(ackButton(() => { acked.add(key); saveAcks(); render(); }));
    }
    if (fresh.has(key)) card.classList.add("fresh");
    return card;
  }

  function render() {
    const items = [
      ...[...anomalies.values()].map((a) => ({ at: a.started_at, node: () => anomalyCard(a) })),
      ...[...warnings.values()].map((w) => ({ at: w.at, node: () => warningCard(w) })),
    ].sort((x, y) => Date.parse(y.at) - Date.parse(x.at)).slice(0, MAX_CARDS);
    const nodes = items.map((i) => i.node()).filter(Boolean);
    grid.replaceChildren(...nodes);
    if (!nodes.length) grid.append(el("p", "empty", t("wall.empty")));
    const open = nodes.filter((n) => n.classList.contains("unacked")).length;
    counts.textContent = `${tn("wall.alerts", nodes.length)} · ${tn("wall.unacked", open)}`;
  }

  // Open tickets already past their warning share or due show as warnings too, so a wall
  // started late still shows them.
  function warningsFromClocks() {
    for (const tk of tickets.values()) {
      const c = keyClock(tk);
      if (!c) continue;
      const state = clockState(tk, c);
      if (state === "warning" || state === "overdue") {
        const k = `${tk.id}:${c.name}`;
        if (!warnings.has(k)) {
          warnings.set(k, { ticket: tk.id, clock: c.name, at: tk.updated_at,
                            event: state === "overdue" ? "clock_breached" : "clock_warning" });
        }
      }
    }
  }

  async function reload() {
    const [open, list] = await Promise.all([
      call("tickets?open=true&limit=1000").catch(() => ({ items: [] })),
      call("anomalies?open=true&limit=100").catch(() => ({ items: [] })),
    ]);
    tickets.clear();
    for (const tk of open.items) tickets.set(tk.id, tk);
    anomalies.clear();
    for (const a of list.items) anomalies.set(a.id, a);
    warningsFromClocks();
    render();
  }

  const off = onStream((msg) => {
    if (msg.type === "resync") { reload().catch(console.error); return; }
    if (msg.type === "ticket") {
      tickets.set(msg.data.id, msg.data);
      render();
    } else if (msg.type === "anomaly") {
      const a = msg.data;
      if (a.open) anomalies.set(a.id, a); else anomalies.delete(a.id);
      if (msg.op === "insert") {
        fresh.add(`a:${a.id}`);
        beep();
        notify(t("wall.new_alert"), `${a.robot_id} · ${term("kind", a.kind)} · ${a.component}`);
      }
      render();
    } else if (msg.type === "ticket_event") {
      const e = msg.data;
      if (e.event === "clock_warning" || e.event === "clock_breached") {
        const clock = (e.data && e.data.clock) || "resolve_by";
        const k = `${e.ticket_id}:${clock}`;
        warnings.set(k, { ticket: e.ticket_id, clock, at: e.at, event: e.event });
        fresh.add(`s:${k}`);
        beep();
        notify(t(e.event === "clock_breached" ? "wall.breached" : "wall.warning",
                 { clock: term("clock", clock) }), `#${e.ticket_id}`);
        if (!tickets.has(e.ticket_id)) {
          call(`tickets/${e.ticket_id}`).then((tk) => { tickets.set(tk.id, tk); render(); })
            .catch(console.error);
        }
        render();
      }
    }
  });
  await reload();
  return { leave: off };
}

function ackButton(onClick) {
  const button = el("button", "ack", t("wall.ack"));
  button.type = "button";
  button.addEventListener("click", () => onClick(button));
  return button;
}

function toggle(key, on, change) {
  const label = el("label", "toggle");
  const box = el("input");
  box.type = "checkbox";
  box.checked = on;
  box.addEventListener("change", () => change(box.checked));
  label.append(box, el("span", null, t(key)));
  return label;
}
