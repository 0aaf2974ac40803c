"""Resumable streams (the RAIS "Full" level): ``id:`` on every event, ``Last-Event-ID`` resume.

With a store configured, generation is detached from the client connection. One
task per stream (:func:`start_generation`) pulls the pipeline and appends events to
the store; every client connection, the first one and any reconnect, only reads the
store from a position and then follows the live tail (:func:`tail`). So a dropped
connection loses nothing, a reconnect gets exactly what it missed, and with a shared
store (Redis) the reconnect may land on any worker.

Event ids are ``<stream-id>:<position>``, positions counting from 1 per stream. The
stream id is a random, unguessable token: knowing it is what allows a resume.

Detached generation is bounded: it stops at the terminal event, and a source that
yields nothing for a whole ``ttl`` is cancelled (its stream has expired by then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator

from .events import Event, error_event, sse_frame
from .pipeline import log_stream
from .stores import (
    DEFAULT_TTL,
    InMemoryStore,
    RedisStore,
    StoreUnavailable,
    StreamStore,
    resume_ttl,
)

__all__ = [
    "DEFAULT_TTL",
    "InMemoryStore",
    "RedisStore",
    "StoreUnavailable",
    "StreamStore",
    "new_stream_id",
    "open_store",
    "parse_event_id",
    "resume_ttl",
    "start_generation",
    "tail",
]

logger = logging.getLogger("rais")

#: How long one store read may wait for new events when heartbeats are off.
IDLE_WAIT = 15.0

_PING = b": ping\n\n"
_EVENT_ID = re.compile(r"([A-Za-z0-9_-]{8,64}):([0-9]{1,12})")
_GONE = "This response is no longer available."
_STORE_DOWN = "The response was interrupted: the stream store is unavailable."

# Detached generation tasks, held here so they are not garbage-collected mid-stream.
_generating: set[asyncio.Task[None]] = set()


def open_store(spec: StreamStore | str | bool | None) -> StreamStore | None:
    """The store for a ``resume=`` option (or ``RAIS_RESUME_URL``).

    ``None``/``False``/``""``: resume off. ``True``, ``"memory"`` or ``"memory://"``: an
    :class:`InMemoryStore`. ``redis://``, ``rediss://`` or ``unix://`` URLs: a
    :class:`RedisStore`. A store object is used as is. Anything else fails at start-up.
    """
    if spec is None or spec is False or spec == "":
        return None
    if spec is True:
        return InMemoryStore()
    if isinstance(spec, str):
        if spec in ("memory", "memory://"):
            return InMemoryStore()
        if spec.startswith(("redis://", "rediss://", "unix://")):
            return RedisStore(spec)
        raise ValueError(
            "resume must be a store, True, 'memory://' or a redis:// URL, "
            f"not {spec.split('://')[0]!r}://..."
        )
    if isinstance(spec, StreamStore):
        return spec
    raise TypeError(f"resume must be a store, a URL or a bool, not {type(spec).__name__}")


def new_stream_id() -> str:
    return secrets.token_urlsafe(12)


def parse_event_id(value: str) -> tuple[str, int] | None:
    """``"<stream-id>:<n>"`` -> ``(stream_id, n)``; anything else (a plain number too) -> None."""
    match = _EVENT_ID.fullmatch(value.strip())
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def start_generation(
    store: StreamStore,
    stream_id: str,
    first: asyncio.Future[Event],
    events: AsyncGenerator[Event, None],
    started: float | None = None,
) -> None:
    """Drive ``events`` into ``store`` in a task that outlives the client connection.

    ``started`` (a ``time.perf_counter()``) is when the request came in, for the log line.
    """
    task = asyncio.get_running_loop().create_task(
        _drive(store, stream_id, first, events, started or time.perf_counter()),
        name=f"rais-resume-{stream_id}",
    )
    _generating.add(task)
    task.add_done_callback(_generating.discard)


async def _drive(
    store: StreamStore,
    stream_id: str,
    first: asyncio.Future[Event],
    events: AsyncGenerator[Event, None],
    started: float,
) -> None:
    """Pull events in one task, write them in batches in this one.

    Whatever arrives while a write is in flight goes out in the next single write,
    so a slow store costs round trips per batch, not per token.
    """
    loop = asyncio.get_running_loop()
    first_token: float | None = None
    pending: list[Event] = []
    ready = asyncio.Event()
    last_event = loop.time()
    timed_out = False
    timer: asyncio.TimerHandle

    async def pump() -> None:
        nonlocal last_event
        event = await first
        while True:
            pending.append(event)
            last_event = loop.time()
            ready.set()
            if event.terminal:
                return
            event = await events.__anext__()

    def watch() -> None:
        nonlocal timer, timed_out
        idle = loop.time() - last_event
        if idle >= store.ttl:
            timed_out = True
            pumping.cancel()
        else:
            timer = loop.call_later(store.ttl - idle, watch)

    pumping = loop.create_task(pump())
    pumping.add_done_callback(lambda _: ready.set())
    timer = loop.call_later(store.ttl, watch)
    position = tokens = 0
    outcome = "stopped"
    try:
        while True:
            await ready.wait()
            ready.clear()
            if pending:
                batch = pending[:]
                pending.clear()
            elif pumping.done():  # ended without a terminal event: idle too long, or failed
                message = "The response timed out." if timed_out else "The response failed."
                batch = [error_event(message)]
            else:
                continue
            await store.append(stream_id, position, batch)
            position += len(batch)
            if first_token is None and batch[0].type == "text":
                first_token = time.perf_counter() - started
            tokens += sum(event.type == "text" for event in batch)
            if batch[-1].terminal:
                outcome = batch[-1].type
                return
    except StoreUnavailable:
        outcome = "store_unavailable"  # readers see the store fail too and end with an error
    finally:
        timer.cancel()
        if not pumping.done():
            pumping.cancel()
        with contextlib.suppress(BaseException):
            await pumping
        if not first.done():
            first.cancel()
        with contextlib.suppress(BaseException):
            await events.aclose()
        log_stream(outcome, tokens, first_token, started, kind="resumable stream")


async def tail(
    store: StreamStore,
    stream_id: str,
    after: int,
    heartbeat: float | None,
    first_batch: list[Event] | None = None,
) -> AsyncIterator[bytes]:
    """Frame the stream's events after position ``after`` as SSE, following the live tail.

    Idle waits are bounded by ``heartbeat`` (a ``: ping`` comment each time). Ends after
    the terminal event; a stream that expires or a store that fails meanwhile ends
    with one ``error`` event (without an id: it is not part of the stored stream).
    """
    wait = heartbeat if heartbeat and heartbeat > 0 else IDLE_WAIT
    prefix = stream_id + ":"
    batch = first_batch or None  # [] (nothing new yet) means: wait on the store
    try:
        while True:
            if batch is None:
                batch = await store.read(stream_id, after, wait)
                if batch is None:
                    yield sse_frame(error_event(_GONE), None)
                    return
                if not batch:
                    if heartbeat and heartbeat > 0:
                        yield _PING
                    batch = None
                    continue
            # One chunk per batch: one write per burst rather than per token.
            frames = []
            ended = False
            for event in batch:
                after += 1
                frames.append(sse_frame(event, prefix + str(after)))
                if event.terminal:
                    ended = True
                    break
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if ended:
                return
            batch = None
    except StoreUnavailable:
        yield sse_frame(error_event(_STORE_DOWN), None)
