"""The RAIS v1 behaviour a framework's own test client can show: statuses, headers,
framing and validation, on every adapter (moved here from tests/conformance, which
keeps what needs real sockets: flushing, disconnects, heartbeats over time, CORS...)."""

from __future__ import annotations

import json

import pytest

from rais.check import stream_checks
from tests.fakes.upstreams import RETRY_AFTER_SECONDS, FakeUpstream
from tests.inprocess.clients import HELPER_PATH, Client, Response
from tests.inprocess.conftest import API_KEY
from tests.inprocess.helpers import ask, sent_with, unique

pytestmark = pytest.mark.timeout(60)


def assert_well_formed(received: Response) -> None:
    """One terminal event, last; ids 1..n; compact JSON; LF-only framing; no empty text.

    The framing and event rules are ``rais check``'s own (rais.check.stream_checks).
    """
    assert received.status == 200, received.body
    assert received.types, "no events"
    failures = [r for r in stream_checks(received.body) if not r.passed]
    assert not failures, failures
    assert received.ids == [str(i) for i in range(1, len(received.events) + 1)]


def assert_json_error(received: Response, status: int) -> dict[str, object]:
    assert received.status == status, received.body
    assert received.headers["content-type"].startswith("application/json")
    error = received.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    return dict(error)


async def test_headers(client: Client) -> None:
    received = await client.post(json=ask("[count:3]"))
    assert_well_formed(received)
    headers = received.headers
    assert headers["content-type"].split(";")[0] == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert "content-length" not in headers
    if not client.wsgi:  # WSGI apps may not send hop-by-hop headers; the server decides
        assert headers["connection"].lower() == "keep-alive"
    else:
        assert "connection" not in headers


async def test_stream_text_and_framing(client: Client, upstream: FakeUpstream) -> None:
    marker = unique("[count:25]")
    received = await client.post(json=ask(marker))
    assert_well_formed(received)
    assert received.types[-1] == "done"
    assert received.text == "".join(f"t{i} " for i in range(25))
    sent = sent_with(upstream, marker).json
    assert sent["stream"] is True
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"] == [{"role": "user", "content": marker}]


async def test_unicode_emoji_and_newlines_round_trip(client: Client) -> None:
    tokens = ["héllo", " 世界", " 👩‍💻🚀", "\\nline two", ' "quoted"', " back\\\\slash", " \\t tab"]
    received = await client.post(json=ask("[tokens:" + "|".join(tokens) + "]"))
    assert_well_formed(received)
    expected = "".join(tokens).replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
    assert received.text == expected


async def test_upstream_error_mid_stream_is_one_safe_error_event(client: Client) -> None:
    received = await client.post(json=ask("[fault:error_mid]"))
    assert_well_formed(received)
    assert received.types == ["text", "text", "error"]
    message = received.events[-1]["error"]
    assert message and API_KEY not in message and "Traceback" not in message
    assert API_KEY.encode() not in received.body


async def test_bad_key_before_streaming_is_http_502_without_the_key(client: Client) -> None:
    """The provider refused the server's own key: a bad gateway, never the page's 401."""
    received = await client.post(json=ask("[fault:401]"))
    assert_json_error(received, 502)
    assert API_KEY.encode() not in received.body


async def test_rate_limit_before_streaming_keeps_retry_after(client: Client) -> None:
    received = await client.post(json=ask("[fault:429]"))
    error = assert_json_error(received, 429)
    assert received.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert "rate" in str(error["message"]).lower()


