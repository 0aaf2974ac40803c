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
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Iterable,
    Iterator,
)
from typing import Any, TypeAlias

from .errors import safe_message
from .events import DONE, HEARTBEAT, Event, error_event, event_from_dict, text_event

__all__ = ["Item", "Source", "rais_events", "with_heartbeats"]

logger = logging.getLogger("rais")

#: What a source may yield: text chunks, event dicts, ``rais_event`` strings or Events.
Item: TypeAlias = "str | dict[str, Any] | Event"
Source: TypeAlias = "AsyncIterable[Item] | Iterable[Item] | Awaitable[Source]"

_EXHAUSTED = object()


async def rais_events(
    source: Source,
    *,
    secrets: Iterable[str | None] = (),
    failures: list[BaseException] | None = None,
) -> AsyncGenerator[Event, None]:
    """Turn ``source`` into RAIS events that always end with one terminal event.

    ``secrets`` are redacted from error messages; an exception that ended the
    stream is appended to ``failures`` so a caller can still answer with its status.
    """
    items: AsyncIterator[Item] | None = None
    try:
        while inspect.isawaitable(source):  # e.g. an async handler returning a generator
            source = await source
        items = _aiter(source)
        async for item in items:
            if type(item) is str:  # the hot path: a plain text chunk
                if not item:
                    continue
                if item.startswith("data: ") and item.endswith("\n\n"):
                    for event in _decode_encoded(item):
                        yield event
                        if event.terminal:
                            return
                    continue
                yield text_event(item)
                continue
            converted = _to_event(item)
            if converted is None:
                continue
            yield converted
            if converted.terminal:
                return
    except Exception as exc:  # every failure becomes exactly one safe error event
        if failures is not None:
            failures.append(exc)
        ref = uuid.uuid4().hex[:8]
        logger.error("rais stream failed (ref %s)", ref, exc_info=exc)
        message = safe_message(exc, secrets)
        if not hasattr(exc, "status"):
            message = f"{message} (ref {ref})"
        yield error_event(message)
        return
    finally:
        if items is not None:
            await _aclose(items)
    yield DONE


def _to_event(item: Any) -> Event | None:
    if isinstance(item, Event):
        if item is HEARTBEAT or (item.type == "text" and item.data == text_event("").data):
            return None
        return item
    if isinstance(item, dict):
        return event_from_dict(item)
    if isinstance(item, str):
        return text_event(item) if item else None
    raise TypeError(f"a stream source yielded {type(item).__name__}, expected str or dict")


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


async def with_heartbeats(
    events: AsyncGenerator[Event, None], interval: float | None
) -> AsyncGenerator[Event, None]:
    """Interleave ``HEARTBEAT`` whenever ``events`` has been idle for ``interval`` seconds.

    The source runs in its own task feeding a small queue; one timer per interval
    (not per event) decides when to ping, so the per-token cost stays a queue hop.
    """
    if not interval or interval <= 0:
        async for event in events:
            yield event
        return

    loop = asyncio.get_running_loop()
    timer: asyncio.TimerHandle
    queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue(maxsize=64)
    last_put = loop.time()

    async def pump() -> None:
        nonlocal last_put
        try:
            async for event in events:
                last_put = loop.time()
                await queue.put(event)
        except BaseException as exc:  # handed to the consumer, re-raised there
            await queue.put(exc)
            return
        await queue.put(None)

    def tick() -> None:
        nonlocal timer, last_put
        idle = loop.time() - last_put
        if idle >= interval * 0.999 and not queue.full():
            queue.put_nowait(HEARTBEAT)
            last_put = loop.time()
            idle = 0.0
        timer = loop.call_later(interval - idle, tick)

    timer = loop.call_later(interval, tick)
    task = loop.create_task(pump())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.terminal:
                return
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await _aclose(events)
