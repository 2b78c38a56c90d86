// Ticket board: one column per state, cards in urgency order (breached, then least time
// left, then grade), live from the stream; filters by customer, grade, engineer and site.
import { call, customerName, engineerName, names, onStream } from "./api.js";
import { t, term, tn } from "./i18n.js";
import { GRADES, byUrgency, el, gradeBadge, keyClock, link, paintClock, ticketTitle } from "./ui.js";

const COLUMNS = ["new", "dispatched", "accepted", "travelling", "in_progress",
                 "waiting_customer", "resolved", "signed_off"];
const FILTERS = ["customer", "grade", "engineer", "site"];

function siteOf(ticket) {
  const r = names.robots.get(ticket.robot_id);
  return r ? `${r.customer}/${r.site}` : "";
}

export async function boardPage(view, params) {
  const tickets = new Map();
  const chosen = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""]));
  const bar = el("div", "toolbar");
  const selects = {};
  for (const f of FILTERS) {
    const sel = el("select", "filter");
    sel.name = f;
    sel.setAttribute("aria-label", t(`board.filter.${f}`));
    sel.addEventListener("change", () => { chosen[f] = sel.value; render(); });
    selects[f] = sel;
  }
  const counts = el("span", "counts");
  bar.append(el("h2", null, t("board.title")), ...FILTERS.map((f) => selects[f]), counts);
  const board = el("div", "board");
  board.id = "board";
  view.replaceChildren(bar, board);

  function options(f, entries) {
    const sel = selects[f];
    const keep = chosen[f];
    sel.replaceChildren(el("option", null, t(`board.filter.${f}`)));
    sel.firstChild.value = "";
    for (const [value, label] of entries) {
      const o = el("option", null, label);
      o.value = value;
      sel.append(o);
    }
    sel.value = keep;
  }

  function fillFilters() {
    const all = [...tickets.values()];
    const uniq = (xs) => [...new Map(xs.filter((x) => x[0])).entries()]
      .sort((a, b) => a[1].localeCompare(b[1]));
    options("customer", uniq(all.map((x) => [x.customer_id, customerName(x.customer_id)])));
    options("grade", GRADES.map((g) => [g, t("grade.label", { g })]));
    options("engineer", uniq(all.map((x) => [x.assignee, engineerName(x.assignee)])));
    options("site", uniq(all.map((x) => [siteOf(x), names.sites.get(siteOf(x)) || siteOf(x)])));
  }

  function visible(x) {
    return (!chosen.customer || x.customer_id === chosen.customer) &&
      (!chosen.grade || x.grade === chosen.grade) &&
      (!chosen.engineer || x.assignee === chosen.engineer) &&
      (!chosen.site || siteOf(x) === chosen.site);
  }

  function card(x) {
    const c = el("article", `card ticket g-${x.grade}`);
    c.dataset.id = x.id;
    const head = el("div", "card-head");
    head.append(gradeBadge(x.grade), link(`#/ticket/${x.id}`, "code number", x.number));
    const robot = el("div", "where");
    robot.append(link(`#/robot/${encodeURIComponent(x.robot_id)}`, "code", x.robot_id),
                 ` · ${customerName(x.customer_id)}`);
    const sla = el("div", "sla");
    sla.dataset.ticket = x.id;
    c.append(head, el("div", "what", ticketTitle(x)), robot,
             el("div", "who", x.assignee ? engineerName(x.assignee) : t("board.unassigned")), sla);
    paintClock(sla, x, keyClock(x));
    return c;
  }

  function render() {
    const shown = [...tickets.values()].filter(visible).sort((a, b) => byUrgency(a, b));
    board.replaceChildren(...COLUMNS.map((state) => {
      const mine = shown.filter((x) => x.state === state);
      const col = el("section", mine.length ? "column" : "column empty-col");
      col.dataset.state = state;
      const h = el("h3");
      h.append(el("span", null, term("state", state)), el("span", "n", String(mine.length)));
      col.append(h, ...mine.map(card));
      return col;
    }));
    const overdue = shown.filter((x) => { const k = keyClock(x); return k && Date.parse(k.due) < Date.now(); });
    counts.textContent = `${tn("board.open", shown.length)} · ${tn("board.overdue", overdue.length)}`;
  }

  async function reload() {
    const open = await call("tickets?open=true&limit=1000");
    tickets.clear();
    for (const x of open.items) tickets.set(x.id, x);
    fillFilters();
    render();
  }

  const off = onStream((msg) => {
    if (msg.type === "resync") reload().catch(console.error);
    else if (msg.type === "ticket") {
      if (msg.data.open) tickets.set(msg.data.id, msg.data); else tickets.delete(msg.data.id);
      render();
    }
  });
  const timer = setInterval(() => {
    for (const node of board.querySelectorAll(".sla[data-ticket]")) {
      const x = tickets.get(Number(node.dataset.ticket));
      if (x) paintClock(node, x, keyClock(x));
    }
  }, 1000);
  await reload();
  return { leave: () => { off(); clearInterval(timer); } };
}
