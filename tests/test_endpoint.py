"""Unit tests of ChatEndpoint.handle and sse_reply, driven directly with asyncio."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from rais import Limits, RaisError, UpstreamError, rais_event
from rais._endpoint import ChatEndpoint
from rais._reply import Reply
from rais._sse import FIRST_EVENT_WAIT, sse_reply

pytestmark = pytest.mark.timeout(30)

JSON = {"content-type": "application/json"}
HELLO = json.dumps({"messages": [{"role": "user", "content": "hello"}]}).encode()


def endpoint(handler: Any, **options: Any) -> ChatEndpoint:
    options.setdefault("heartbeat", None)
    return ChatEndpoint(handler=handler, **options)


async def read(reply: Reply) -> bytes:
    assert reply.stream is not None
    return b"".join([chunk async for chunk in reply.stream])


def frames(raw: bytes) -> list[list[str]]:
    """Split a stream into frames (lists of lines) exactly as useAIChat does: on LF LF."""
    text = raw.decode("utf-8")
    assert "\r" not in text
    assert text.endswith("\n\n")
    return [block.split("\n") for block in text[:-2].split("\n\n")]


def events(raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(id, payload) of every data frame; comment frames are skipped."""
    out = []
    for lines in frames(raw):
        if all(line.startswith(":") for line in lines):
            continue
        assert len(lines) == 2, lines
        assert lines[0].startswith("id: ") and lines[1].startswith("data: ")
        out.append((int(lines[0][4:]), json.loads(lines[1][6:])))
    return out


def payloads(raw: bytes) -> list[dict[str, Any]]:
    return [payload for _, payload in events(raw)]


def header(reply: Reply, name: str) -> str | None:
    found = [value for key, value in reply.headers if key.lower() == name.lower()]
    assert len(found) <= 1
    return found[0] if found else None


def json_body(reply: Reply) -> dict[str, Any]:
    assert reply.stream is None
    assert header(reply, "content-type") == "application/json"
    return dict(json.loads(reply.body))


async def tokens(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
    for word in ["Hello", ", ", messages[-1]["content"], "!"]:
        yield word


# ---------------------------------------------------------------- streaming


async def test_post_streams_numbered_events() -> None:
    reply = await endpoint(tokens).handle("POST", HELLO, JSON)
    assert reply.status == 200
    raw = await read(reply)
    got = events(raw)
    assert [number for number, _ in got] == list(range(1, len(got) + 1))
    assert [p for _, p in got] == [
        {"type": "text", "text": "Hello"},
        {"type": "text", "text": ", "},
        {"type": "text", "text": "hello"},
        {"type": "text", "text": "!"},
        {"type": "done"},
    ]
    assert b'data: {"type":"text","text":"Hello"}\n\n' in raw, "compact JSON on the wire"


@pytest.mark.parametrize(
    ("http_version", "keep_alive"), [("1.1", "keep-alive"), (None, None), ("2", None)]
)
async def test_sse_headers(http_version: str | None, keep_alive: str | None) -> None:
    reply = await endpoint(tokens).handle("POST", HELLO, JSON, http_version=http_version)
    assert reply.status == 200
    assert header(reply, "Content-Type") == "text/event-stream"
    assert header(reply, "Cache-Control") == "no-cache"
    assert header(reply, "X-Accel-Buffering") == "no"
    assert header(reply, "Connection") == keep_alive
    assert reply.media_type == "text/event-stream"
    await read(reply)


async def test_the_handler_gets_the_validated_messages() -> None:
    seen: list[list[dict[str, Any]]] = []

    def handler(messages: list[dict[str, Any]]) -> list[str]:
        seen.append(messages)
        return ["ok"]

    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi", "id": "m1"},
        ],
        "temperature": 0.1,
    }
    kept = endpoint(handler, client_system=True)
    reply = await kept.handle("POST", json.dumps(body).encode(), JSON)
    assert payloads(await read(reply)) == [{"type": "text", "text": "ok"}, {"type": "done"}]
    assert seen == [[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]]
    # By default a client's system message is the user's words, not the operator's.
    reply = await endpoint(handler).handle("POST", json.dumps(body).encode(), JSON)
    assert payloads(await read(reply))[-1] == {"type": "done"}
    assert seen[-1] == [{"role": "user", "content": "be brief"}, {"role": "user", "content": "hi"}]


def sync_handler(messages: list[dict[str, Any]]) -> Iterator[str]:
    yield "a"
    yield "b"


async def async_handler_returning_list(messages: list[dict[str, Any]]) -> list[str]:
    return ["a", "b"]


async def rais_event_handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
    yield rais_event({"type": "text", "text": "a"})
    yield rais_event({"type": "text", "text": "b"})
    yield rais_event({"type": "done"})


