"""The console is static: the page, its modules wired to the stream, no external resources;
the build's tooling is not served."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from api.routers import console


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


def test_without_the_front_end_build_the_console_still_loads_and_says_how(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(console, "VENDOR_DIR", tmp_path / "vendor")
    monkeypatch.setattr(console, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="api.routers.console"):
        assert client.get("/").status_code == 200
        assert client.get("/").status_code == 200
    warnings = [r for r in caplog.records if "make console" in r.getMessage()]
    assert len(warnings) == 1  # once, not per page load
    # The pages tell the viewer the same where a chart would be.
    chart = client.get("/console/js/chart.js").text
    assert 'chartsAvailable()' in chart and '"make console"' in chart
