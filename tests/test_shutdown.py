"""Ending open streams on server shutdown (rais.shutdown), in process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import pytest

from rais import shutdown
from rais._sse import sse_reply

pytestmark = pytest.mark.timeout(60)

#: A bound for what takes a poll interval or two on an idle machine.
DEADLINE = 20.0


async def endless() -> AsyncIterator[str]:
    yield "first "
    await asyncio.sleep(3600)
    yield "never"


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def opened(stream: AsyncIterable[bytes] | None) -> tuple[bytes, asyncio.Future[bytes]]:
    """Read a stream's first chunk (it is open and streaming), then the rest in a task."""
    assert stream is not None
    stream = aiter(stream)
    first = await asyncio.wait_for(stream.__anext__(), DEADLINE)
    return first, asyncio.ensure_future(read_all(stream))


class FakeServer:
    """Looks like uvicorn's Server or a gunicorn Worker to ``server_stopping``."""

    def __init__(self) -> None:
        self.should_exit = False
        self.alive = True

    def handle_exit(self, signum: int, frame: Any) -> None:
        self.should_exit = True


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_end_streams_ends_each_open_stream_with_one_error() -> None:
    replies = [await sse_reply(endless(), heartbeat=15) for _ in range(3)]
    started = [await opened(r.stream) for r in replies]
    assert shutdown.end_streams() >= 3
    await asyncio.wait_for(asyncio.gather(*(rest for _, rest in started)), DEADLINE)
    bodies = [first + rest.result() for first, rest in started]
    for body in bodies:
        assert body.count(b"data: ") == 2
        assert body.endswith(
            b'data: {"type":"error","error":"' + shutdown.SHUTDOWN_MESSAGE.encode() + b'"}\n\n'
        )


@pytest.mark.parametrize("flag", ["should_exit", "alive"])
async def test_a_stopping_server_is_noticed_and_its_streams_end(
    fake_server: FakeServer, flag: str
) -> None:
    reply = await sse_reply(endless(), heartbeat=15)
    first, reader = await opened(reply.stream)
    assert not shutdown.server_stopping()
    if flag == "should_exit":
        fake_server.should_exit = True  # uvicorn's Server after SIGTERM
    else:
        fake_server.alive = False  # gunicorn's Worker after SIGTERM
    assert shutdown.server_stopping()
    body = first + await asyncio.wait_for(reader, DEADLINE)  # the source alone never ends
    assert b"shutting down" in body and body.count(b'"type":"error"') == 1


async def test_a_stream_started_while_stopping_ends_at_once(fake_server: FakeServer) -> None:
    fake_server.should_exit = True
    reply = await sse_reply(endless(), heartbeat=15)
    body = await asyncio.wait_for(read_all(reply.stream), DEADLINE)  # type: ignore[arg-type]
    assert b"shutting down" in body


async def test_the_watcher_stops_when_no_stream_is_open() -> None:
    reply = await sse_reply(["a", "b"], heartbeat=15)
    await read_all(reply.stream)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while loop in shutdown._watchers or loop in shutdown._open:
        assert loop.time() < deadline, "the watcher is still running"
        await asyncio.sleep(shutdown.POLL_INTERVAL)
