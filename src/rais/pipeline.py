"""The stream pipeline: any token source in, a well-formed RAIS event stream out.

Every adapter, transport and ``stream_response`` goes through :func:`rais_events`,
so the guarantees live in one place:

- the stream ends with exactly one ``done`` or ``error`` and nothing follows it;
- empty text is never emitted, reserved v1 types are filtered;
- any exception becomes one ``error`` event with a redacted message (logged in full);
- when the consumer stops early (client disconnect) the source is closed, which
  cancels the upstream HTTP call;
- optional ``:`` heartbeats keep idle streams open through proxies.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any, TypeAlias, cast

from . import shutdown
from ._chunks import chunk_item, source_of
from .chat import Turn, Usage
from .errors import RaisError, RedactingFilter, as_upstream_error, redacted_traceback, safe_message
from .events import DONE, HEARTBEAT, RESERVED_TYPES, Event, error_event, event_from_dict, text_event

__all__ = ["EventFeed", "Item", "Source", "rais_events", "with_heartbeats"]

logger = logging.getLogger("rais")
access_log = logging.getLogger("rais.access")


def log_stream(
    outcome: str,
    tokens: int,
    first_token: float | None,
    started: float,
    kind: str = "stream",
    status: str = " status=200",
) -> None:
    """One access-log line per stream: never message content, only counts and timings."""
    access_log.info(
        "%s %s%s tokens=%d ttft=%s duration=%.3fs",
        kind,
        outcome,
        status,
        tokens,
        "-" if first_token is None else f"{first_token:.3f}s",
        time.perf_counter() - started,
    )


logger.addFilter(RedactingFilter())

#: What a source may yield: text chunks, event dicts, ``rais_event`` strings or Events.
#: (and :class:`rais.Usage`, recorded for ``on_finish``, never sent).
Item: TypeAlias = "str | dict[str, Any] | Event | Usage"
Source: TypeAlias = "AsyncIterable[Item] | Iterable[Item] | Awaitable[Source]"

_EXHAUSTED = object()


async def rais_events(
    source: Source,
    *,
    secrets: Iterable[str | None] = (),
    turn: Turn | None = None,
) -> AsyncGenerator[Event, None]:
    """Turn ``source`` into RAIS events that always end with one terminal event.

    ``secrets`` are redacted from error messages. ``turn`` records the text, the
    token usage a source yields (:class:`rais.Usage`, never sent) and the exception
    that ended the stream, so a caller can answer with its status and report it.
    """
    items: AsyncIterator[Item] | None = None
    record = turn if turn is not None else Turn()
    parts = record.parts
    try:
        while inspect.isawaitable(source):  # e.g. an async handler returning a generator
            source = await source
        items = _aiter(cast("Source", source_of(source)))  # LlamaIndex responses, as they are
        async for item in items:
            if type(item) is str:  # the hot path: a plain text chunk
                if not item:
                    continue
                if item.startswith("data: ") and item.endswith("\n\n"):
                    for event in _decode_encoded(item):
                        if event.terminal:
                            yield _final(event, secrets)
                            return
                        _record(record, event)
                        yield event
                    continue
                if not parts:
                    record.first_token = time.perf_counter() - record.started
                parts.append(item)
                yield text_event(item)
                continue
            converted = _to_event(item, record)
            if converted is None:
                continue
            if converted.terminal:
                yield _final(converted, secrets)
                return
            _record(record, converted)
            yield converted
    except (asyncio.CancelledError, GeneratorExit):
        raise  # the client left or the server is stopping: not a failure of the source
    except BaseException as exc:
        exc = as_upstream_error(exc)
        record.failure = exc
        ref = uuid.uuid4().hex[:8]
        # Logged with a redacted rendering of the traceback: SDK errors can quote the key.
        logger.error(
            "rais stream failed (ref %s)",
            ref,
            exc_info=exc,
            extra={"rais_exc_text": redacted_traceback(exc, secrets)},
        )
        message = safe_message(exc, secrets)
        if not hasattr(exc, "status"):
            message = f"{message} (ref {ref})"
        yield error_event(message)
        return
    finally:
        if items is not None:
            await _aclose(items)
    yield DONE


def _record(turn: Turn, event: Event) -> None:
    """Text that came as an event dict or an encoded string (the rare path) is recorded too."""
    if event.type == "text":
        if not turn.parts:
            turn.first_token = time.perf_counter() - turn.started
        turn.parts.append(json.loads(event.data)["text"])


def _final(event: Event, secrets: Iterable[str | None]) -> Event:
    """A source's own ``error`` event goes through the same redaction as an exception."""
    if event.type != "error":
        return event
    message = json.loads(event.data).get("error")
    return error_event(safe_message(RaisError(str(message)), secrets))


