"""``/docs`` works on a plant network without internet: Swagger UI's files come from the
pinned wheel and are served by the app; the page names no external URL."""

from __future__ import annotations

import re

import httpx


def test_docs_and_their_assets_are_served_locally(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    # No asset from a CDN: every src/href is a path on this server.
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    assert not re.search(r"https?://", page.text), "external URL in /docs"
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text


def test_docs_need_a_caller(anonymous: httpx.Client) -> None:
    assert anonymous.get("/docs").status_code == 401