BAD_INPUT = [
    pytest.param(b"{not json", "application/json", 400, id="bad-json"),
    pytest.param(b'{"messages": []}', "application/json", 422, id="empty-messages"),
    pytest.param(
        b'{"messages": [{"role": "robot", "content": "x"}]}', "application/json", 422, id="bad-role"
    ),
    pytest.param(
        b'{"messages": [{"role": "user", "content": 5}]}',
        "application/json",
        422,
        id="non-string-content",
    ),
    pytest.param(b"[1, 2]", "application/json", 422, id="not-object"),
    pytest.param(b"messages=hi", "application/x-www-form-urlencoded", 415, id="form"),
    pytest.param(b'{"messages": [{"role": "user", "content": "x"}]}', "text/plain", 415, id="text"),
    pytest.param(b'{"messages": [{"role": "user", "content": "x"}]}', None, 415, id="no-type"),
    pytest.param(json.dumps(ask("x" * 1_100_000)).encode(), "application/json", 413, id="too-big"),
]


@pytest.mark.parametrize(("content", "content_type", "status"), BAD_INPUT)
@pytest.mark.parametrize("view", ["one-liner", "rais_response"])
async def test_bad_input_gets_json_4xx_before_streaming(
    client: Client,
    upstream: FakeUpstream,
    view: str,
    content: bytes,
    content_type: str | None,
    status: int,
) -> None:
    before = len(upstream.requests)
    headers = {} if content_type is None else {"Content-Type": content_type}
    path = HELPER_PATH if view == "rais_response" else "/api/chat"
    received = await client.post(path, content=content, headers=headers)
    assert_json_error(received, status)
    assert len(upstream.requests) == before  # nothing was paid for


async def test_json_suffix_media_type_is_accepted(client: Client) -> None:
    received = await client.post(
        content=json.dumps(ask("[count:2]")).encode(),
        headers={"Content-Type": "application/vnd.chat+json; charset=utf-8"},
    )
    assert_well_formed(received)
    assert received.text == "t0 t1 "


@pytest.mark.parametrize("view", ["one-liner", "rais_response"])
async def test_get_is_405_json_with_allow(client: Client, view: str) -> None:
    received = await client.get(HELPER_PATH if view == "rais_response" else "/api/chat")
    error = assert_json_error(received, 405)
    assert error["type"] == "method_not_allowed"
    assert received.headers["allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("view", ["one-liner", "rais_response"])
async def test_options_is_204_with_allow(
    client: Client, view: str, request: pytest.FixtureRequest
) -> None:
    received = await client.options(HELPER_PATH if view == "rais_response" else "/api/chat")
    assert received.status == 204, received.body
    assert received.body == b""
    if client.name == "litestar" and view == "one-liner" and not _litestar_routes_options():
        # Older Litestar (2.3) answers OPTIONS itself: that is where it answers preflights.
        assert {"POST", "OPTIONS"} <= set(received.headers["allow"].split(", "))
    else:
        assert received.headers["allow"] == "POST, OPTIONS"


def _litestar_routes_options() -> bool:
    from rais.litestar import _METHODS

    return "OPTIONS" in _METHODS


@pytest.mark.parametrize("view", ["one-liner", "rais_response"])
async def test_last_event_id_without_resume_is_204(
    client: Client, upstream: FakeUpstream, view: str
) -> None:
    before = len(upstream.requests)
    path = HELPER_PATH if view == "rais_response" else "/api/chat"
    received = await client.post(path, json=ask("hello"), headers={"Last-Event-ID": "3"})
    assert received.status == 204, received.body
    assert received.body == b""
    assert "text/html" not in received.headers.get("content-type", "")  # no body, no type
    assert len(upstream.requests) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405_json_with_allow(client: Client, method: str) -> None:
    received = await client.request(method, "/api/chat", None, [])
    error = assert_json_error(received, 405)
    assert error["type"] == "method_not_allowed"
    assert received.headers["allow"] == "POST, OPTIONS"


async def test_head_is_405_with_allow(client: Client, request: pytest.FixtureRequest) -> None:
    # No body check: dropping a HEAD response's body is the server's job, and some test
    # clients (httpx's WSGI transport, Quart's) pass it on.
    received = await client.request("HEAD", "/api/chat", None, [])
    assert received.status == 405, received.body
    assert received.headers["allow"] == "POST, OPTIONS"