def _to_event(item: Any, turn: Turn) -> Event | None:
    if isinstance(item, Event):
        if item.type in RESERVED_TYPES or item.type == "heartbeat":
            return None
        if item.type == "text" and item.data == text_event("").data:
            return None
        return item
    if isinstance(item, dict):
        return event_from_dict(item)
    if isinstance(item, str):
        return text_event(item) if item else None
    if isinstance(item, Usage):
        turn.add_usage(item)
        return None
    # LangChain, LlamaIndex and pydantic-ai chunks (TypeError for anything unknown).
    converted = chunk_item(item)
    if isinstance(converted, tuple):
        text, usage = converted
        turn.add_usage(usage)
        return text_event(text) if text else None
    if isinstance(converted, Usage):
        turn.add_usage(converted)
        return None
    return text_event(converted) if converted else None


def _decode_encoded(chunk: str) -> Iterator[Event]:
    """Accept ``rais_event()`` strings from hand-written generators, re-encoded compactly."""
    for block in chunk.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                data = json.loads(line[6:])
                if not isinstance(data, dict):
                    raise TypeError("a rais_event payload must be a JSON object")
                event = event_from_dict(data)
                if event is not None:
                    yield event


async def _aclose(items: AsyncIterator[Item]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _aiter(source: Source) -> AsyncIterator[Item]:
    if isinstance(source, AsyncIterable):
        return source.__aiter__()
    if isinstance(source, (list, tuple)):
        return _from_list(source)
    if isinstance(source, Iterable):
        return _from_blocking(iter(source))
    raise TypeError(f"cannot stream from {type(source).__name__}: expected an (async) iterable")


async def _from_list(items: list[Item] | tuple[Item, ...]) -> AsyncIterator[Item]:
    for item in items:
        yield item


_blocking_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    # Sized for many concurrent slow generators; threads start lazily, on demand.
    global _blocking_pool
    if _blocking_pool is None:
        _blocking_pool = concurrent.futures.ThreadPoolExecutor(256, thread_name_prefix="rais-sync")
    return _blocking_pool


async def _from_blocking(iterator: Iterator[Item]) -> AsyncIterator[Item]:
    """Pull a sync generator in a worker thread so a slow model never blocks the loop."""
    pending: concurrent.futures.Future[Any] | None = None
    try:
        while True:
            pending = _pool().submit(next, iterator, _EXHAUSTED)
            item = await asyncio.wrap_future(pending)
            if item is _EXHAUSTED:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            # Closing a generator while next() runs in a thread would fail: close it
            # once that call returns, without making the cancelled consumer wait.
            def close_quietly(_: object = None) -> None:
                with contextlib.suppress(Exception):
                    close()

            if pending is not None and not pending.done():
                pending.add_done_callback(close_quietly)
            else:
                _pool().submit(close_quietly)


class EventFeed:
    """The buffer between a stream's producer task and its consumer.

    :func:`with_heartbeats` yields events one at a time; a consumer that writes to a
    socket can also take every event already produced with :meth:`ready`, so a fast
    source goes out in a few large writes instead of one per token (tokens are still
    written as soon as they exist: nothing waits to fill a batch). :meth:`stop` ends
    the stream from outside, e.g. on server shutdown.
    """

    __slots__ = (
        "buffer",
        "consumer",
        "ended",
        "failure",
        "finished",
        "limit",
        "max_bytes",
        "on_stall",
        "producer",
        "send_timeout",
        "size",
        "stop_event",
        "taken",
    )

    def __init__(
        self, limit: int = 64, *, max_bytes: int = 65536, send_timeout: float | None = None
    ) -> None:
        self.buffer: list[Event] = []  # a list: near-empty most of the time, and small then
        self.limit = limit  #: events buffered ahead of a slow client, at most
        self.max_bytes = max_bytes  #: and bytes of event data, at most
        self.size = 0  #: bytes of event data in the buffer
        #: A client that takes nothing for this long while events wait has stalled.
        self.send_timeout = send_timeout if send_timeout and send_timeout > 0 else None
        self.on_stall: Callable[[], None] | None = None
        self.taken = 0.0  #: loop time of the consumer's last take
        self.finished = False  #: the producer is done (end of source or failure)
        self.failure: BaseException | None = None
        self.stop_event: Event | None = None
        self.ended = False  #: a terminal event has been taken
        self.consumer: asyncio.Future[None] | None = None  #: set while the consumer waits
        self.producer: asyncio.Future[None] | None = None  #: set while the producer waits

    def ready(self) -> list[Event]:
        """Take every event produced so far without waiting, up to a terminal one."""
        if not self.buffer or self.ended:
            return []
        items = list(self.buffer)
        self.buffer.clear()
        self.size = 0
        _wake(self.producer)
        for i, event in enumerate(items):
            if event.terminal:
                self.ended = True
                return items[: i + 1]
        return items

    def stop(self, event: Event) -> None:
        """End the stream with ``event`` (an ``error``) as soon as the consumer next reads."""
        if self.stop_event is None and not self.ended:
            self.stop_event = event
            _wake(self.consumer)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def with_heartbeats(
    events: AsyncGenerator[Event, None], interval: float | None, *, feed: EventFeed | None = None
) -> AsyncGenerator[Event, None]:
    """Interleave ``HEARTBEAT`` whenever ``events`` has been idle for ``interval`` seconds.

    The source runs in its own task feeding a bounded buffer (``feed``; a slow client
    holds at most ``feed.limit`` events); one timer per interval (not per event)
    decides when to ping, so the per-token cost stays a buffer hop. The stream is
    registered with :mod:`rais.shutdown`, which ends it if the server shuts down.
    """
    feed = feed if feed is not None else EventFeed()
    loop = asyncio.get_running_loop()
    beat = interval if interval and interval > 0 else None
    timer: asyncio.TimerHandle | None = None
    last = loop.time()

    async def pump() -> None:
        nonlocal last
        buffer = feed.buffer
        try:
            async for event in events:
                buffer.append(event)
                feed.size += len(event.data)
                last = loop.time()
                _wake(feed.consumer)
                # A slow client: wait for room (bounded in events and in bytes).
                while len(buffer) >= feed.limit or feed.size >= feed.max_bytes:
                    feed.producer = loop.create_future()
                    await feed.producer
        except asyncio.CancelledError:  # the consumer left
            raise
        except BaseException as exc:  # handed to the consumer, raised there
            feed.failure = exc
        finally:
            feed.finished = True
            _wake(feed.consumer)

    stall = feed.send_timeout
    period = min(x for x in (beat, stall) if x is not None) if (beat or stall) else None

    def tick() -> None:
        nonlocal timer, last
        assert period is not None
        now = loop.time()
        if stall is not None and feed.buffer and now - feed.taken >= stall and not feed.ended:
            stalled()  # events have waited a whole send timeout: the client stopped reading
            return
        delay = period
        if beat is not None:
            idle = now - last
            delay = min(period, beat - idle)
            if idle >= beat * 0.999:
                if not feed.finished and len(feed.buffer) < feed.limit:
                    feed.buffer.append(HEARTBEAT)
                    _wake(feed.consumer)
                last = now
                delay = period
        timer = loop.call_later(max(delay, 0.001), tick)

    def stalled() -> None:
        feed.ended = True
        if not task.done():
            task.cancel()  # stop the upstream call now; the writer may stay blocked
        if feed.on_stall is not None:
            feed.on_stall()

    if period is not None:
        timer = loop.call_later(period, tick)
    feed.taken = loop.time()
    task = loop.create_task(pump())
    shutdown.register(feed, feed.stop)
    try:
        while True:
            while not feed.buffer or feed.stop_event is not None:
                if feed.stop_event is not None:
                    feed.ended = True
                    yield feed.stop_event
                    return
                if feed.finished:
                    if feed.failure is not None:
                        raise feed.failure
                    return
                feed.consumer = loop.create_future()
                try:
                    await feed.consumer
                finally:
                    feed.consumer = None
            event = feed.buffer.pop(0)
            feed.size -= len(event.data)
            feed.taken = loop.time()
            if feed.producer is not None and len(feed.buffer) <= feed.limit // 2:
                _wake(feed.producer)
            if event.terminal:
                feed.ended = True
                yield event
                return
            yield event
    finally:
        shutdown.unregister(feed)
        if timer is not None:
            timer.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await _aclose(events)
