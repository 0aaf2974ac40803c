"""The RAIS v1 behaviour that needs real servers and sockets, on every integration.

Flushing, response timeouts, heartbeats over time, disconnect -> cancel, CORS through
the real middleware stack and concurrency. Statuses, headers, framing and validation
are checked per framework in-process (tests/inprocess), with options passed per test.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from rais.check import stream_checks
from tests.conformance.sse import Received, ablocks, chat, read_stream
from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer

TERMINAL = {"done", "error"}

#: A bound for what takes a second on an idle machine.
DEADLINE = 20.0


def django_version() -> tuple[int, ...]:
    import django

    return tuple(django.VERSION[:2])


def assert_well_formed(received: Received) -> None:
    """One terminal event, last; ids 1..n; compact JSON; LF-only framing; no empty text.

    The framing and event rules are ``rais check``'s own (rais.check.stream_checks).
    """
    assert received.status == 200, received.raw
    assert received.types, "no events"
    failures = [r for r in stream_checks(received.raw) if not r.passed]
    assert not failures, failures
    assert received.ids == [str(i) for i in range(1, len(received.events) + 1)]


def test_tokens_are_flushed_as_they_arrive(server: RunningServer, client: httpx.Client) -> None:
    # An answer of 500 s: a server that buffers (all of it, or a few KB of 40-byte events)
    # sends no event before the deadline; one that flushes sends each within a second.
    body = {"messages": [{"role": "user", "content": "[count:1000][delay:0.5]"}]}
    deadline = time.monotonic() + DEADLINE
    with client.stream("POST", server.url, json=body) as response:
        received = Received(response.status_code, response.headers)
        decoder = SSEBlockDecoder()
        for chunk in response.iter_raw():  # heartbeats (every 0.25 s) keep this loop turning
            for block in decoder.feed(chunk):
                received.add(block)
            if len(received.events) >= 2 or time.monotonic() > deadline:
                break
    assert received.events == [{"type": "text", "text": "t0 "}, {"type": "text", "text": "t1 "}]
    # What the server adds counts here too: a Content-Length would mean a buffered body.
    assert received.headers["content-type"].split(";")[0] == "text/event-stream"
    assert "content-length" not in received.headers


def test_long_stream_is_not_cut_by_response_timeouts(
    server: RunningServer, client: httpx.Client
) -> None:
    # The servers run with QUART_RESPONSE_TIMEOUT=1: a 2.4 s answer must still complete.
    received = chat(client, server.url, "[count:8][delay:0.3]")
    assert_well_formed(received)
    assert received.types[-1] == "done"
    assert received.text == "".join(f"t{i} " for i in range(8))


def test_idle_stream_gets_heartbeat_comments(server: RunningServer, client: httpx.Client) -> None:
    received = chat(client, server.url, "[count:2][delay:1.2]")
    assert_well_formed(received)
    assert received.comments >= 2  # RAIS_HEARTBEAT=0.25 in the servers' environment


@pytest.mark.parametrize("fault", ["[count:1000][delay:0.05]", "[fault:hang]"])
def test_disconnect_cancels_upstream(
    server: RunningServer,
    client: httpx.Client,
    upstream: FakeUpstream,
    fault: str,
    request: pytest.FixtureRequest,
) -> None:
    if server.spec.id == "django-uvicorn" and django_version() < (5, 0):
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Django < 5.0 under ASGI never tells a streaming response that the "
                "client left (Django 5.0 listens for http.disconnect); use 5.0+ or WSGI",
            )
        )
    before = upstream.cancelled
    body = {"messages": [{"role": "user", "content": fault}]}
    with client.stream("POST", server.url, json=body) as response:
        assert response.status_code == 200
        if "count" in fault:
            received = Received(response.status_code, response.headers)
            read_stream(response, received, max_events=2)
            assert received.types == ["text", "text"]
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE), server.log()[-2000:]


def test_cors_preflight_from_another_origin(server: RunningServer, client: httpx.Client) -> None:
    response = client.options(
        server.url,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert 200 <= response.status_code < 300
    assert response.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    allowed = response.headers.get("access-control-allow-headers", "").lower()
    assert allowed == "*" or "content-type" in allowed
    simple = client.post(
        server.url,
        json={"messages": [{"role": "user", "content": "[count:1]"}]},
        headers={"Origin": "http://localhost:3000"},
    )
    assert simple.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")


def test_fifty_concurrent_streams_complete_intact(server: RunningServer) -> None:
    async def one(http: httpx.AsyncClient, n: int) -> tuple[int, str, list[str]]:
        tokens = [f"s{n}-{i} " for i in range(20)]
        body = {
            "messages": [
                {"role": "user", "content": "[tokens:" + "|".join(tokens) + "][delay:0.01]"}
            ]
        }
        events: list[dict[str, str]] = []
        async with http.stream("POST", server.url, json=body) as response:
            async for block in ablocks(response):
                events += [json.loads(data) for data in block.data]
        text = "".join(e["text"] for e in events if e["type"] == "text")
        return n, text, [e["type"] for e in events if e["type"] != "text"]

    async def main() -> list[tuple[int, str, list[str]]]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            return await asyncio.gather(*(one(http, n) for n in range(50)))

    for n, text, terminal in asyncio.run(main()):
        assert text == "".join(f"s{n}-{i} " for i in range(20))
        assert terminal == ["done"]
