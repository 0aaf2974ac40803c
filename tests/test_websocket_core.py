"""rais._websocket's own decisions, over a real uvicorn socket: timeouts, frames, cancellation."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rais._asgi import StarletteWebSocket
from rais._chat import StreamResult
from rais._endpoint import ChatEndpoint
from rais._websocket import asgi_websocket_app, serve_websocket
from tests.asgi_thread import serve_in_thread

closed = threading.Event()

#: A bound for what takes milliseconds on an idle machine.
DEADLINE = 20.0


async def slow_words(messages: list[dict[str, str]]) -> AsyncIterator[str]:
    """Streams until closed, and says when the close reached it (the upstream-cancel path)."""
    if messages[-1]["content"] == "fail":
        yield "partial "
        raise RuntimeError("secret internal detail /srv/app.py")
    try:
        for i in range(1000):
            yield f"w{i} "
            await asyncio.sleep(0.02)
    finally:
        closed.set()


ENDPOINT = ChatEndpoint(handler=slow_words)


async def impatient(websocket: WebSocket) -> None:
    await serve_websocket(ENDPOINT, StarletteWebSocket(websocket), first_frame_timeout=0.3)


async def patient(websocket: WebSocket) -> None:
    """The default first-frame timeout: a loaded machine may take a while to send it."""
    await serve_websocket(ENDPOINT, StarletteWebSocket(websocket))


APP = Starlette(
    routes=[
        WebSocketRoute("/impatient", impatient),  # only for the test that sends nothing
        WebSocketRoute("/ws", patient),
        WebSocketRoute("/raw", asgi_websocket_app(ENDPOINT)),  # the raw ASGI app Django uses
    ]
)


@pytest.fixture(scope="module")
def ws_base() -> Iterator[str]:
    with serve_in_thread(APP) as base:
        yield base.replace("http://", "ws://")


async def frames_until_close(url: str, first: str | bytes | None) -> tuple[list[str], int | None]:
    frames: list[str] = []
    async with connect(url) as ws:
        if first is not None:
            await ws.send(first)
        try:
            async for frame in ws:
                frames.append(str(frame))
        except ConnectionClosed:
            pass
    return frames, ws.close_code


async def test_no_first_frame_in_time_is_an_error_then_1008(ws_base: str) -> None:
    frames, code = await frames_until_close(f"{ws_base}/impatient", None)
    assert [json.loads(f)["type"] for f in frames] == ["error"]
    assert code == 1008


@pytest.mark.parametrize("path", ["/ws", "/raw"])
async def test_client_close_closes_the_source(ws_base: str, path: str) -> None:
    closed.clear()
    async with connect(ws_base + path) as ws:
        await ws.send(json.dumps({"messages": [{"role": "user", "content": "go"}]}).encode())
        assert json.loads(await ws.recv()) == {"type": "text", "text": "w0 "}  # binary JSON ok
        await ws.close(1000)
    assert await asyncio.to_thread(closed.wait, DEADLINE)


async def test_a_failing_source_ends_with_one_safe_error_then_1000(ws_base: str) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "fail"}]})
    frames, code = await frames_until_close(f"{ws_base}/raw", body)
    events = [json.loads(f) for f in frames]
    assert [e["type"] for e in events] == ["text", "error"]
    assert "/srv/app.py" not in events[-1]["error"] and "secret" not in frames[-1]
    assert code == 1000


class StallingSocket:
    """A transport that refuses invalid UTF-8 as a real socket does, and whose client may
    stop reading after ``reads`` frames (every later send waits for ever)."""

    def __init__(self, first: str, reads: int | None = None) -> None:
        self.sent: list[str] = []
        self.reads = reads
        self.close_code: int | None = None
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self.frames.put_nowait(first)

    async def accept(self) -> None:
        pass

    async def receive(self) -> str | bytes | None:
        return await self.frames.get()

    async def send(self, text: str) -> None:
        text.encode()  # UnicodeEncodeError for a lone surrogate, as the servers raise
        if self.reads is not None and len(self.sent) >= self.reads:
            await asyncio.Event().wait()
        self.sent.append(text)

    async def close(self, code: int) -> None:
        self.close_code = code


async def test_a_lone_surrogate_is_escaped_not_a_dead_socket() -> None:
    results: list[StreamResult] = []

    def handler(_messages: object) -> list[str]:
        return ["a\ud800b", " é"]

    endpoint = ChatEndpoint(handler=handler, on_finish=results.append)
    socket = StallingSocket(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    await asyncio.wait_for(serve_websocket(endpoint, socket), DEADLINE)
    assert [json.loads(frame) for frame in socket.sent] == [
        {"type": "text", "text": "a\ud800b"},
        {"type": "text", "text": " é"},
        {"type": "done"},
    ]
    assert socket.sent[0] == '{"type":"text","text":"a\\ud800b"}'
    assert socket.close_code == 1000
    await wait_for(lambda: bool(results))
    assert results[0].outcome == "done"


async def test_a_client_that_stops_reading_is_cut_after_the_send_timeout() -> None:
    results: list[StreamResult] = []
    stopped = asyncio.Event()

    async def endless(_messages: object) -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 1000
                await asyncio.sleep(0)
        finally:
            stopped.set()

    endpoint = ChatEndpoint(handler=endless, on_finish=results.append, send_timeout=0.4)
    socket = StallingSocket(json.dumps({"messages": [{"role": "user", "content": "hi"}]}), 3)
    await asyncio.wait_for(serve_websocket(endpoint, socket), DEADLINE)
    assert stopped.is_set()  # the source was closed: the upstream call is cancelled
    assert len(socket.sent) == 3
    assert socket.close_code == 1008
    await wait_for(lambda: bool(results))
    assert (results[0].outcome, results[0].error) == ("timeout", "The client stopped reading.")


async def wait_for(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)
