// The API as the pages use it: JSON over fetch with the session cookie, the server's clock
// (wall screens' clocks are often wrong), the names behind codes, and the live stream.
export const API = "/api/v1";
export const LOGIN_PAGE = "/console/login.html";
let clockOffsetMs = 0;

export const serverNow = () => Date.now() + clockOffsetMs;

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function call(path, { method = "GET", body, headers = {} } = {}) {
  const resp = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method,
    headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (resp.status === 401) { location.assign(LOGIN_PAGE); throw new ApiError(401, "signed out"); }
  const date = resp.headers.get("Date");
  if (date) clockOffsetMs = Date.parse(date) - Date.now();
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, data.detail || `HTTP ${resp.status}`);
  return data;
}

// The signed-in caller (GET /auth/me): name, role, what it may read and do.
export const viewer = { name: "", role: "", read: [], events: [], alerts: [] };

// Names for codes: customers, sites, lines from the fleet tree; engineers from /engineers.
export const names = { customers: new Map(), sites: new Map(), engineers: new Map(), robots: new Map() };

export async function loadNames(me) {
  const [tree, people] = await Promise.all([
    call("fleet/tree"),
    me.read.includes("tickets") ? call("engineers") : Promise.resolve({ items: [] }),
  ]);
  for (const c of tree.customers) {
    names.customers.set(c.code, c.name);
    for (const s of c.sites) {
      names.sites.set(`${c.code}/${s.code}`, s.name);
      for (const l of s.lines) {
        for (const r of l.robots) {
          names.robots.set(r.code, { ...r, customer: c.code, customer_name: c.name, site: s.code,
                                     site_name: s.name, line: l.code, line_name: l.name });
        }
      }
    }
  }
  for (const e of people.items) names.engineers.set(e.code, e.name);
  return tree;
}

export const engineerName = (code) => (code ? names.engineers.get(code) || code : null);
export const customerName = (code) => names.customers.get(code) || code;

// The WebSocket stream (api/routers/stream.py). Listeners get every message; on each
// (re)connection they get {type: "resync"} and re-read what they show.
const listeners = new Set();
let retryMs = 1000;

export function onStream(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function emit(msg) { for (const fn of listeners) { try { fn(msg); } catch (err) { console.error(err); } } }

export function connectStream(setLink) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${API}/stream`);
  ws.onopen = () => { retryMs = 1000; setLink("live"); emit({ type: "resync" }); };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (err) { console.error("bad message", err); return; }
    emit(msg);
  };
  ws.onclose = async (ev) => {
    // 1008: the session ended. A refused handshake shows only as 1006, so ask the API.
    const me = await fetch(`${API}/auth/me`).catch(() => null);
    if (ev.code === 1008 || (me && me.status === 401)) { location.assign(LOGIN_PAGE); return; }
    setLink("down");
    setTimeout(() => connectStream(setLink), retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
  };
}
