// Login form: posts the OAuth 2.0 password form to the API, which sets the HttpOnly session
// cookie the console then sends with every request and with the stream's handshake. The
// token in the answer's body is not kept: scripts never hold the session.
"use strict";

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
    ? `Too many failed attempts. Try again in ${resp.headers.get("Retry-After")} s.`
    : problem.detail || `Sign-in failed (HTTP ${resp.status}).`;
  form.password.value = "";
  form.password.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", (ev) => {
    signIn(ev).catch((err) => {
      document.getElementById("error").textContent = `Sign-in failed: ${err.message}`;
    });
  });
});
