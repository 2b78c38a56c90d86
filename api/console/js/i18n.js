// Message catalogues (i18n/<lang>.json, the same keys in each: tests/api/test_console_i18n.py)
// and the formatting of times in the viewer's own time zone. The chosen language is kept in
// localStorage; a first visit follows the browser (Chinese browsers get Chinese).
export const LANGS = ["zh-CN", "en"];
const KEY = "robowatch.lang";
let lang = "en";
let messages = {};

export function currentLang() { return lang; }

function initialLang() {
  const saved = localStorage.getItem(KEY);
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export async function loadLang(wanted) {
  const next = wanted || initialLang();
  const resp = await fetch(`/console/i18n/${next}.json`, { headers: { Accept: "application/json" } });
  if (!resp.ok) throw new Error(`catalogue ${next}: HTTP ${resp.status}`);
  messages = await resp.json();
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
  applyStatic(document);
}

// t("board.title"), t("sla.left", {d: "3m"}): a missing key shows itself, loudly, as [key].
export function t(key, vars) {
  let text = messages[key];
  if (text === undefined) { console.warn("missing message", key); return `[${key}]`; }
  if (vars) for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

// A counted message: tn("wall.alerts", 3) picks "wall.alerts.<category>" by the language's
// plural rules (CLDR through Intl.PluralRules: English one/other, Chinese other only) and
// fills {n} with the count, written the language's way.
export function tn(key, n, vars) {
  const category = new Intl.PluralRules(lang).select(n);
  const wanted = `${key}.${category}`;
  const chosen = messages[wanted] === undefined ? `${key}.other` : wanted;
  return t(chosen, { ...vars, n: n.toLocaleString(lang) });
}

// A code from the API's vocabulary (state, event, kind, impact) as words; the code itself
// when the catalogue has none (a detector's new kind still shows).
export function term(group, code) {
  const text = messages[`${group}.${code}`];
  return text === undefined ? code : text;
}

export function applyStatic(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

// The browser's time zone: the viewer's, which is what "local time" means to them.
export function fmtTime(value, withDate = true) {
  const d = value instanceof Date ? value : new Date(value);
  const opts = withDate
    ? { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false }
    : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  return d.toLocaleString(lang, opts);
}

export function fmtDate(value) {
  return new Date(value).toLocaleDateString(lang, { year: "numeric", month: "2-digit", day: "2-digit" });
}

export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d > 0) return t("dur.dh", { d, h });
  if (h > 0) return t("dur.hm", { h, m });
  if (m === 0) return t("dur.s", { s: sec });
  return t("dur.ms", { m, s: sec });
}
