"""The stream hot path and its edges: batched ready events, the first-event hold, redaction."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from rais.bridge import stream_sync
from rais.endpoint import sse_reply
from rais.errors import UpstreamError
from rais.pipeline import EventFeed, rais_events, with_heartbeats

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")


async def chunks(reply_stream: AsyncIterator[bytes] | None) -> list[bytes]:
    assert reply_stream is not None
    return [chunk async for chunk in reply_stream]


async def test_events_already_produced_go_out_together_with_the_same_bytes() -> None:
    async def fast() -> AsyncIterator[str]:
        for i in range(500):
            yield f"t{i} "

    out = await chunks((await sse_reply(fast(), heartbeat=15)).stream)
    body = b"".join(out)
    expected = b"".join(
        f'id: {i + 1}\ndata: {{"type":"text","text":"t{i} "}}\n\n'.encode() for i in range(500)
    )
    assert body == expected + b'id: 501\ndata: {"type":"done"}\n\n'
    assert len(out) < 100, "a fast source is written in batches, not one write per token"


async def test_a_paced_source_is_still_written_token_by_token() -> None:
    async def paced() -> AsyncIterator[str]:
        for i in range(5):
            await asyncio.sleep(0.02)
            yield f"t{i} "

    stream = (await sse_reply(paced(), heartbeat=15)).stream
    assert stream is not None
    counts = [chunk.count(b"data: ") async for chunk in stream]
    # Nothing waits to fill a batch: each token alone (done follows the last at once).
    assert counts == [1, 1, 1, 1, 2]


async def test_the_feed_holds_at_most_its_limit_for_a_slow_consumer() -> None:
    produced = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal produced
        while True:
            produced += 1
            yield "x"
            await asyncio.sleep(0)

    feed = EventFeed(limit=16)
    events = with_heartbeats(rais_events(endless()), 15, feed=feed)
    await events.__anext__()
    await asyncio.sleep(0.1)  # the consumer stalls; the producer must wait for room
    assert len(feed.buffer) <= 16 and produced <= 18
    assert len(feed.ready()) <= 16
    await events.aclose()


async def test_heartbeats_during_the_first_event_hold_do_not_start_the_stream() -> None:
    async def fails_late() -> AsyncIterator[str]:
        await asyncio.sleep(0.3)  # several heartbeat intervals
        raise UpstreamError("The model provider does not know this model", status=404)
        yield ""  # pragma: no cover

    reply = await sse_reply(fails_late(), heartbeat=0.05)
    assert reply.status == 404 and reply.stream is None


async def test_logged_tracebacks_do_not_carry_the_key(caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-hotpath-" + "0123456789abcdef" * 2  # built here: no literal in a traceback line

    async def leaky() -> AsyncIterator[str]:
        try:
            raise RuntimeError(f"Incorrect API key provided: {key}")
        except RuntimeError as exc:
            raise UpstreamError("The model provider rejected the API key", status=401) from exc
        yield ""  # pragma: no cover

    caplog.set_level(logging.ERROR, logger="rais")
    reply = await sse_reply(leaky(), heartbeat=15)
    assert reply.status == 401
    text = caplog.text
    assert "rais stream failed" in text and "RuntimeError" in text and "UpstreamError" in text
    assert key not in text and "[redacted]" in text
    record = next(r for r in caplog.records if "rais stream failed" in r.getMessage())
    assert record.exc_info is not None  # handlers that want the exception still get it
    formatted = logging.Formatter().format(record)
    assert key not in formatted and 'File "' in formatted  # frames are kept for debugging


# ---------------------------------------------------------------- the WSGI relay


def in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a plain thread, as a WSGI worker would, and return its result."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
    return out[0]


async def numbered(n: int, log: list[str], delay: float = 0.0) -> AsyncIterator[bytes]:
    try:
        for i in range(n):
            await asyncio.sleep(delay)
            yield f"{i},".encode()
    finally:
        log.append("closed")


def test_stream_sync_delivers_every_byte_in_order_and_joins_what_is_ready() -> None:
    log: list[str] = []
    chunks = in_thread(lambda: list(stream_sync(numbered(2000, log))))
    assert b"".join(chunks) == b"".join(f"{i},".encode() for i in range(2000))
    assert len(chunks) < 2000  # chunks already there are written together
    assert log == ["closed"]


def test_stream_sync_hands_over_paced_chunks_as_they_come() -> None:
    log: list[str] = []

    def consume() -> list[tuple[float, bytes]]:
        return [(time.monotonic(), c) for c in stream_sync(numbered(4, log, delay=0.05))]

    got = in_thread(consume)
    assert [c for _, c in got] == [b"0,", b"1,", b"2,", b"3,"]
    assert got[-1][0] - got[0][0] > 0.1  # streamed, not buffered to the end


def test_closing_stream_sync_closes_the_async_stream_before_returning() -> None:
    log: list[str] = []

    def consume() -> None:
        iterator = stream_sync(numbered(10**9, log))
        assert next(iterator).startswith(b"0,")
        iterator.close()  # the WSGI server does this when the client is gone
        assert log == ["closed"]

    started = time.monotonic()
    in_thread(consume)
    assert time.monotonic() - started < 5


def test_stream_sync_closes_a_stream_waiting_for_its_next_chunk() -> None:
    log: list[str] = []

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.sleep(60)
            yield b"never"
        finally:
            log.append("closed")

    def consume() -> None:
        iterator = stream_sync(slow())
        assert next(iterator) == b"first"
        iterator.close()

    started = time.monotonic()
    in_thread(consume)
    assert time.monotonic() - started < 5 and log == ["closed"]


def test_stream_sync_raises_the_streams_error_after_what_came_before() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("async side failed")

    got: list[bytes] = []

    def consume() -> None:
        for chunk in stream_sync(broken()):
            got.append(chunk)

    with pytest.raises(ValueError, match="async side failed"):
        in_thread(consume)
    assert got == [b"a"]
