// The console's shell: sign-in check, language switch, navigation between pages by the URL
// hash (#/wall, #/board, #/ticket/12, #/robot/R-0001, #/fleet, #/calendar, #/kpi) and the
// live stream every page listens to.
import { API, LOGIN_PAGE, call, connectStream, loadNames, serverNow, viewer } from "./api.js";
import { currentLang, loadLang, t } from "./i18n.js";
import { boardPage } from "./board.js";
import { calendarPage } from "./calendar.js";
import { fleetPage } from "./fleet.js";
import { kpiPage } from "./kpi.js";
import { robotPage } from "./robot.js";
import { ticketPage } from "./ticket.js";
import { el, settings } from "./ui.js";
import { wallPage } from "./wall.js";

const ROUTES = {
  wall: wallPage, board: boardPage, fleet: fleetPage, ticket: ticketPage, robot: robotPage,
  calendar: calendarPage, kpi: kpiPage,
};
let current = null;
let me = null;
let navigation = 0;

// Each navigation draws into its own box inside #view. A page still loading when the next
// navigation starts (a language switch, then a click) finishes into its detached box and is
// left at once, instead of drawing over the page the viewer went to.
async function route() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "wall").split("?");
  const [name, arg] = path.split("/");
  const page = ROUTES[name] || ROUTES.wall;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.page === name);
  if (current && current.leave) current.leave();
  current = null;
  const mine = ++navigation;
  const view = document.getElementById("view");
  view.dataset.page = name;
  delete view.dataset.ready;
  const box = el("div", "page");
  box.append(el("p", "loading", t("app.loading")));
  view.replaceChildren(box);
  let shown = null;
  try {
    shown = await page(box, new URLSearchParams(query || ""), arg && decodeURIComponent(arg));
  } catch (err) {
    console.error(err);
    box.replaceChildren(el("p", "error", t("app.error", { e: err.message })));
  }
  if (mine !== navigation) {
    if (shown && shown.leave) shown.leave();
    return;
  }
  current = shown;
  view.dataset.ready = "1";
}

function setLink(state) {
  const node = document.getElementById("link");
  node.className = `link ${state}`;
  node.textContent = t(`link.${state}`);
}

async function switchLang(lang) {
  await loadLang(lang);
  setLink(document.getElementById("link").className.split(" ")[1] || "connecting");
  showWho();
  await route();
}

function showWho() {
  if (me) document.getElementById("who").textContent = `${me.name} · ${t(`role.${me.role}`)}`;
  const sw = document.getElementById("lang");
  sw.textContent = currentLang() === "en" ? "中文" : "English";
  sw.dataset.lang = currentLang() === "en" ? "zh-CN" : "en";
}

async function main() {
  await loadLang();
  const resp = await fetch(`${API}/auth/me`, { headers: { Accept: "application/json" } });
  if (resp.status === 401) { location.assign(LOGIN_PAGE); return; }
  me = await resp.json();
  Object.assign(viewer, me);
  document.body.dataset.role = me.role;
  Object.assign(settings, await call("console/settings"));
  await loadNames(me);
  showWho();
  document.getElementById("lang").addEventListener("click", (e) => switchLang(e.target.dataset.lang));
  document.getElementById("signout").addEventListener("click", async () => {
    await fetch(`${API}/auth/logout`, { method: "POST" });
    location.assign(LOGIN_PAGE);
  });
  if (!me.read.includes("tickets")) document.querySelector('nav a[data-page="board"]').hidden = true;
  if (!me.read.includes("reports")) document.querySelector('nav a[data-page="kpi"]').hidden = true;
  if (!me.read.includes("maintenance")) document.querySelector('nav a[data-page="calendar"]').hidden = true;
  window.addEventListener("hashchange", () => route());
  setLink("connecting");
  connectStream(setLink);
  const tick = () => {
    document.getElementById("clock").textContent =
      new Date(serverNow()).toLocaleTimeString(currentLang(), { hour12: false });
  };
  tick();
  setInterval(tick, 1000);
  await route();
}

document.addEventListener("DOMContentLoaded", () => { main().catch((err) => console.error(err)); });
