"""The stream hot path and its edges: batched ready events, the first-event hold, redaction.

(The WSGI relay, ``rais._bridge.stream_sync``, is tested in tests/test_bridge.py.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from rais._chat import Turn
from rais._errors import UpstreamError
from rais._sse import sse_reply

pytestmark = pytest.mark.timeout(60)

#: A bound for waits that take milliseconds on an idle machine.
DEADLINE = 20.0


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


async def test_a_burst_of_large_chunks_is_pulled_in_bounded_writes() -> None:
    big = "x" * 10_000

    async def burst() -> AsyncIterator[str]:
        for _ in range(60):
            yield big

    out = await chunks((await sse_reply(burst(), heartbeat=15)).stream)
    assert b"".join(out).count(big.encode()) == 60
    assert max(len(chunk) for chunk in out) < 100_000  # 64 KiB, and one more
    assert len(out) >= 6


async def test_a_paced_source_is_still_written_token_by_token() -> None:
    written: list[bytes] = []
    handed: list[asyncio.Event] = []

    async def lockstep() -> AsyncIterator[str]:
        """Each token is made only once the one before it was written."""
        for i in range(5):
            handed.append(asyncio.Event())
            yield f"t{i} "
            await handed[-1].wait()  # a writer that waits to fill a batch waits forever

    stream = (await sse_reply(lockstep(), heartbeat=15)).stream
    assert stream is not None

    async def write() -> None:
        async for chunk in stream:
            written.append(chunk)
            if handed:
                handed[-1].set()

    await asyncio.wait_for(write(), DEADLINE)
    # Nothing waits to fill a batch: each token alone, then done.
    assert [chunk.count(b"data: ") for chunk in written] == [1, 1, 1, 1, 1, 1]
    assert written[-1].endswith(b'data: {"type":"done"}\n\n')


async def test_nothing_is_produced_ahead_of_a_slow_consumer() -> None:
    produced = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal produced
        while True:
            produced += 1
            yield "x"
            await asyncio.sleep(0)

    reply = await sse_reply(endless(), heartbeat=15)
    assert reply.stream is not None
    frames = aiter(reply.stream)
    await frames.__anext__()
    before = produced
    # The consumer stalls. The writer steps the source itself, so nothing runs ahead
    # of it: no buffer grows behind a client that stopped reading.
    for _ in range(1000):
        await asyncio.sleep(0)
    assert produced == before
    await frames.aclose()


async def test_heartbeats_during_the_first_event_hold_do_not_start_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A hold far longer than the failure takes, so a slow machine cannot outlast it.
    monkeypatch.setattr("rais._sse.FIRST_EVENT_WAIT", DEADLINE)

    async def fails_late() -> AsyncIterator[str]:
        await asyncio.sleep(0.3)  # several heartbeat intervals
        raise UpstreamError("The model provider does not know this model", status=404)
        yield ""  # pragma: no cover

    reply = await sse_reply(fails_late(), heartbeat=0.05)
    assert reply.status == 502 and reply.stream is None  # the server's setting: bad gateway


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
    assert reply.status == 502
    text = caplog.text
    assert "rais stream failed" in text and "RuntimeError" in text and "UpstreamError" in text
    assert key not in text and "[redacted]" in text
    record = next(r for r in caplog.records if "rais stream failed" in r.getMessage())
    assert record.exc_info is not None  # handlers that want the exception still get it
    formatted = logging.Formatter().format(record)
    assert key not in formatted and 'File "' in formatted  # frames are kept for debugging


async def test_a_client_that_keeps_reading_too_slowly_is_cut_after_the_send_timeout() -> None:
    closed = asyncio.Event()
    finished: list[str] = []

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 1000
                await asyncio.sleep(0)
        finally:
            closed.set()

    turn = Turn(on_finish=lambda result: finished.append(result.outcome))
    reply = await sse_reply(endless(), heartbeat=None, send_timeout=0.8, turn=turn)
    assert reply.stream is not None
    frames = aiter(reply.stream)
    # Every write completes, but each one waits: the client reads a trickle, never enough.
    with pytest.raises(StopAsyncIteration):
        for _ in range(10_000):
            await frames.__anext__()
            await asyncio.sleep(0.2)
    await asyncio.wait_for(closed.wait(), DEADLINE)
    for _ in range(200):
        if finished:
            break
        await asyncio.sleep(0.05)
    assert finished == ["timeout"]


async def test_an_idle_stream_read_promptly_is_never_cut() -> None:
    async def slow_model() -> AsyncIterator[str]:
        for word in ["a ", "b ", "c"]:
            await asyncio.sleep(0.5)  # idle for longer than the send timeout below
            yield word

    reply = await sse_reply(slow_model(), heartbeat=0.1, send_timeout=0.3)
    body = b"".join(await chunks(reply.stream))
    assert body.endswith(b'data: {"type":"done"}\n\n') and body.count(b'"type":"text"') == 3
