"""The console is static: the page, its script wired to the stream, no external resources."""

from __future__ import annotations

import re

import httpx


def test_console_page_loads_its_assets_and_listens_to_the_stream(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/console/console.js" in assets and "/console/console.css" in assets
    # The wall screen has no internet: everything comes from this server.
    assert all(a.startswith("/") for a in assets), assets
    script = client.get("/console/console.js")
    assert script.status_code == 200
    assert '"/api/v1"' in script.text and 'API + "/stream"' in script.text
    assert "new WebSocket(" in script.text
    assert client.get("/console/console.css").status_code == 200
    assert client.get("/console/missing.js").status_code == 404
