"""The RAIS WebSocket transport on every ASGI server (WSGI has no WebSocket), over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conformance.conftest import API_KEY
from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, selected_servers

ASGI_SERVERS = [spec for spec in selected_servers() if not spec.wsgi]
pytestmark = pytest.mark.parametrize(
    "server", ASGI_SERVERS, indirect=True, ids=[spec.id for spec in ASGI_SERVERS]
)

#: Browsers always send Origin; quart-cors (like many CORS setups) refuses sockets without one.
ORIGIN = "http://localhost:3000"

#: A bound for what takes a second on an idle machine.
DEADLINE = 20.0


def ws_url(server: RunningServer) -> str:
    return f"ws://127.0.0.1:{server.port}/api/chat/ws"


def ask(content: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": content}]})


async def read_all(ws: ClientConnection) -> list[str]:
    """Every frame until the server closes."""
    frames: list[str] = []
    try:
        async for frame in ws:
            assert isinstance(frame, str), "RAIS frames are text frames"
            frames.append(frame)
    except ConnectionClosed:
        pass
    return frames


def events_of(frames: list[str]) -> list[dict[str, Any]]:
    events = [json.loads(frame) for frame in frames]
    for frame, event in zip(frames, events, strict=True):
        assert frame == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return events


async def test_text_arrives_then_done_and_close_1000(
    server: RunningServer, upstream: FakeUpstream
) -> None:
    async with connect(ws_url(server), origin=ORIGIN) as ws:
        await ws.send(ask("[count:5]"))
        frames = await read_all(ws)
    events = events_of(frames)
    assert [e["type"] for e in events] == ["text"] * 5 + ["done"]
    assert "".join(e["text"] for e in events[:-1]) == "".join(f"t{i} " for i in range(5))
    assert ws.close_code == 1000
    assert upstream.requests[-1].json["messages"][-1]["content"] == "[count:5]"


async def test_unicode_round_trips(server: RunningServer) -> None:
    tokens = ["héllo", " 世界", " 👩‍💻🚀", "\\nline two", ' "quoted"']
    async with connect(ws_url(server), origin=ORIGIN) as ws:
        await ws.send(ask("[tokens:" + "|".join(tokens) + "]"))
        frames = await read_all(ws)
    text = "".join(e["text"] for e in events_of(frames) if e["type"] == "text")
    assert text == "".join(tokens).replace("\\n", "\n")


async def test_frames_are_sent_as_tokens_arrive(server: RunningServer) -> None:
    # An answer of 500 s: frames held back until its end would never come in time.
    async with connect(ws_url(server), origin=ORIGIN) as ws:
        await ws.send(ask("[count:1000][delay:0.5]"))
        frames = [await asyncio.wait_for(ws.recv(), DEADLINE) for _ in range(2)]
        await ws.close(1000)
    assert [json.loads(frame) for frame in frames] == [
        {"type": "text", "text": "t0 "},
        {"type": "text", "text": "t1 "},
    ]


@pytest.mark.parametrize("content", ["[count:1000][delay:0.05]", "[fault:hang]"])
async def test_client_close_1000_cancels_upstream(
    server: RunningServer, upstream: FakeUpstream, content: str
) -> None:
    before, asked = upstream.cancelled, len(upstream.requests)
    async with connect(ws_url(server), origin=ORIGIN) as ws:
        await ws.send(ask(content))
        if "count" in content:
            first = [json.loads(await ws.recv()) for _ in range(2)]
            assert [e["type"] for e in first] == ["text", "text"]
        else:  # wait until the upstream has the request and hangs on it
            assert await asyncio.to_thread(upstream.wait_requests, asked + 1, DEADLINE)
        await ws.close(1000)
    assert await upstream.wait_cancelled_async(before + 1, timeout=DEADLINE), server.log()[-2000:]


async def test_upstream_error_mid_stream_is_one_safe_error_event(server: RunningServer) -> None:
    async with connect(ws_url(server), origin=ORIGIN) as ws:
        await ws.send(ask("[fault:error_mid]"))
        frames = await read_all(ws)
    events = events_of(frames)
    assert [e["type"] for e in events] == ["text", "text", "error"]
    assert events[-1]["error"] and API_KEY not in frames[-1]
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", 1007),
        (json.dumps({"messages": []}), 1007),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}), 1007),
        ("[1, 2]", 1007),
        (b"\xff\xfe not utf-8", 1007),
        (ask("x" * 1_100_000), 1009),
        (ask("x" * 5_000_000), 1009),  # past aiohttp's own frame limit (4 MiB) too
    ],
    ids=["bad-json", "empty-messages", "bad-role", "not-object", "bad-utf8", "too-big", "huge"],
)
async def test_bad_first_frame_gets_error_event_then_close_code(
    server: RunningServer, frame: str | bytes, code: int
) -> None:
    async with connect(ws_url(server), origin=ORIGIN, max_size=None) as ws:
        await ws.send(frame)
        frames = await read_all(ws)
    events = events_of(frames)
    assert [e["type"] for e in events] == ["error"]
    assert events[0]["error"]
    assert ws.close_code == code
