"""The push mode of the SSE writer (``EventStream.send_to``: Starlette, FastAPI, Litestar,
aiohttp), in process: it awaits the source natively, so its pings, shutdown, send timeout
and batching each take a path of their own, tested here against a recording ``write``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from rais import shutdown
from rais._chat import Turn
from rais._sse import PING, EventStream, sse_reply

pytestmark = pytest.mark.timeout(60)

#: A bound for waits that take milliseconds on an idle machine.
DEADLINE = 20.0

Writer = Callable[[bytes], Awaitable[None]]

SHUTDOWN_EVENT = b'data: {"type":"error","error":"' + shutdown.SHUTDOWN_MESSAGE.encode() + b'"}'


async def push(source: object, write: Writer, **options: object) -> EventStream:
    reply = await sse_reply(source, **options)  # type: ignore[arg-type]
    assert isinstance(reply.stream, EventStream)
    await reply.stream.send_to(write)
    return reply.stream


class Recorder:
    """A ``write`` that records each chunk; ``gate`` (when set) holds every write."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.gate: asyncio.Event | None = None
        self.wrote = asyncio.Event()

    async def __call__(self, chunk: bytes) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.chunks.append(chunk)
        self.wrote.set()

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def frames(*texts: str, end: bytes = b'data: {"type":"done"}\n\n') -> bytes:
    body = b"".join(
        f'id: {i + 1}\ndata: {{"type":"text","text":"{t}"}}\n\n'.encode()
        for i, t in enumerate(texts)
    )
    return body + f"id: {len(texts) + 1}\n".encode() + end


async def one_then_silence(first: str, closed: asyncio.Event) -> AsyncIterator[str]:
    """``first``, then a source that waits for good; ``closed`` is set when it is closed."""
    try:
        yield first
        await asyncio.sleep(3600)
        yield "never"
    finally:
        closed.set()


def stops_reading_at_a_ping(write: Recorder, *, after: bool = False) -> Writer:
    """A client that stops reading when a ping is written (and, with ``after``, for every
    write from then on): the write blocks for good."""
    stalled = False

    async def send(chunk: bytes) -> None:
        nonlocal stalled
        stalled = chunk == PING or (after and stalled)
        if stalled:
            await asyncio.Event().wait()
        await write(chunk)

    return send


