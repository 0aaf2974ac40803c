"""rais.client against real servers on loopback: a rais integration, and servers that drop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from rais.client import (
    AsyncChatStream,
    AsyncRaisClient,
    ChatStream,
    ConnectionLost,
    RaisClient,
    RaisHTTPError,
    RaisStreamError,
    RaisTimeout,
    ResumeUnavailable,
    SSEDecoder,
    websocket_url,
)
from rais.starlette import rais_endpoint
from tests.asgi_thread import serve_in_thread
from tests.fakes.upstreams import FakeUpstream
from tests.servers import SERVERS_BY_ID, RunningServer, start_server

ORIGIN = {"Origin": "http://localhost:3000"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="module")
def rais_server(upstream: FakeUpstream) -> Iterator[RunningServer]:
    env = {
        "OPENAI_API_KEY": "sk-test-client",
        "OPENAI_BASE_URL": upstream.base_url,
        "RAIS_MAX_RETRIES": "0",
        "RAIS_HEARTBEAT": "0",  # silence stays silent, so the idle timeout can fire
    }
    server = start_server(SERVERS_BY_ID["starlette-uvicorn"], env)
    try:
        yield server
    finally:
        server.stop()


def ask(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


# -- a server that drops the connection after three events --------------------------------

TOKENS = ["a ", "b ", "c ", "d ", "e "]


class Dropper:
    """``/{mode}``: the first request gets ids 1-3 then a dropped connection; a reconnect
    gets ``resume`` (ids after Last-Event-ID), ``replay`` (everything again, ids from 1),
    ``no-resume`` (204) or, for ``no-ids``, events without ids."""

    def __init__(self) -> None:
        self.last_event_ids: list[str | None] = []
        self.app = Starlette(routes=[Route("/{mode}", self.chat, methods=["POST"])])

    async def chat(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        last = request.headers.get("last-event-id")
        self.last_event_ids.append(last)
        if last is not None and mode == "no-resume":
            return Response(status_code=204)
        start = int(last) + 1 if last is not None and mode == "resume" else 1
        drop = last is None
        return StreamingResponse(
            self.events(start, drop, with_ids=mode != "no-ids"), media_type="text/event-stream"
        )

    @staticmethod
    async def events(start: int, drop: bool, *, with_ids: bool) -> AsyncIterator[bytes]:
        yield b"retry: 50\n\n"
        for number in range(start, len(TOKENS) + 1):
            data = json.dumps({"type": "text", "text": TOKENS[number - 1]}, separators=(",", ":"))
            yield ((f"id: {number}\n" if with_ids else "") + f"data: {data}\n\n").encode()
            if drop and number == 3:
                raise RuntimeError("connection dropped on purpose")
        yield f'id: {len(TOKENS) + 1}\ndata: {{"type":"done"}}\n\n'.encode()


@pytest.fixture(scope="module")
def dropper() -> Iterator[tuple[Dropper, str]]:
    dropper = Dropper()
    with serve_in_thread(dropper.app) as base:
        yield dropper, base


# -- the happy path ----------------------------------------------------------------------


async def test_async_events_and_text(rais_server: RunningServer) -> None:
    async with AsyncRaisClient(rais_server.url) as client:
        events = [e async for e in client.events(ask("[count:5]"))]
        text = await client.complete("[count:3]")
    assert [e["type"] for e in events] == ["text"] * 5 + ["done"]
    assert "".join(e["text"] for e in events[:-1]) == "t0 t1 t2 t3 t4 "
    assert text == "t0 t1 t2 "


def test_sync_text_and_last_event_id(rais_server: RunningServer) -> None:
    with RaisClient(rais_server.url) as client:
        assert list(client.text(ask("[tokens:héllo| 👩‍💻]"))) == ["héllo", " 👩‍💻"]
        with client.stream("[count:2]") as stream:
            assert [e["type"] for e in stream] == ["text", "text", "done"]
            assert stream.last_event_id == "3"


def test_bad_request_is_an_http_error_with_the_server_message(rais_server: RunningServer) -> None:
    with RaisClient(rais_server.url) as client, pytest.raises(RaisHTTPError) as caught:
        client.complete([])
    assert caught.value.status == 422
    assert "messages" in caught.value.message


async def test_error_event_raises_in_text_but_is_an_event_in_events(
    rais_server: RunningServer,
) -> None:
    async with AsyncRaisClient(rais_server.url) as client:
        events = [e async for e in client.events(ask("[fault:error_mid]"))]
        assert [e["type"] for e in events] == ["text", "text", "error"]
        chunks: list[str] = []
        with pytest.raises(RaisStreamError):
            async for chunk in client.text(ask("[fault:error_mid]")):
                chunks.append(chunk)
        assert len(chunks) == 2


# -- abort and timeouts ------------------------------------------------------------------


#: Generous bounds for things that happen at once on an idle machine.
DEADLINE = 20.0


def reading(stream: AsyncChatStream | ChatStream) -> bool:
    """The stream has its response and is reading the body (white-box: nothing else says so)."""
    return stream._response is not None


async def test_async_abort_closes_the_connection_and_cancels_upstream(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    async with AsyncRaisClient(rais_server.url) as client:
        seen = []
        async with client.stream(ask("[count:1000][delay:0.05]")) as stream:
            async for event in stream:
                seen.append(event)
                if len(seen) == 2:
                    stream.abort()
        assert stream.aborted and len(seen) == 2
    assert await upstream.wait_cancelled_async(before + 1, timeout=DEADLINE)


async def test_async_abort_from_another_task_wakes_a_blocked_read(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    # The upstream never sends a token and the server no heartbeat: the read would block
    # for the client's 60 s timeout, far past the deadline below, unless abort() wakes it.
    async with AsyncRaisClient(rais_server.url) as client:
        stream = client.stream("[fault:hang]")

        async def consume() -> list[dict[str, object]]:
            return [event async for event in stream]

        reader = asyncio.ensure_future(consume())
        deadline = time.monotonic() + DEADLINE
        while not reading(stream) and time.monotonic() < deadline:
            assert not reader.done(), reader
            await asyncio.sleep(0.01)
        stream.abort()
        assert await asyncio.wait_for(reader, DEADLINE) == []
    assert stream.aborted
    assert await upstream.wait_cancelled_async(before + 1, timeout=DEADLINE)


def test_sync_abort_from_another_thread(rais_server: RunningServer, upstream: FakeUpstream) -> None:
    before = upstream.cancelled
    with RaisClient(rais_server.url) as client:
        stream = client.stream(ask("[fault:hang]"))  # nothing to read, ever
        events: list[dict[str, object]] = []
        # The reader blocks on the socket (for the client's 60 s timeout, unless woken).
        reader = threading.Thread(target=lambda: events.extend(stream), daemon=True)
        reader.start()
        deadline = time.monotonic() + DEADLINE
        while not reading(stream) and time.monotonic() < deadline:
            time.sleep(0.01)
        stream.abort()
        reader.join(DEADLINE)
        assert not reader.is_alive(), "abort() did not wake the blocked read"
    assert stream.aborted and events == []
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE)


def test_leaving_the_with_block_early_aborts(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    with RaisClient(rais_server.url) as client:
        for chunk in client.text(ask("[count:1000][delay:0.05]")):
            assert chunk == "t0 "
            break
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE)


def test_idle_timeout_raises_and_cancels(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    with RaisClient(rais_server.url, timeout=0.8) as client, pytest.raises(RaisTimeout):
        client.complete("[fault:hang]")
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE)


async def test_total_timeout_bounds_a_steady_answer(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    # A token every 0.05 s keeps the idle timeout quiet; the whole answer would take 50 s.
    async with AsyncRaisClient(rais_server.url, timeout=30, total_timeout=1.0) as client:
        seen: list[dict[str, object]] = []
        with pytest.raises(RaisTimeout, match=r"the answer took longer than 1\.0 s"):
            async for event in client.events("[count:1000][delay:0.05]"):
                seen.append(event)
    assert {"type": "done"} not in seen
    assert await upstream.wait_cancelled_async(before + 1, timeout=DEADLINE)


# -- resume (Last-Event-ID) ----------------------------------------------------------------


def test_rais_server_answers_resume_with_204(rais_server: RunningServer) -> None:
    with RaisClient(rais_server.url) as client, pytest.raises(ResumeUnavailable):
        list(client.stream("[count:3]", last_event_id="2"))


def test_drop_then_204_raises_resume_unavailable_after_the_delivered_events(
    dropper: tuple[Dropper, str],
) -> None:
    server, base = dropper
    server.last_event_ids.clear()
    received: list[str] = []
    with RaisClient(f"{base}/no-resume") as client, pytest.raises(ResumeUnavailable) as caught:
        for chunk in client.text("hi"):
            received.append(chunk)
    assert received == TOKENS[:3]
    assert server.last_event_ids == [None, "3"]
    assert caught.value.last_event_id == "3"


@pytest.mark.parametrize("mode", ["resume", "replay"])
async def test_drop_then_resume_delivers_each_event_once(
    dropper: tuple[Dropper, str], mode: str
) -> None:
    server, base = dropper
    server.last_event_ids.clear()
    # The client's own delay is an hour: only the server's ``retry: 50`` lets it finish.
    async with AsyncRaisClient(f"{base}/{mode}", resume_delay=3600) as client:
        text = await asyncio.wait_for(client.complete("hi"), DEADLINE)
    assert text == "".join(TOKENS)  # a replaying server's repeats are skipped by id
    assert server.last_event_ids == [None, "3"]


async def counting(messages: list[dict[str, str]]) -> AsyncIterator[str]:
    for i in range(20):
        await asyncio.sleep(0.02)
        yield f"n{i} "


def test_resume_by_hand_against_a_resumable_rais_server() -> None:
    app = Starlette(
        routes=[Route("/chat", rais_endpoint(handler=counting, resume=True), methods=["POST"])]
    )
    with serve_in_thread(app) as base, RaisClient(f"{base}/chat") as client:
        with client.stream("count") as stream:
            first = [next(iter(stream))["text"] for _ in range(3)]
            last = stream.last_event_id
        assert last is not None and last.endswith(":3")  # rais's ids: <stream id>:<n>
        rest = list(client.stream("count", last_event_id=last))
    text = "".join(first) + "".join(e["text"] for e in rest if e["type"] == "text")
    assert text == "".join(f"n{i} " for i in range(20))
    assert rest[-1] == {"type": "done"}


def test_drop_without_ids_cannot_resume(dropper: tuple[Dropper, str]) -> None:
    server, base = dropper
    server.last_event_ids.clear()
    with RaisClient(f"{base}/no-ids") as client, pytest.raises(ConnectionLost) as caught:
        client.complete("hi")
    assert not isinstance(caught.value, ResumeUnavailable)
    assert caught.value.last_event_id is None
    assert server.last_event_ids == [None]  # no pointless retry


# -- WebSocket -------------------------------------------------------------------------------


async def test_async_websocket_events(rais_server: RunningServer) -> None:
    async with AsyncRaisClient(rais_server.url, headers=ORIGIN) as client:
        events = [e async for e in client.websocket_events("[count:3]")]
    assert [e["type"] for e in events] == ["text", "text", "text", "done"]


def test_sync_websocket_abort_cancels_upstream(
    rais_server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    with RaisClient(rais_server.url) as client:
        events = client.websocket_events("[count:1000][delay:0.05]")
        assert next(events) == {"type": "text", "text": "t0 "}
        events.close()  # closes the socket with 1000
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE)


# -- the pieces --------------------------------------------------------------------------------


def test_sse_decoder_follows_the_browser_rules() -> None:
    decoder = SSEDecoder()
    out = decoder.feed(b': ping\n\nid: 7\ndata: {"type":"te')
    assert out == []
    out = decoder.feed(b'xt","text":"\xc3')  # a UTF-8 sequence split across chunks
    out += decoder.feed(b'\xa9"}\n\nretry: 250\ndata:{"type":"done"}\r\n\r\n')
    assert out == [("7", '{"type":"text","text":"é"}'), (None, '{"type":"done"}')]
    assert decoder.retry == 0.25


def test_websocket_url_is_derived_from_the_endpoint() -> None:
    assert websocket_url("http://h:1/api/chat") == "ws://h:1/api/chat/ws"
    assert websocket_url("https://h/api/chat/") == "wss://h/api/chat/ws"
