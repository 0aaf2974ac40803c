"""rais._websocket's own decisions, over a real uvicorn socket: timeouts, frames, cancellation."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rais._asgi import StarletteWebSocket
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