async def reported(finished: list[str]) -> None:
    """A sync ``on_finish`` runs on a worker thread: wait (bounded) until it has."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not finished:
        assert asyncio.get_running_loop().time() < deadline, "on_finish never ran"
        await asyncio.sleep(0.01)


async def cut_by_rais(pushing: Awaitable[EventStream], closed: asyncio.Event) -> EventStream:
    """The stream, once rais has closed its source by itself (each wait bounded)."""
    writer = asyncio.ensure_future(pushing)
    try:
        await asyncio.wait_for(closed.wait(), DEADLINE)
        return await asyncio.wait_for(writer, DEADLINE)
    finally:
        writer.cancel()


async def test_ready_events_share_writes_and_per_token_ones_go_one_by_one() -> None:
    async def burst() -> AsyncIterator[str]:
        for i in range(300):
            yield f"b{i}"

    async def per_token() -> AsyncIterator[str]:
        for i in range(300):
            await asyncio.sleep(0)
            yield f"p{i}"

    fast, paced = Recorder(), Recorder()
    await push(burst(), fast, heartbeat=15)
    await push(per_token(), paced, heartbeat=15)
    assert fast.body == frames(*(f"b{i}" for i in range(300)))
    assert paced.body == frames(*(f"p{i}" for i in range(300)))
    assert len(fast.chunks) < 20, "ready events go out together"
    assert len(paced.chunks) >= 300, "each per-token event is written when it is made"


async def test_a_burst_of_large_chunks_is_cut_into_bounded_writes() -> None:
    big = "x" * 10_000

    async def burst() -> AsyncIterator[str]:
        for _ in range(60):
            yield big

    write = Recorder()
    await push(burst(), write, heartbeat=15)
    assert write.body.count(big.encode()) == 60
    assert max(len(chunk) for chunk in write.chunks) < 100_000  # 64 KiB, and one more
    assert len(write.chunks) >= 6


async def test_a_source_that_turns_into_a_burst_is_batched_again() -> None:
    async def mixed() -> AsyncIterator[str]:
        for i in range(40):  # per token first: the writer stops probing
            await asyncio.sleep(0)
            yield f"p{i}"
        for i in range(500):  # then a burst (a network read holding many chunks)
            yield f"b{i}"

    write = Recorder()
    await push(mixed(), write, heartbeat=15)
    texts = [f"p{i}" for i in range(40)] + [f"b{i}" for i in range(500)]
    assert write.body == frames(*texts)
    assert len(write.chunks) < 40 + 100


async def test_pings_go_out_while_the_source_waits_untouched() -> None:
    cancelled: list[bool] = []

    async def thinking() -> AsyncIterator[str]:
        yield "a"
        try:
            await asyncio.sleep(0.6)  # several heartbeat intervals
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        yield "b"

    write = Recorder()
    stream = await push(thinking(), write, heartbeat=0.05)
    assert cancelled == []
    assert write.chunks.count(PING) >= 2
    assert write.body.replace(PING, b"") == frames("a", "b")
    assert stream.outcome == "done"


async def test_shutdown_while_the_source_waits_ends_it_and_the_writer_goes_on() -> None:
    closed = asyncio.Event()

    write = Recorder()
    writer = asyncio.ensure_future(push(one_then_silence("first", closed), write, heartbeat=15))
    await asyncio.wait_for(write.wrote.wait(), DEADLINE)
    assert shutdown.end_streams() >= 1
    stream = await asyncio.wait_for(writer, DEADLINE)
    assert closed.is_set()
    assert write.body == frames("first", end=SHUTDOWN_EVENT + b"\n\n")
    assert stream.outcome == "shutdown"
    assert not writer.cancelled()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.uncancel() is new in 3.11")
async def test_a_server_cancel_during_shutdown_still_ends_the_writer() -> None:
    closed = asyncio.Event()

    write = Recorder()
    writer = asyncio.ensure_future(push(one_then_silence("first", closed), write, heartbeat=15))
    await asyncio.wait_for(write.wrote.wait(), DEADLINE)
    assert shutdown.end_streams() >= 1
    writer.cancel()  # the server's own, at the same moment
    done, _ = await asyncio.wait([writer], timeout=DEADLINE)
    assert done and writer.cancelled()
    assert closed.is_set()


async def test_the_writer_task_is_not_left_cancelled_by_shutdown() -> None:
    async def endless() -> AsyncIterator[str]:
        yield "first"
        await asyncio.Event().wait()

    write = Recorder()

    async def serve() -> str:
        stream = await push(endless(), write, heartbeat=15)
        await asyncio.sleep(0.01)  # a task still cancelled would raise here
        return stream.outcome

    writer = asyncio.ensure_future(serve())
    await asyncio.wait_for(write.wrote.wait(), DEADLINE)
    shutdown.end_streams()
    assert await asyncio.wait_for(writer, DEADLINE) == "shutdown"


async def test_shutdown_during_a_write_closes_the_step_left_waiting() -> None:
    closed = asyncio.Event()

    async def per_token() -> AsyncIterator[str]:
        try:
            i = 0
            while True:
                await asyncio.sleep(0)
                yield f"t{i}"
                i += 1
        finally:
            closed.set()

    write = Recorder()
    write.gate = asyncio.Event()  # the first write blocks: the client is slow for a moment
    writer = asyncio.ensure_future(push(per_token(), write, heartbeat=15))
    for _ in range(20):
        await asyncio.sleep(0)
    shutdown.end_streams()
    write.gate.set()
    stream = await asyncio.wait_for(writer, DEADLINE)
    assert closed.is_set()
    assert stream.outcome == "shutdown"
    assert write.body.endswith(SHUTDOWN_EVENT + b"\n\n")
    assert write.body.count(b"data: ") == 2  # the event written, then the shutdown error


async def test_a_client_that_stops_reading_during_a_ping_is_cut() -> None:
    closed = asyncio.Event()
    finished: list[str] = []

    send = stops_reading_at_a_ping(Recorder())
    turn = Turn(on_finish=lambda result: finished.append(result.outcome))
    pushing = push(one_then_silence("a", closed), send, heartbeat=0.05, send_timeout=0.3, turn=turn)
    stream = await cut_by_rais(pushing, closed)
    assert stream.outcome == "timeout"
    await reported(finished)
    assert finished == ["timeout"]


async def test_a_client_that_stops_reading_while_the_writer_waits_for_a_ping_is_cut() -> None:
    """The source has its next event while a ping is still blocked in its write: the
    writer waits behind the ping, and the send timeout must end both (not only the ping)."""
    closed = asyncio.Event()
    finished: list[str] = []

    async def pauses() -> AsyncIterator[str]:
        try:
            yield "a"
            await asyncio.sleep(0.15)  # long enough for a ping (heartbeat 0.05)
            yield "b"
            await asyncio.sleep(3600)
            yield "never"
        finally:
            closed.set()

    write = Recorder()
    send = stops_reading_at_a_ping(write, after=True)
    turn = Turn(on_finish=lambda result: finished.append(result.outcome))
    pushing = push(pauses(), send, heartbeat=0.05, send_timeout=0.5, turn=turn)
    stream = await cut_by_rais(pushing, closed)
    assert stream.outcome == "timeout"
    await reported(finished)
    assert finished == ["timeout"]
    assert write.body.startswith(b'id: 1\ndata: {"type":"text","text":"a"}')


async def test_a_source_that_handles_the_cancel_of_a_stalled_stream_is_closed_anyway() -> None:
    """The send timeout cancels the writer while it awaits the source (a ping is the stalled
    write); the source catches that and has an event: the stream still ends, source closed."""
    closed = asyncio.Event()

    async def stubborn() -> AsyncIterator[str]:
        try:
            yield "a"
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                yield "caught"
            await asyncio.sleep(3600)
            yield "never"
        finally:
            closed.set()

    write = Recorder()
    send = stops_reading_at_a_ping(write)
    stream = await cut_by_rais(push(stubborn(), send, heartbeat=0.05, send_timeout=0.3), closed)
    assert stream.outcome == "timeout"
    assert b"never" not in write.body


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.uncancel() is new in 3.11")
async def test_the_send_timeout_does_not_swallow_a_cancel_from_the_server() -> None:
    """The server cancels the writer just as the send timeout does (its own shutdown, a
    client gone): rais takes back only its own cancellation, so the server's still ends
    the task."""
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "a"
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    writer: asyncio.Future[EventStream] | None = None

    async def never_read(chunk: bytes) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # the send timeout's: the server cancels at once too
            assert writer is not None
            writer.cancel()
            raise

    writer = asyncio.ensure_future(push(endless(), never_read, send_timeout=0.2))
    done, _ = await asyncio.wait([writer], timeout=DEADLINE)
    assert done and writer.cancelled()
    assert closed.is_set()


async def test_a_failure_after_ready_events_comes_after_them() -> None:
    async def breaks() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        raise RuntimeError("boom")

    write = Recorder()
    stream = await push(breaks(), write, heartbeat=15)
    body = write.body
    assert body.startswith(frames("a", "b", end=b"")[: -len(b"id: 3\n")])
    assert body.count(b'"type":"error"') == 1 and body.endswith(b"\n\n")
    assert stream.outcome == "error"


async def test_the_client_leaving_cancels_the_source_where_it_waits() -> None:
    seen: list[str] = []

    async def thinking() -> AsyncIterator[str]:
        yield "a"
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("closed")

    write = Recorder()
    writer = asyncio.ensure_future(push(thinking(), write, heartbeat=15))
    await asyncio.wait_for(write.wrote.wait(), DEADLINE)
    writer.cancel()  # what the ASGI reply's disconnect listener does
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert seen == ["cancelled", "closed"]


async def test_a_ping_that_finds_the_client_gone_ends_the_stream_and_the_source() -> None:
    seen: list[str] = []

    async def hangs() -> AsyncIterator[str]:
        yield "a"
        try:
            await asyncio.sleep(3600)  # an upstream that stopped sending
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    write = Recorder()

    async def gone_on_ping(chunk: bytes) -> None:
        if chunk == PING:
            raise ConnectionResetError("the client left")  # aiohttp learns it on a write
        await write(chunk)

    async def serve() -> None:
        await push(hangs(), gone_on_ping, heartbeat=0.05)

    writer = asyncio.ensure_future(serve())
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(writer, DEADLINE)
    assert seen == ["cancelled"]
    assert write.body == b'id: 1\ndata: {"type":"text","text":"a"}\n\n'


@pytest.mark.parametrize("failure", ["reset", "cancelled"])
async def test_a_write_that_fails_closes_the_source_waiting_behind_it(failure: str) -> None:
    """The probe leaves a per-token source waiting during each write: a write that fails
    (the client left) or is cancelled (the disconnect listener) must still close it."""
    closed = asyncio.Event()

    async def per_token() -> AsyncIterator[str]:
        try:
            while True:
                await asyncio.sleep(0)
                yield "t"
        finally:
            closed.set()

    written: list[bytes] = []

    async def leaves(chunk: bytes) -> None:
        written.append(chunk)
        if len(written) == 3:
            if failure == "reset":
                raise ConnectionResetError("the client left")
            raise asyncio.CancelledError

    expected = ConnectionResetError if failure == "reset" else asyncio.CancelledError
    with pytest.raises(expected):
        await push(per_token(), leaves, heartbeat=15)
    assert closed.is_set()
