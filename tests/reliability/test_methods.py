"""Issue 11 point 2 and 19.10: every method reaches the core, on every server: GET, PUT,
DELETE, TRACE and extension methods (WebDAV's PROPFIND) get its JSON 405 with ``Allow``
(never the framework's HTML, text or ``{"detail"}``)."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import RunningServer


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "TRACE", "PROPFIND"])
def test_other_methods_get_the_core_json_405_with_allow(
    request: pytest.FixtureRequest, app_server: RunningServer, method: str
) -> None:
    if app_server.spec.framework == "litestar" and method == "PROPFIND":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Litestar routes only its HttpMethod names: it answers an extension "
                "method with its own JSON 405 before any handler runs",
            )
        )
    body = b'{"messages": [{"role": "user", "content": "hi"}]}' if method == "PUT" else None
    headers = {"Content-Type": "application/json"} if body else {}
    response = httpx.request(method, app_server.url, content=body, headers=headers, timeout=20)
    assert response.status_code == 405, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    assert response.headers["allow"] == "POST, OPTIONS"
    error = response.json()["error"]
    assert error["type"] == "method_not_allowed"
    assert "POST" in error["message"]
