// Fleet tree: customers -> sites -> lines -> robots, status per robot and counts per level,
// searchable by robot code, serial or customer (the API filters: GET /fleet/tree?q=).
import { call } from "./api.js";
import { fmtTime, t, term, tn } from "./i18n.js";
import { el, link } from "./ui.js";

const STATUSES = ["running", "alarm", "stopped", "no_data"];

function counts(c) {
  const span = el("span", "tree-counts");
  for (const s of STATUSES) {
    if (c[s]) span.append(el("span", `count status-${s}`, `${term("status", s)} ${c[s]}`));
  }
  return span;
}

function branch(cls, label, c, children, open = true) {
  const d = el("details", cls);
  d.open = open;
  const sum = el("summary");
  sum.append(label, counts(c));
  d.append(sum, ...children);
  return d;
}

export async function fleetPage(view, params) {
  const bar = el("div", "toolbar");
  const search = el("input", "search");
  search.type = "search";
  search.name = "q";
  search.placeholder = t("fleet.search");
  search.value = params.get("q") || "";
  const total = el("span", "counts");
  bar.append(el("h2", null, t("fleet.title")), search, total);
  const tree = el("div", "tree");
  tree.id = "fleet";
  view.replaceChildren(bar, tree);

  async function load() {
    const q = search.value.trim();
    const data = await call(`fleet/tree${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    total.replaceChildren(counts(data.counts));
    if (!data.customers.length) { tree.replaceChildren(el("p", "empty", t("fleet.none"))); return; }
    tree.replaceChildren(...data.customers.map((c) => branch("customer", el("strong", null, c.name), c.counts,
      c.sites.map((s) => branch("site", `${s.name}${s.city ? ` · ${s.city}` : ""}`, s.counts,
        s.lines.map((l) => branch("line", l.name, l.counts, [robotTable(l.robots)])))))));
  }

  let pending = null;
  search.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(() => load().catch(console.error), 250); });
  await load();
  const timer = setInterval(() => load().catch(console.error), 15000);
  return { leave: () => clearInterval(timer) };
}

function robotTable(robots) {
  const table = el("table", "robots");
  const head = el("tr");
  for (const k of ["fleet.robot", "fleet.status", "fleet.model", "fleet.serial", "fleet.last_seen", "fleet.open"]) {
    head.append(el("th", null, t(k)));
  }
  table.append(head);
  for (const r of robots) {
    const tr = el("tr");
    tr.dataset.robot = r.code;
    const code = el("td", "code");
    code.append(link(`#/robot/${encodeURIComponent(r.code)}`, null, r.code));
    if (r.warranty_expired) code.append(el("span", "flag", t("fleet.warranty_expired")));
    tr.append(code, el("td", null, ""), el("td", null, [r.brand, r.model].filter(Boolean).join(" ")),
              el("td", "code", r.serial || "—"), el("td", null, r.last_seen ? fmtTime(r.last_seen) : "—"),
              el("td", null, `${tn("fleet.alerts", r.open_anomalies)} · ${tn("fleet.tickets", r.open_tickets)}`));
    tr.children[1].append(el("span", `status status-${r.status}`, term("status", r.status)));
    table.append(tr);
  }
  return table;
}
