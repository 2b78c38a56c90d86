// Login form: posts the OAuth 2.0 password form to the API, which sets the HttpOnly session
// cookie the console then sends with every request and with the stream's handshake. The
// token in the answer's body is not kept: scripts never hold the session.
import { currentLang, loadLang, t } from "./js/i18n.js";

const LOGIN = "/api/v1/auth/login";

async function signIn(ev) {
  ev.preventDefault();
  const form = ev.target;
  const error = document.getElementById("error");
  error.textContent = "";
  const resp = await fetch(LOGIN, {
    method: "POST",
    headers: { Accept: "application/json" },
    body: new URLSearchParams(new FormData(form)),
  });
  if (resp.ok) {
    location.assign("/");
    return;
  }
  const problem = await resp.json().catch(() => ({}));
  error.textContent = resp.status === 429
    ? t("login.too_many", { s: resp.headers.get("Retry-After") })
    : resp.status === 401 ? t("login.refused") : problem.detail || `HTTP ${resp.status}`;
  form.password.value = "";
  form.password.focus();
}

function showSwitch() {
  const sw = document.getElementById("lang");
  sw.textContent = currentLang() === "en" ? "中文" : "English";
  sw.dataset.lang = currentLang() === "en" ? "zh-CN" : "en";
}

async function main() {
  await loadLang();
  showSwitch();
  document.getElementById("lang").addEventListener("click", async (e) => {
    await loadLang(e.target.dataset.lang);
    showSwitch();
  });
  document.getElementById("login").addEventListener("submit", (ev) => {
    signIn(ev).catch((err) => {
      document.getElementById("error").textContent = `${t("login.failed")}: ${err.message}`;
    });
  });
}

main().catch(console.error);
