"""The in-process store: resume within one worker, bounded in streams, bytes and time."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from .._events import Event
from .base import StoreFull, read_until, resume_ttl

__all__ = ["InMemoryStore"]


class _Log:
    """One stream: a list of events starting at position ``first``, and who waits on it."""

    __slots__ = ("bytes", "done", "events", "expires", "first", "read_until", "waiters")

    def __init__(self, first: int, expires: float) -> None:
        self.read_until = 0.0  #: wall-clock time until which a reader is (or was) reading
        self.events: list[Event] = []
        self.bytes = 0  #: the events' encoded size
        self.first = first
        self.done = False
        self.expires = expires
        self.waiters: list[asyncio.Future[None]] = []

    @property
    def last(self) -> int:
        return self.first + len(self.events) - 1

    def wake(self) -> None:
        if not self.waiters:
            return
        waiters, self.waiters = self.waiters, []
        running = asyncio.get_running_loop()
        for waiter in waiters:
            loop = waiter.get_loop()
            if loop is running:
                _resolve(waiter)
            else:  # a reader on another thread's loop (e.g. the WSGI bridge)
                loop.call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class InMemoryStore:
    """Resumable streams for a single worker process (the default for ``resume=True``).

    A reconnect must reach the same process; behind a load balancer with several
    workers use :class:`~rais._stores.redis.RedisStore`. Memory is bounded: at most
    ``max_streams`` streams and ``max_bytes`` of events in all, at most ``max_events``
    events and ``max_stream_bytes`` per stream (its oldest events are dropped past
    that), and each stream expires ``ttl`` seconds after its last event.

    A stream is never evicted before its TTL: someone may be entitled to resume it.
    A new stream is admitted while one whole stream's bytes are free and fewer than
    ``max_streams`` are kept; otherwise it is refused (:class:`StoreFull`, a ``503`` with
    ``Retry-After``). A stream that grows past the total drops its own oldest events.
    """

    def __init__(
        self,
        *,
        ttl: float | None = None,
        max_streams: int = 10_000,
        max_events: int = 10_000,
        max_bytes: int = 256 * 2**20,
        max_stream_bytes: int = 4 * 2**20,
    ) -> None:
        self.ttl = resume_ttl() if ttl is None else ttl
        self.max_streams = max_streams
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_stream_bytes = max_stream_bytes
        self.bytes = 0  #: the encoded size of every stream's events
        # Ordered by last write, so expired streams are always at the front.
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        #: A chat's active stream (the AI SDK's resume): key -> (stream id, expiry).
        self._active: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # a store may be shared by the bridge loop and another

    async def start(self, stream_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._purge(now)
            # Room for one whole stream, at least: a new answer is not trimmed at once.
            full = self.bytes > self.max_bytes - self.max_stream_bytes
            if len(self._logs) >= self.max_streams or full:
                raise StoreFull(
                    "Too many answers are kept for resuming right now; retry in a moment."
                )
            self._logs[stream_id] = _Log(1, now + self.ttl)

    async def append(self, stream_id: str, after: int, events: Sequence[Event]) -> None:
        if not events:
            return
        now = time.monotonic()
        with self._lock:
            log = self._logs.get(stream_id)
            if log is None or log.last != after:  # expired meanwhile: start over
                if log is not None:
                    self.bytes -= log.bytes
                log = self._logs[stream_id] = _Log(after + 1, now)
            log.events.extend(events)
            size = sum(len(event.data) for event in events)
            log.bytes += size
            self.bytes += size
            excess = len(log.events) - self.max_events
            if excess > self.max_events // 8:  # trim in chunks: amortised O(1) per event
                self._trim(log, excess)
            if log.bytes > self.max_stream_bytes or self.bytes > self.max_bytes:
                self._trim_bytes(log, 1)
            log.done = events[-1].terminal
            log.expires = now + self.ttl
            self._logs.move_to_end(stream_id)
            log.wake()

    async def read(self, stream_id: str, after: int, wait: float) -> list[Event] | None:
        waited = False
        until = read_until(wait)
        while True:
            with self._lock:
                log = self._live(stream_id, time.monotonic())
                if log is None or after > log.last or after < log.first - 1:
                    return None
                log.read_until = max(log.read_until, until)
                if after < log.last:
                    return log.events[after - log.first + 1 :]
                if log.done:
                    return None
                if wait <= 0 or waited:
                    return []
                waiter = asyncio.get_running_loop().create_future()
                log.waiters.append(waiter)
            timer = waiter.get_loop().call_later(wait, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                with self._lock, contextlib.suppress(ValueError):
                    log.waiters.remove(waiter)  # still there if the wait timed out
            waited = True

    async def set_active(self, key: str, stream_id: str) -> None:
        """Remember ``stream_id`` as the chat ``key``'s reply in progress (for ``ttl``)."""
        now = time.monotonic()
        with self._lock:
            self._active.pop(key, None)
            self._active[key] = (stream_id, now + self.ttl)
            while self._active and (
                len(self._active) > self.max_streams or next(iter(self._active.values()))[1] <= now
            ):
                self._active.popitem(last=False)

    async def active(self, key: str) -> str | None:
        """The stream last set active for the chat ``key``, unless it has expired."""
        with self._lock:
            found = self._active.get(key)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    async def watched_until(self, stream_id: str) -> float | None:
        with self._lock:
            log = self._logs.get(stream_id)
            return None if log is None or not log.read_until else log.read_until

    async def aclose(self) -> None:
        with self._lock:
            for log in self._logs.values():
                log.wake()
            self._logs.clear()
            self.bytes = 0
            self._active.clear()

    def _trim(self, log: _Log, count: int) -> None:
        """Drop ``log``'s ``count`` oldest events (a reconnect from before them gets 204)."""
        dropped = sum(len(event.data) for event in log.events[:count])
        del log.events[:count]
        log.first += count
        log.bytes -= dropped
        self.bytes -= dropped

    def _trim_bytes(self, log: _Log, keep: int) -> None:
        """Past the stream's or the store's byte cap: drop this stream's oldest events (in
        chunks of an eighth of the cap) down to under both, keeping the newest ``keep``."""
        target = min(self.max_stream_bytes, log.bytes - (self.bytes - self.max_bytes))
        target -= self.max_stream_bytes // 8
        count = 0
        size = log.bytes
        while count < len(log.events) - keep and size > max(target, 0):
            size -= len(log.events[count].data)
            count += 1
        if count:
            self._trim(log, count)

    def _drop(self, stream_id: str) -> None:
        log = self._logs.pop(stream_id)
        self.bytes -= log.bytes
        log.wake()

    def _live(self, stream_id: str, now: float) -> _Log | None:
        log = self._logs.get(stream_id)
        if log is not None and log.expires <= now:
            self._drop(stream_id)
            return None
        return log

    def _purge(self, now: float) -> None:
        while self._logs:
            stream_id, log = next(iter(self._logs.items()))
            if log.expires > now:
                return
            self._drop(stream_id)