@pytest.mark.parametrize(
    "handler", [sync_handler, async_handler_returning_list, rais_event_handler]
)
async def test_handler_shapes(handler: Any) -> None:
    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert payloads(await read(reply)) == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "done"},
    ]


async def test_unicode_and_lone_surrogates_stream_without_crashing() -> None:
    sent = ["héllo 🎉", "two\nlines", 'q"uote\\', "broken \ud800 token", "after"]
    reply = await endpoint(lambda m: sent).handle("POST", HELLO, JSON)
    got = payloads(await read(reply))
    assert [p.get("text") for p in got[:-1]] == sent
    assert got[-1] == {"type": "done"}


async def test_offline_provider_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAIS_OFFLINE_DELAY", "0")
    reply = await ChatEndpoint(heartbeat=None).handle("POST", HELLO, JSON)
    got = payloads(await read(reply))
    assert got[-1] == {"type": "done"}
    assert "hello" in "".join(p["text"] for p in got[:-1])


def test_endpoint_configuration_errors() -> None:
    with pytest.raises(RaisError):
        ChatEndpoint(provider="no-such-provider")
    assert ChatEndpoint().provider == "offline"
    with pytest.raises(RaisError):  # provider= beside handler= is what chat.stream() uses
        ChatEndpoint(provider="no-such-provider", handler=tokens)


# ---------------------------------------------------------------- non-stream answers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_json(method: str) -> None:
    reply = await endpoint(tokens).handle(method, b"", {})
    assert reply.status == 405
    assert "POST" in (header(reply, "Allow") or "")
    assert json_body(reply)["error"]["message"]


async def test_options_is_204() -> None:
    reply = await endpoint(tokens).handle("OPTIONS", b"", {})
    assert reply.status == 204
    assert reply.stream is None and reply.body == b""


async def test_last_event_id_is_204() -> None:
    called = []

    def handler(messages: list[dict[str, Any]]) -> list[str]:
        called.append(messages)
        return ["x"]

    reply = await endpoint(handler).handle("POST", HELLO, {**JSON, "last-event-id": "3"})
    assert reply.status == 204
    assert reply.stream is None and reply.body == b""
    assert called == [], "a reconnect never re-runs the model"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", JSON, 400),
        (HELLO, {"content-type": "text/html"}, 415),
        (b'{"messages": []}', JSON, 422),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', JSON, 422),
        (b"[]", JSON, 422),
        (b'{"messages": [{"role": "user", "content": "' + b"x" * 50 + b'"}]}', JSON, 413),
    ],
)
async def test_bad_bodies_are_4xx_json(body: bytes, headers: dict[str, str], status: int) -> None:
    called = []
    ep = endpoint(lambda m: called.append(m) or ["x"], limits=Limits(max_content_chars=20))
    reply = await ep.handle("POST", body, headers)
    assert reply.status == status
    error = json_body(reply)["error"]
    assert error["message"]
    assert called == []


async def test_upstream_rate_limit_before_first_token_is_http_429() -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        raise UpstreamError("Rate limited, try again shortly.", status=429, retry_after="7")
        yield "never"  # pragma: no cover

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == 429
    assert header(reply, "Retry-After") == "7"
    body = json_body(reply)
    assert body["error"]["message"] == "Rate limited, try again shortly."


async def test_upstream_error_before_first_token_redacts_the_key() -> None:
    key = "sk-test-endpoint-0123456789"

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        raise UpstreamError(f"bad key {key}", status=401)
        yield "never"  # pragma: no cover

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == 502  # the provider refused the server's key: a bad gateway
    assert header(reply, "Retry-After") is None
    assert key not in reply.body.decode()


async def test_failure_after_tokens_is_200_then_one_error_event() -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        yield "partial "
        yield "answer"
        raise UpstreamError("The provider dropped the stream.", status=502)

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == 200
    got = payloads(await read(reply))
    assert got == [
        {"type": "text", "text": "partial "},
        {"type": "text", "text": "answer"},
        {"type": "error", "error": "The provider dropped the stream."},
    ]


async def test_plain_exception_before_first_token_is_a_stream_error() -> None:
    # no status to answer with: the failure is an error event with a generic message
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        raise RuntimeError("/srv/app/secret.py exploded")
        yield "never"  # pragma: no cover

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == 200
    got = payloads(await read(reply))
    assert len(got) == 1 and got[0]["type"] == "error"
    assert "secret" not in got[0]["error"]


async def test_a_handler_that_raises_when_called() -> None:
    def handler(messages: list[dict[str, Any]]) -> list[str]:
        raise UpstreamError("Overloaded.", status=503)

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == 503
    assert json_body(reply)["error"]["message"] == "Overloaded."


