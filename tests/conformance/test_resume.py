"""Resumable streams (RAIS "Full"), over real servers sharing a real Redis.

Each integration runs TWICE (two processes, like two workers behind a load balancer)
with ``RAIS_RESUME_URL`` pointing at one redis-server: a stream dropped on one is
resumed on the other with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from tests.conformance.conftest import SERVER_ENV
from tests.conformance.sse import Received, ablocks, chat, split_body
from tests.fakes.upstreams import FakeUpstream
from tests.redis_server import RedisServer, redis_server
from tests.servers import RunningServer, selected_servers, start_server

__all__ = ["redis_server"]  # the session fixture, used below

#: Short, so the expiry test is quick, yet long enough that a resume right after a
#: drop is surely within it; refreshed by every event, so live streams keep it.
TTL = 4.0

#: A bound for what takes a second on an idle machine.
DEADLINE = 20.0


@pytest.fixture(scope="session", params=selected_servers(), ids=lambda spec: spec.id)
def pair(
    request: pytest.FixtureRequest, upstream: FakeUpstream, redis_server: RedisServer
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two processes of one integration, sharing the Redis store."""
    env = {
        **SERVER_ENV,
        "OPENAI_BASE_URL": upstream.base_url,
        "RAIS_RESUME_URL": redis_server.url,
        "RAIS_RESUME_TTL": str(TTL),
    }
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda _: start_server(request.param, env), range(2)))
    try:
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def body(content: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": content}]}


def drop_after(client: httpx.Client, url: str, content: str, events: int) -> Received:
    """Start a chat and drop the connection after ``events`` events."""
    received = chat(client, url, content, max_events=events)
    assert received.status == 200, received.raw
    assert len(received.events) >= events  # a chunk may carry a burst of events
    del received.events[events:], received.ids[events:]  # the client handled only these
    return received


def resume(client: httpx.Client, url: str, last_event_id: str, content: str) -> Received:
    """Reconnect the way the browser clients do: the same POST, plus ``Last-Event-ID``."""
    return chat(client, url, content, headers={"Last-Event-ID": last_event_id})


def stream_of(received: Received) -> tuple[str, list[int]]:
    """The stream id shared by all ids, and the positions."""
    parts = [str(event_id).rpartition(":") for event_id in received.ids]
    stream_ids = {stream_id for stream_id, _, _ in parts}
    assert len(stream_ids) == 1 and "" not in stream_ids, received.ids
    return stream_ids.pop(), [int(n) for _, _, n in parts]


def assert_framing(received: Received) -> None:
    assert b"\r" not in received.raw
    blocks, rest = split_body(received.raw)
    assert rest == ""
    data_blocks = [b for b in blocks if not b.text.startswith(":")]
    for block, event in zip(data_blocks, received.events, strict=True):
        id_line, data_line = block.text.split("\n")
        assert id_line.startswith("id: ")
        assert data_line == "data: " + json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def test_drop_and_resume_on_another_process(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client, upstream: FakeUpstream
) -> None:
    first, second = pair
    content = "[count:30][delay:0.02]"
    completed = upstream.completed
    before = drop_after(client, first.url, content, 6)
    stream_id, positions = stream_of(before)
    assert positions == [1, 2, 3, 4, 5, 6]

    after = resume(client, second.url, before.ids[-1] or "", content)
    assert after.status == 200, after.raw
    assert after.headers["content-type"].split(";")[0] == "text/event-stream"
    assert_framing(after)
    assert stream_of(after) == (stream_id, list(range(7, 32)))
    assert after.types == ["text"] * 24 + ["done"]
    assert before.text + after.text == "".join(f"t{i} " for i in range(30))

    # The drop did not stop generation: the one upstream call ran to its end.
    assert upstream.wait_completed(completed + 1, timeout=DEADLINE), first.log()[-2000:]
    assert upstream.completed == completed + 1

    # Everything was delivered: resuming after the done event gets 204.
    assert resume(client, first.url, after.ids[-1] or "", content).status == 204


def test_resume_after_the_stream_finished_replays_the_rest(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client, upstream: FakeUpstream
) -> None:
    first, second = pair
    completed = upstream.completed
    before = drop_after(client, second.url, "[count:8][delay:0.02]", 3)
    # Generation finishes meanwhile, with nobody connected.
    assert upstream.wait_completed(completed + 1, timeout=DEADLINE), second.log()[-2000:]
    after = resume(client, first.url, before.ids[-1] or "", "[count:8][delay:0.02]")
    assert after.status == 200, after.raw
    assert after.text == "t3 t4 t5 t6 t7 "
    assert after.types[-1] == "done"
    assert stream_of(after)[1] == list(range(4, 10))
    # Resuming from an earlier id on the first process gets exactly what follows it.
    again = resume(client, first.url, before.ids[0] or "", "")
    assert again.text == "t1 t2 t3 t4 t5 t6 t7 "


def test_upstream_failures_keep_their_shape(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client
) -> None:
    first, _ = pair
    refused = chat(client, first.url, "[fault:429]")  # before streaming: its HTTP status
    assert refused.status == 429 and refused.headers["retry-after"] == "7"
    failed = chat(client, first.url, "[fault:error_mid]")  # mid-stream: one error event
    assert failed.types == ["text", "text", "error"]
    assert stream_of(failed)[1] == [1, 2, 3]
    assert_framing(failed)


def test_concurrent_streams_each_resume_on_the_other_process(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    async def one(http: httpx.AsyncClient, n: int) -> str:
        servers = pair if n % 2 else pair[::-1]
        content = "[tokens:" + "|".join(f"s{n}-{i} " for i in range(12)) + "][delay:0.01]"
        text, last_id = "", ""
        async with http.stream("POST", servers[0].url, json=body(content)) as response:
            async for event_id, event in _events(response):
                text, last_id = text + event["text"], event_id
                if len(text.split()) == 4:
                    break
        headers = {"Last-Event-ID": last_id}
        async with http.stream(
            "POST", servers[1].url, json=body(content), headers=headers
        ) as response:
            assert response.status_code == 200
            async for _, event in _events(response):
                text += event.get("text", "") if event["type"] == "text" else f"<{event['type']}>"
        return text

    async def main() -> list[str]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
            return await asyncio.gather(*(one(http, n) for n in range(20)))

    for n, text in enumerate(asyncio.run(main())):
        assert text == "".join(f"s{n}-{i} " for i in range(12)) + "<done>"


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    async for block in ablocks(response):
        for data in block.data:
            yield block.event_id or "", json.loads(data)


def test_unknown_and_malformed_ids_get_204(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client
) -> None:
    first, _ = pair
    for bad in ("3", "unknown-stream-id:3", "abc", ""):
        received = resume(client, first.url, bad, "hello")
        assert received.status == 204, (bad, received.raw)
        assert received.raw == b""


def test_expired_id_gets_204(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client
) -> None:
    first, second = pair
    received = chat(client, first.url, "[count:2]")
    assert received.types == ["text", "text", "done"]
    # Within the window a resume works; after the TTL the stream is gone.
    assert resume(client, second.url, received.ids[0] or "", "").text == "t1 "
    time.sleep(TTL + 0.5)
    expired = resume(client, second.url, received.ids[0] or "", "")
    assert expired.status == 204
    assert expired.raw == b""


def test_redis_down_fails_cleanly(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client, redis_server: RedisServer
) -> None:
    first, second = pair
    # Down before the request: 503 JSON, for a new chat and for a reconnect, quickly.
    live = drop_after(client, first.url, "[count:3]", 1)
    with redis_server.down():
        started = time.monotonic()
        for headers in ({}, {"Last-Event-ID": live.ids[0] or ""}):
            refused = chat(client, second.url, "[count:3]", headers=headers)
            assert refused.status == 503, refused.raw
            assert refused.headers["content-type"].startswith("application/json")
            message = refused.json()["error"]["message"]
            assert "unavailable" in message and str(redis_server.port) not in message
        assert time.monotonic() - started < 15

    # Down mid-stream: the stream ends with one error event, no done, in bounded time.
    received = Received(0, httpx.Headers())
    started = time.monotonic()
    try:
        with client.stream("POST", first.url, json=body("[count:200][delay:0.03]")) as response:
            decoder = SSEBlockDecoder()
            for chunk in response.iter_raw():
                for block in decoder.feed(chunk):
                    received.add(block)
                if len(received.events) >= 3 and redis_server.process is not None:
                    redis_server.stop()
                    started = time.monotonic()
        assert time.monotonic() - started < 15
    finally:
        if redis_server.process is None:
            redis_server.start()
    assert received.types[:3] == ["text"] * 3
    assert received.types[-1] == "error" and received.types.count("error") == 1
    assert "done" not in received.types
    assert "unavailable" in received.events[-1]["error"]

    # Back up: the same processes serve resumable streams again.
    again = chat(client, second.url, "[count:2]")
    assert again.types == ["text", "text", "done"]


def test_ai_sdk_resume_on_another_process(
    pair: tuple[RunningServer, RunningServer], client: httpx.Client, upstream: FakeUpstream
) -> None:
    """The AI SDK's resume (``GET {api}/{chatId}/stream``) of a reply dropped on one process,
    on the other: the reply from its ``start`` (the same message id), then live to its end."""
    first, second = pair
    ui_body = {
        "id": "chat-resume-" + str(time.monotonic_ns()),
        "trigger": "submit-message",
        "messages": [
            {
                "id": "m",
                "role": "user",
                "parts": [{"type": "text", "text": "[count:60][delay:0.05]"}],
            }
        ],
    }
    resume_url = f"{second.base_url}/api/ui/{ui_body['id']}/stream"
    before = chat(client, first.base_url + "/api/ui", body=ui_body, max_events=6)
    assert before.status == 200, before.raw
    assert before.events[0]["type"] == "start"
    after = chat_get(client, resume_url)
    assert after.status == 200, (after.raw, first.log()[-2000:], second.log()[-2000:])
    assert after.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert after.events[0] == before.events[0]  # the same message id: the same message
    deltas = [e["delta"] for e in after.events if e["type"] == "text-delta"]
    assert "".join(deltas) == "".join(f"t{i} " for i in range(60))
    assert after.events[-1]["type"] == "finish" and after.done_marker
    # The reply has ended: nothing to resume, on either process.
    assert client.get(resume_url).status_code == 204
    assert client.get(f"{first.base_url}/api/ui/{ui_body['id']}/stream").status_code == 204
    assert client.get(f"{first.base_url}/api/ui/never-seen/stream").status_code == 204


def chat_get(client: httpx.Client, url: str) -> Received:
    """GET a stream to its end, as the AI SDK's ``reconnectToStream`` reads it."""
    with client.stream("GET", url) as response:
        received = Received(response.status_code, response.headers)
        decoder = SSEBlockDecoder()
        for chunk in response.iter_raw():
            received.raw += chunk
            for block in decoder.feed(chunk):
                received.add(block)
    return received
