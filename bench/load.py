"""A small asyncio load generator that reads raw bytes, so the client costs little per event.

Each stream is one HTTP/1.1 ``POST`` on its own connection (``Connection: close``):
the response is read until EOF, counting ``data:`` lines as they arrive and, when
asked, recording each stamped token's arrival time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DATA = b"data: "
#: How each protocol's answer ends: RAIS's ``done``, the AI SDK's ``[DONE]``, AG-UI's
#: ``RUN_FINISHED``.
DONE_MARKERS = (b'"type":"done"', b"data: [DONE]", b'"type":"RUN_FINISHED"')


def request_body(content: str, protocol: str = "rais") -> dict[str, object]:
    """The request body each protocol's client sends, with ``content`` as the user's text."""
    if protocol == "ai-sdk":  # DefaultChatTransport's
        return {
            "id": "chat-1",
            "trigger": "submit-message",
            "messages": [
                {"id": "m1", "role": "user", "parts": [{"type": "text", "text": content}]}
            ],
        }
    if protocol == "ag-ui":  # RunAgentInput
        return {
            "threadId": "t",
            "runId": "r",
            "state": {},
            "messages": [{"id": "u1", "role": "user", "content": content}],
            "tools": [],
            "context": [],
            "forwardedProps": {},
        }
    return {"messages": [{"role": "user", "content": content}]}


def request_bytes(
    port: int, path: str, content: str, *, keep_alive: bool = False, protocol: str = "rais"
) -> bytes:
    body = json.dumps(request_body(content, protocol)).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Accept: text/event-stream\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Stream:
    """What one response delivered."""

    sent_at: float = 0.0
    first_byte: float | None = None  #: monotonic time of the first response byte
    first_event: float | None = None  #: ... of the first ``data:`` line
    events: int = 0
    status: int | None = None
    done: bool = False  #: the terminal event arrived (``done``, ``[DONE]``, ``RUN_FINISHED``)
    closed: bool = False
    stamps: list[tuple[float, float]] = field(default_factory=list)  #: (produced, arrived)
    arrivals: list[float] = field(default_factory=list)
    raw_tail: bytes = b""


class StreamProtocol(asyncio.Protocol):
    """Counts events on the fly; keeps only a short tail of the bytes."""

    def __init__(
        self,
        request: bytes,
        *,
        stamps: bool = False,
        on_event: Callable[[int], None] | None = None,
    ) -> None:
        self.request = request
        self.want_stamps = stamps
        self.on_event = on_event
        self.stream = Stream()
        loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[Stream] = loop.create_future()
        self.started: asyncio.Future[None] = loop.create_future()  #: first event (or closed)
        self.transport: asyncio.Transport | None = None
        self._carry = b""
        self._head = b""
        self._in_body = False
        self._pending = b""  # stamp mode: text not yet split into events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.stream.sent_at = time.monotonic()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        stream = self.stream
        if stream.first_byte is None:
            stream.first_byte = now
        if not self._in_body:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            self._head = b""
            self._in_body = True
            try:
                stream.status = int(head.split(b" ", 2)[1])
            except (IndexError, ValueError):
                stream.status = 0
        if self.want_stamps:
            self._record_stamps(data, now)
        window = self._carry + data
        found = window.count(DATA) - self._carry.count(DATA)
        if found:
            if stream.first_event is None:
                stream.first_event = now
                self.started.set_result(None)
            stream.events += found
            if self.on_event is not None:
                self.on_event(found)
        self._carry = window[-8:]
        stream.raw_tail = (stream.raw_tail + data)[-200:]
        if any(marker in stream.raw_tail for marker in DONE_MARKERS):
            stream.done = True

    def _record_stamps(self, data: bytes, now: float) -> None:
        # Every frame ends with a blank line; chunked-encoding bytes between frames are ignored.
        *blocks, self._pending = (self._pending + data).split(b"\n\n")
        for block in blocks:
            at = block.find(b'"text":"')
            if at < 0:
                continue
            value = block[at + 8 :].split(b" ", 1)[0]
            try:
                self.stream.stamps.append((float(value), now))
            except ValueError:
                continue
            self.stream.arrivals.append(now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stream.closed = True
        if not self.started.done():
            self.started.set_result(None)
        if not self.finished.done():
            self.finished.set_result(self.stream)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_stream(
    port: int,
    path: str,
    content: str,
    *,
    stamps: bool = False,
    on_event: Callable[[int], None] | None = None,
    protocol: str = "rais",
) -> StreamProtocol:
    loop = asyncio.get_running_loop()
    request = request_bytes(port, path, content, protocol=protocol)
    _, opened = await loop.create_connection(
        lambda: StreamProtocol(request, stamps=stamps, on_event=on_event), "127.0.0.1", port
    )
    return opened


async def fetch(
    port: int, path: str, content: str, *, stamps: bool = False, protocol: str = "rais"
) -> Stream:
    """One complete stream."""
    opened = await open_stream(port, path, content, stamps=stamps, protocol=protocol)
    return await opened.finished


@dataclass
class Throughput:
    events_per_second: float
    streams: int
    events: int
    seconds: float
    incomplete: int
    cpu_seconds: float  #: server CPU time used in the window (0 without ``cpu``)

    @property
    def events_per_cpu_second(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds else 0.0


async def throughput(
    port: int,
    path: str,
    *,
    tokens: int,
    connections: int,
    warmup: float,
    seconds: float,
    yield_each: bool = False,
    cpu: Callable[[], float] | None = None,
    content: str | None = None,
    drain: float = 0.0,
    protocol: str = "rais",
) -> Throughput:
    """Keep ``connections`` streams of ``tokens`` events busy; count events in the window.

    ``content`` replaces the bench source's spec (the end-to-end run sends the fake
    upstream's directives instead). With ``drain`` (seconds), the streams still open
    when the window ends are read to their end rather than cut, so that the next
    measurement does not pay for this one's disconnects (a hand-written loop that does
    not notice a disconnect keeps reading its upstream until the answer ends).
    ``protocol`` is the request body's shape (``rais``, ``ai-sdk``, ``ag-ui``).
    """
    counted = 0
    measuring = False
    streams = 0
    incomplete = 0
    stop = False

    def on_event(n: int) -> None:
        nonlocal counted
        if measuring:
            counted += n

    if content is None:
        content = f"count={tokens};interval=0;stamp=0;yield={int(yield_each)}"
    active: set[StreamProtocol] = set()

    async def worker() -> None:
        nonlocal streams, incomplete
        while not stop:
            opened = await open_stream(port, path, content, on_event=on_event, protocol=protocol)
            active.add(opened)
            stream = await opened.finished
            active.discard(opened)
            if stop:
                return
            streams += 1
            if stream.status != 200 or not stream.done:
                incomplete += 1

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    try:
        await asyncio.sleep(warmup)
        cpu_before = cpu() if cpu else 0.0
        measuring = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        measuring = False
        elapsed = time.perf_counter() - started
        cpu_used = cpu() - cpu_before if cpu else 0.0
    finally:
        stop = True
        if drain and active:
            await asyncio.wait([p.finished for p in active], timeout=drain)
        for opened in list(active):
            opened.abort()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Throughput(counted / elapsed, streams, counted, elapsed, incomplete, cpu_used)
