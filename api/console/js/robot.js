// Robot page: where it stands, health index and remaining useful life when detection stored
// them, live charts per quantity (J1-J6 on each) with anomalies shaded, zoom from one minute
// to 90 days (the API downsamples), and the robot's tickets.
import { ApiError, call, customerName, names, serverNow } from "./api.js";
import { duration, fmtDate, fmtTime, t, term } from "./i18n.js";
import { inspectionItem } from "./calendar.js";
import { chartsAvailable, drawChart, missingBuild } from "./chart.js";
import { el, gradeBadge, link, pair, settings } from "./ui.js";

const QUANTITIES = ["current", "torque", "temperature", "vibration"];
const RANGES = [["1m", 60], ["10m", 600], ["1h", 3600], ["6h", 21600], ["1d", 86400],
                ["7d", 604800], ["30d", 2592000], ["90d", 7776000]];
// Units as stored (ASCII, from the collectors) and as a reader writes them.
const UNIT_SYMBOLS = { degC: "°C", "N.m": "N·m" };
const LIVE_REFRESH_MS = 5000;
const LIVE_MAX_S = 21600; // ranges up to 6 h follow "now"; longer ones change too slowly to poll

export async function robotPage(view, params, code) {
  let robot;
  try {
    robot = await call(`robots/${encodeURIComponent(code)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      view.replaceChildren(el("p", "not-found", t("robot.not_found", { code })));
      return {};
    }
    throw err;
  }
  const [anomalies, tickets] = await Promise.all([
    call(`anomalies?robot=${encodeURIComponent(code)}&limit=100`).catch(() => ({ items: [] })),
    call(`tickets?robot=${encodeURIComponent(code)}&limit=100`).catch(() => ({ items: [] })),
  ]);
  // The status now (the names loaded at start may be older than the last fault).
  const tree = await call(`fleet/tree?q=${encodeURIComponent(code)}`).catch(() => ({ customers: [] }));
  const fresh = tree.customers.flatMap((c) => c.sites.flatMap((s) => s.lines.flatMap((l) => l.robots)))
    .find((r) => r.code === code);
  const node = { ...(names.robots.get(code) || {}), ...(fresh || {}) };
  const head = el("section", "robot-head panel");
  const title = el("h2", "code", robot.code);
  const status = el("span", `status status-${node.status || "no_data"}`, term("status", node.status || "no_data"));
  title.append(" ", status);
  const facts = el("dl", "facts");
  const fact = (k, v) => { if (v) facts.append(pair(t(k), el("dd", null, v))); };
  fact("robot.customer", customerName(robot.customer));
  fact("robot.site", node.site_name || robot.site);
  fact("robot.line", node.line_name || robot.line);
  fact("robot.model", [robot.brand, robot.model].filter(Boolean).join(" "));
  fact("robot.serial", robot.serial);
  fact("robot.installed", robot.install_date && fmtDate(robot.install_date));
  head.append(title, facts);
  if (robot.warranty_end) {
    const expired = Date.parse(robot.warranty_end) < serverNow();
    head.append(el("p", expired ? "warranty expired" : "warranty",
                   t(expired ? "robot.warranty_expired" : "robot.warranty_until", { d: fmtDate(robot.warranty_end) })));
  }
  head.append(healthBlock(anomalies.items));

  const controls = el("div", "toolbar");
  let span = Number(params.get("span")) || 3600;
  let end = null; // null: now (live)
  const live = el("label", "toggle");
  const liveBox = el("input");
  liveBox.type = "checkbox";
  liveBox.checked = true;
  live.append(liveBox, el("span", null, t("robot.live")));
  for (const [name, seconds] of RANGES) {
    const b = el("button", "range", t(`range.${name}`));
    b.type = "button";
    b.dataset.span = seconds;
    b.addEventListener("click", () => { span = seconds; end = null; liveBox.checked = true; load(); });
    controls.append(b);
  }
  const bucket = el("span", "counts");
  controls.append(live, bucket);

  const charts = el("section", "charts");
  const boxes = Object.fromEntries(QUANTITIES.map((q) => {
    const box = el("div", "chart panel");
    box.dataset.quantity = q;
    charts.append(box);
    return [q, box];
  }));
  const side = el("section", "panel robot-tickets");
  side.append(el("h3", null, t("robot.tickets")), ticketList(tickets.items));
  const maint = el("section", "panel");
  maint.dataset.section = "maintenance";
  maint.append(el("h3", null, t("robot.maintenance")));
  const inspections = await call(`maintenance/inspections?robot=${encodeURIComponent(code)}&limit=20`)
    .catch(() => null);
  if (inspections && inspections.items.length) {
    const ol = el("ol", "ticket-list");
    ol.append(...inspections.items.map(inspectionItem));
    maint.append(ol);
  } else maint.append(el("p", "empty", t(inspections ? "robot.no_maintenance" : "robot.maintenance_soon")));
  const layout = el("div", "robot-layout");
  const main = el("div");
  main.append(controls, charts);
  const aside = el("div");
  aside.append(side, maint);
  layout.append(main, aside);
  view.replaceChildren(head, layout);

  const bands = (q) => anomalies.items
    .filter((a) => !a.signals.length || a.signals.some((s) => s.endsWith(`.${q}`)))
    .map((a) => ({ id: a.id, start: Date.parse(a.started_at) / 1000,
                   end: a.ended_at ? Date.parse(a.ended_at) / 1000 : null,
                   label: `${term("kind", a.kind)} · ${a.component}` }));

  async function load() {
    for (const b of controls.querySelectorAll(".range")) b.classList.toggle("on", Number(b.dataset.span) === span);
    if (!chartsAvailable()) { for (const q of QUANTITIES) missingBuild(boxes[q]); return; }
    const to = end ?? serverNow() / 1000;
    const from = to - span;
    const iso = (s) => new Date(s * 1000).toISOString();
    await Promise.all(QUANTITIES.map(async (q) => {
      const signals = [1, 2, 3, 4, 5, 6].map((j) => `J${j}.${q}`).join(",");
      const data = await call(`robots/${encodeURIComponent(code)}/telemetry?signals=${signals}` +
        `&from=${iso(from)}&to=${iso(to)}&max_points=${settings.max_points || 2000}`).catch((err) => {
        boxes[q].replaceChildren(el("p", "error", err.message));
        return null;
      });
      if (!data) return;
      const unit = data.series.find((s) => s.unit)?.unit;
      drawChart(boxes[q], data, {
        title: `${t(`quantity.${q}`)}${unit ? ` (${UNIT_SYMBOLS[unit] || unit})` : ""}`, bands: bands(q),
        label: (s) => s.split(".")[0],
        onZoom: (a, b) => { end = b; span = Math.max(b - a, 60); liveBox.checked = false; load(); },
      });
      bucket.textContent = data.bucket_s ? t("robot.bucket", { s: duration(data.bucket_s) }) : t("robot.raw");
    }));
  }
  await load();
  const timer = setInterval(() => {
    if (liveBox.checked && end === null && span <= LIVE_MAX_S && document.visibilityState === "visible") {
      load().catch(console.error);
    }
  }, LIVE_REFRESH_MS);
  return { leave: () => clearInterval(timer) };
}

function healthBlock(anomalies) {
  const withHealth = anomalies.filter((a) => a.evidence && a.evidence.health)
    .sort((a, b) => Date.parse(b.evidence.health.at) - Date.parse(a.evidence.health.at));
  const box = el("div", "health");
  if (!withHealth.length) { box.append(el("span", "muted", t("robot.no_health"))); return box; }
  const h = withHealth[0].evidence.health;
  box.append(el("span", "health-index", t("robot.health", { v: Number(h.health).toFixed(2) })));
  if (h.rul_s !== null && h.rul_s !== undefined) {
    const band = h.rul_low_s !== null && h.rul_high_s !== null
      ? t("robot.rul_band", { lo: duration(h.rul_low_s), hi: duration(h.rul_high_s) }) : "";
    box.append(el("span", "rul", `${t("robot.rul", { d: duration(h.rul_s) })} ${band}`));
  }
  box.append(el("span", "muted", fmtTime(h.at)));
  return box;
}

function ticketList(items) {
  if (!items.length) return el("p", "empty", t("robot.no_tickets"));
  const ol = el("ol", "ticket-list");
  for (const x of items) {
    const li = el("li");
    li.append(gradeBadge(x.grade), " ", link(`#/ticket/${x.id}`, "code", x.number),
              el("div", "muted", `${term("state", x.state)} · ${fmtTime(x.created_at)}`));
    ol.append(li);
  }
  return ol;
}
