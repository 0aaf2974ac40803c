"""Issue 11 point 3: a request a browser can send cross-site without a CORS preflight
(``text/plain``, a form) cannot start an answer: 415 JSON, as is a body with no type."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer

CHAT = json.dumps({"messages": [{"role": "user", "content": "[count:3]"}]})
CASES = {
    "text/plain": ({"Content-Type": "text/plain"}, CHAT.encode()),
    "text/plain;charset=UTF-8": ({"Content-Type": "text/plain;charset=UTF-8"}, CHAT.encode()),
    "form": (
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"messages=" + CHAT.encode(),
    ),
    "multipart": (
        {"Content-Type": "multipart/form-data; boundary=b"},
        b'--b\r\nContent-Disposition: form-data; name="messages"\r\n\r\n'
        + CHAT.encode()
        + b"\r\n--b--\r\n",
    ),
    "no content-type": ({}, CHAT.encode()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_non_json_bodies_get_415_json_and_no_upstream_call(
    app_server: RunningServer, upstream: FakeUpstream, case: str
) -> None:
    headers, body = CASES[case]
    calls = len(upstream.requests)
    response = httpx.post(
        app_server.url,
        content=body,
        headers={"Origin": "https://evil.example", **headers},
        timeout=20,
    )
    assert response.status_code == 415, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    error = response.json()["error"]
    assert error["type"] == "unsupported_media_type" and "application/json" in error["message"]
    assert len(upstream.requests) == calls  # nothing was asked of the model
