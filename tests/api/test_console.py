"""The console is static: the page, its modules wired to the stream, no external resources;
the build's tooling is not served."""

from __future__ import annotations

import re

import httpx


def test_console_page_loads_its_assets_and_listens_to_the_stream(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assets = re.findall(r'<(?:script|link)[^>]*\s(?:src|href)="([^"]+)"', html)
    assert "/console/js/app.js" in assets and "/console/console.css" in assets
    assert "/console/vendor/uPlot.iife.min.js" in assets
    # The wall screen has no internet: everything comes from this server.
    assert all(a.startswith("/") for a in assets), assets
    script = client.get("/console/js/api.js")
    assert script.status_code == 200
    assert 'API = "/api/v1"' in script.text and "${API}/stream" in script.text
    assert "new WebSocket(" in script.text
    assert client.get("/console/console.css").status_code == 200
    assert client.get("/console/missing.js").status_code == 404
    for hidden in ("package.json", "package-lock.json", "build.mjs",
                   "node_modules/uplot/package.json"):
        assert client.get(f"/console/{hidden}").status_code == 404, hidden
