"""Upstream failures before the first token get a real HTTP status; secrets never leave."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.sse import Received, chat
from tests.fakes.upstreams import FakeUpstream
from tests.reliability.conftest import SECRET_KEY
from tests.servers import RunningServer


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http


def assert_json_error(received: Received, status: int) -> str:
    assert received.status == status, received.raw[:300]
    assert received.headers["content-type"].startswith("application/json")
    message = received.json()["error"]["message"]
    assert isinstance(message, str) and message
    assert SECRET_KEY not in message and "Traceback" not in message
    return message


def test_unknown_model_before_streaming_is_502(server: RunningServer, client: httpx.Client) -> None:
    # The server's own setting is wrong: a bad gateway, not the provider's 404.
    message = assert_json_error(chat(client, server.url, "[fault:bad_model]"), 502)
    assert "model" in message.lower()


def test_upstream_500_before_streaming_is_502(server: RunningServer, client: httpx.Client) -> None:
    # The provider's own failure is a bad gateway from this server's point of view.
    assert_json_error(chat(client, server.url, "[fault:500]"), 502)


def test_bad_key_is_502_and_rate_limit_keeps_its_status(
    server: RunningServer, client: httpx.Client
) -> None:
    # The provider refusing the server's key is no reason for the page to sign in again.
    assert_json_error(chat(client, server.url, "[fault:401]"), 502)
    limited = chat(client, server.url, "[fault:429]")
    assert_json_error(limited, 429)
    assert limited.headers["retry-after"] == "7"


def test_the_api_key_never_leaves_the_server(
    server: RunningServer, client: httpx.Client, upstream: FakeUpstream
) -> None:
    """Every answer (headers and body) and every log line, across failures and aborts."""
    key = SECRET_KEY.encode()
    exchanged: list[bytes] = []
    for content in (
        "[count:3]",
        "[fault:error_mid]",
        "[fault:401]",
        "[fault:429]",
        "[fault:500]",
        "[fault:bad_model]",
        f"echo this back: {SECRET_KEY}",  # the user pasting it is no excuse either
    ):
        received = chat(client, server.url, content)
        exchanged.append(json.dumps(dict(received.headers)).encode() + received.raw)
    before = upstream.cancelled
    with client.stream(
        "POST", server.url, json={"messages": [{"role": "user", "content": "[fault:hang]"}]}
    ) as response:
        exchanged.append(json.dumps(dict(response.headers)).encode())
    assert upstream.wait_cancelled(before + 1, timeout=20)
    for bad in (b"{", b'{"messages": 1}', b'{"messages": [{"role": "user"}]}'):
        response = client.post(server.url, content=bad, headers={"Content-Type": "text/plain"})
        exchanged.append(json.dumps(dict(response.headers)).encode() + response.content)

    assert upstream.requests[-1].api_key == SECRET_KEY  # it was really used upstream
    for answer in exchanged:
        assert key not in answer
    log = server.log()
    assert "rais stream failed" in log  # the failures were logged...
    leaked = [line for line in log.splitlines() if SECRET_KEY in line]
    assert not leaked, leaked[:3]  # ...without the key