async def test_slow_first_token_is_not_held_longer_than_the_wait() -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        await asyncio.sleep(FIRST_EVENT_WAIT + 0.5)
        raise UpstreamError("late failure", status=429, retry_after="1")
        yield "never"  # pragma: no cover

    started = time.monotonic()
    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert time.monotonic() - started < FIRST_EVENT_WAIT + 0.4
    assert reply.status == 200  # headers are out: the failure is now an event
    assert payloads(await read(reply)) == [{"type": "error", "error": "late failure"}]


# ---------------------------------------------------------------- heartbeats and closing


async def test_heartbeat_comments_during_idle_gaps() -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        yield "a"
        await asyncio.sleep(0.35)
        yield "b"

    reply = await endpoint(handler, heartbeat=0.05).handle("POST", HELLO, JSON)
    raw = await read(reply)
    blocks = frames(raw)
    pings = [b for b in blocks if b == [": ping"]]
    assert len(pings) >= 3
    # pings sit between "a" and "b", never after the terminal event
    kinds = ["ping" if b == [": ping"] else json.loads(b[1][6:])["type"] for b in blocks]
    assert kinds[0] == "text" and kinds[-2:] == ["text", "done"]
    assert set(kinds[1:-2]) == {"ping"}
    assert [n for n, _ in events(raw)] == [1, 2, 3], "pings take no id"


async def test_no_heartbeats_when_tokens_flow() -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        for i in range(20):
            await asyncio.sleep(0.005)
            yield f"t{i}"

    reply = await endpoint(handler, heartbeat=0.2).handle("POST", HELLO, JSON)
    raw = await read(reply)
    assert b": ping" not in raw
    assert len(events(raw)) == 21


@pytest.mark.parametrize("heartbeat", [None, 0.05])
async def test_closing_the_stream_early_closes_the_handler_generator(
    heartbeat: float | None,
) -> None:
    closed = asyncio.Event()
    produced = []

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        try:
            for i in range(1000):
                produced.append(i)
                yield f"t{i} "
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    reply = await endpoint(handler, heartbeat=heartbeat).handle("POST", HELLO, JSON)
    assert reply.stream is not None
    stream: Any = aiter(reply.stream)
    first = await stream.__anext__()
    assert first.startswith(b"id: 1\ndata: ")
    await asyncio.wait_for(stream.aclose(), 2)
    assert closed.is_set(), "the handler's generator is closed when the client leaves"
    count = len(produced)
    await asyncio.sleep(0.05)
    assert len(produced) == count < 1000


async def test_client_disconnect_cancels_a_waiting_handler() -> None:
    cancelled = asyncio.Event()

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        yield "a"
        try:
            await asyncio.sleep(60)  # the model is thinking
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield "never"

    reply = await endpoint(handler, heartbeat=0.05).handle("POST", HELLO, JSON)

    async def consume() -> None:
        assert reply.stream is not None
        async for _ in reply.stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()  # what a server does when the socket closes
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_sse_reply_directly() -> None:
    reply = await sse_reply(["x", {"type": "done"}], http_version=None)
    assert reply.status == 200
    assert header(reply, "Connection") is None
    assert (
        await read(reply)
        == b'id: 1\ndata: {"type":"text","text":"x"}\n\nid: 2\ndata: {"type":"done"}\n\n'
    )


@pytest.mark.parametrize(
    ("upstream_status", "status"), [(401, 502), (403, 502), (404, 502), (429, 429), (503, 503)]
)
async def test_what_the_client_gets_for_an_upstream_refusal(
    upstream_status: int, status: int
) -> None:
    """The upstream failure table (docs/guarantees.md): the server's own key or settings
    refused is a bad gateway; rate limits and the provider's outages keep their status."""

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        raise UpstreamError("The model provider refused", status=upstream_status)
        yield "never"  # pragma: no cover

    reply = await endpoint(handler).handle("POST", HELLO, JSON)
    assert reply.status == status
    assert json.loads(reply.body)["error"]["type"] == "upstream_error"


@pytest.mark.parametrize(("wait", "status"), [(None, 503), (0.2, 200)])
async def test_first_event_wait_decides_status_or_error_event(
    wait: float | None, status: int
) -> None:
    """A provider failing after the SDK's own retries (here 0.6 s) still gets its HTTP status
    with the default hold; with a shorter ``first_event_wait`` it is a 200 with an error."""

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        await asyncio.sleep(0.6)
        raise UpstreamError("The model provider is overloaded", status=503)
        yield "never"  # pragma: no cover

    options = {} if wait is None else {"first_event_wait": wait}
    reply = await ChatEndpoint(handler=handler, heartbeat=None, **options).handle(
        "POST", HELLO, JSON
    )
    assert reply.status == status
    if status == 200:
        assert reply.stream is not None
        body = b"".join([chunk async for chunk in reply.stream])
        assert b'"type":"error"' in body
