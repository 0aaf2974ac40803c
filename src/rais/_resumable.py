"""Resumable streams, the writer side: detached generation into a store, and its readers.

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
import base64
import contextlib
import contextvars
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator

from . import shutdown
from ._bridge import task_in
from ._chat import Turn
from ._codecs import Encoder, encode_frames
from ._events import PING, Event, error_event, sse_frame
from ._stores import StoreUnavailable, StreamStore
from ._stores.base import watched_until

__all__ = [
    "active_stream",
    "chat_key",
    "new_stream_id",
    "owns_stream",
    "parse_event_id",
    "set_active",
    "start_generation",
    "tail",
]

#: How long one store read may wait for new events when heartbeats are off.
IDLE_WAIT = 15.0
#: Seconds a store read may take beyond its own wait before the reader sends a ping and
#: asks again (a store that hangs must not silence the heartbeats).
_STORE_SLACK = 1.0

_EVENT_ID = re.compile(r"([A-Za-z0-9_-]{8,64}):([0-9]{1,12})")
_GONE = "This response is no longer available."
_ABANDONED = "Nobody was reading this answer any more, so it was stopped."
_STORE_DOWN = "The response was interrupted: the stream store is unavailable."

# Detached generation tasks, held here so they are not garbage-collected mid-stream.
_generating: set[asyncio.Task[None]] = set()


def new_stream_id(owner: str | None = None) -> str:
    """A random id whose last characters bind it to ``owner`` (see :func:`owns_stream`)."""
    token = secrets.token_urlsafe(12)
    return token + _owner_tag(token, owner)


def owns_stream(stream_id: str, owner: str | None) -> bool:
    """Whether a reconnect from ``owner`` may read ``stream_id``: the tag must match, so a
    leaked id (a log line, a proxy, a shared device) is useless to anyone else."""
    token, tag = stream_id[:-_TAG], stream_id[-_TAG:]
    return len(stream_id) > _TAG and hmac.compare_digest(tag, _owner_tag(token, owner))


_TAG = 8


def _owner_tag(token: str, owner: str | None) -> str:
    digest = hashlib.sha256(f"rais-owner\0{token}\0{owner or ''}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:6]).decode()


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
    turn: Turn,
    grace: float | None = None,
    settle_timeout: float | None = None,
    context: contextvars.Context | None = None,
) -> None:
    """Drive ``events`` into ``store`` in a task that outlives the client connection.

    ``turn`` is reported once, when generation ends (not per reader). With ``grace``,
    generation that no reader (on any worker) has followed for that long is stopped.
    ``events`` are pulled in ``context``: the one the task of ``first`` ran in.
    """
    task = asyncio.get_running_loop().create_task(
        _drive(store, stream_id, first, events, turn, grace, settle_timeout, context),
        name=f"rais-resume-{stream_id}",
    )
    _generating.add(task)
    task.add_done_callback(_generating.discard)


async def _drive(
    store: StreamStore,
    stream_id: str,
    first: asyncio.Future[Event],
    events: AsyncGenerator[Event, None],
    turn: Turn,
    grace: float | None = None,
    settle_timeout: float | None = None,
    context: contextvars.Context | None = None,
) -> None:
    """Pull events in one task, write them in batches in this one.

    Whatever arrives while a write is in flight goes out in the next single write,
    so a slow store costs round trips per batch, not per token. On server shutdown the
    source is cancelled and the stream ends with one ``error`` event in the store.
    """
    loop = asyncio.get_running_loop()
    pending: list[Event] = []
    ready = asyncio.Event()
    last_event = loop.time()
    timed_out = False
    stopped: list[Event] = []
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

    def stop(event: Event) -> None:  # the server is shutting down
        if not stopped:
            stopped.append(event)
            pumping.cancel()

    abandoned = False

    async def watch_readers(grace: float) -> None:
        """Stop generating an answer nobody has read for ``grace`` seconds."""
        nonlocal abandoned
        started = time.time()
        while not pumping.done():
            await asyncio.sleep(grace / 4)
            with contextlib.suppress(StoreUnavailable):
                until = await watched_until(store, stream_id)
                if time.time() - (until or started) >= grace:
                    abandoned = True
                    pumping.cancel()
                    return

    pumping = task_in(pump(), context or contextvars.copy_context())
    watcher = loop.create_task(watch_readers(grace)) if grace else None
    pumping.add_done_callback(lambda _: ready.set())
    timer = loop.call_later(store.ttl, watch)
    shutdown.register(pumping, stop)
    position = 0
    outcome = "error"
    error: str | None = None
    try:
        while True:
            await ready.wait()
            ready.clear()
            if pending:
                batch = pending[:]
                pending.clear()
            elif pumping.done():  # ended without a terminal event: idle, stopped, or failed
                if stopped:
                    batch = stopped[:1]
                elif abandoned:
                    batch = [error_event(_ABANDONED)]
                else:
                    message = "The response timed out." if timed_out else "The response failed."
                    batch = [error_event(message)]
            else:
                continue
            last = batch[-1]
            if last.terminal and last.type in ("done", "error") and not (stopped or abandoned):
                # on_finish first, then the readers see the end (bounded: settle_timeout)
                if len(batch) > 1:
                    await store.append(stream_id, position, batch[:-1])
                    position += len(batch) - 1
                    batch = batch[-1:]
                if last.type == "done":
                    await turn.settle("done", None, settle_timeout)
                else:
                    await turn.settle("error", json.loads(last.data)["error"], settle_timeout)
            await store.append(stream_id, position, batch)
            position += len(batch)
            if batch[-1].terminal:
                outcome = batch[-1].type
                if outcome == "error":
                    error = json.loads(batch[-1].data)["error"]
                    if stopped:
                        outcome = "shutdown"
                    elif abandoned:
                        outcome = "disconnected"  # the client left and did not come back
                return
    except StoreUnavailable:
        error = "The stream store is unavailable."
        # Readers on other workers may still reach the store: end them with an error
        # rather than leave them heartbeating until the TTL.
        await _end_after_failure(store, stream_id, position)
    finally:
        shutdown.unregister(pumping)
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
        if not pumping.done():
            pumping.cancel()
        with contextlib.suppress(BaseException):
            await pumping
        if not first.done():
            first.cancel()
        with contextlib.suppress(BaseException):
            await events.aclose()
        turn.finish(outcome, error)  # type: ignore[arg-type]


async def _end_after_failure(store: StreamStore, stream_id: str, position: int) -> None:
    """Write one ``error`` event after a failed write, a few times over about 2 s (bounded).
    A failed batch may have been written in part: the error goes after what is there."""
    for attempt in range(4):
        try:
            written = await store.read(stream_id, position, 0) or []
            if written and written[-1].terminal:
                return
            await store.append(stream_id, position + len(written), [error_event(_STORE_DOWN)])
            return
        except StoreUnavailable:
            await asyncio.sleep(0.25 * 2**attempt)


def chat_key(owner: str | None, chat_id: str) -> str:
    """Where a chat's active stream is recorded: per owner, so that one user's chat id
    (chosen by the client) can never name another user's reply."""
    return hashlib.sha256(f"{owner or ''}\0{chat_id}".encode()).hexdigest()


async def set_active(store: StreamStore, key: str, stream_id: str) -> None:
    """Record ``stream_id`` as chat ``key``'s reply in progress, if the store can."""
    method = getattr(store, "set_active", None)
    if method is not None:
        await method(key, stream_id)


async def active_stream(store: StreamStore, key: str) -> str | None:
    """The reply in progress of chat ``key`` (``None``: none, or the store cannot say)."""
    method = getattr(store, "active", None)
    return None if method is None else await method(key)  # type: ignore[no-any-return]


async def tail(
    store: StreamStore,
    stream_id: str,
    after: int,
    heartbeat: float | None,
    first_batch: list[Event] | None = None,
    encoder: Encoder | None = None,
) -> AsyncIterator[bytes]:
    """Frame the stream's events after position ``after`` as SSE, following the live tail.

    Idle waits are bounded by ``heartbeat`` (a ``: ping`` comment each time). Ends after
    the terminal event; a stream that expires or a store that fails meanwhile ends
    with one ``error`` event (without an id: it is not part of the stored stream).
    ``encoder`` frames another protocol's events (without ids); none frames RAIS v1.
    """

    def frame(event: Event, event_id: str | None) -> bytes:
        if encoder is None:
            return sse_frame(event, event_id)
        return encode_frames(encoder.frames(event))

    wait = heartbeat if heartbeat and heartbeat > 0 else IDLE_WAIT
    prefix = stream_id + ":"
    batch = first_batch or None  # [] (nothing new yet) means: wait on the store
    reader = asyncio.current_task()
    stopping: list[Event] = []
    key = object()

    def stop(event: Event) -> None:  # shutdown: end this reader; the client resumes elsewhere
        stopping.append(event)
        if reader is not None:
            reader.cancel()

    shutdown.register(key, stop)
    try:
        while True:
            if stopping:  # the stop came while this reader was not in a read (it was writing):
                return  # the generation's own shutdown error must not reach this client
            if batch is None:
                try:
                    if heartbeat and heartbeat > 0:  # a hung store (Redis stopped) still
                        batch = await asyncio.wait_for(  # lets the client hear pings
                            store.read(stream_id, after, wait), wait + _STORE_SLACK
                        )
                    else:
                        batch = await store.read(stream_id, after, wait)
                except asyncio.TimeoutError:
                    if stopping:
                        return
                    yield PING
                    continue
                except asyncio.CancelledError:
                    if not stopping:
                        raise
                    uncancel = getattr(reader, "uncancel", None)  # 3.11+: this one is handled
                    if uncancel is not None:
                        uncancel()
                    return  # no terminal event: the client reconnects with Last-Event-ID
                if stopping:
                    return
                if batch is None:
                    yield frame(error_event(_GONE), None)
                    return
                if not batch:
                    if heartbeat and heartbeat > 0:
                        yield PING
                    batch = None
                    continue
            # One chunk per batch: one write per burst rather than per token.
            frames = []
            ended = False
            for event in batch:
                after += 1
                frames.append(frame(event, prefix + str(after)))
                if event.terminal:
                    ended = True
                    break
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if ended:
                return
            batch = None
    except StoreUnavailable:
        yield frame(error_event(_STORE_DOWN), None)
    finally:
        shutdown.unregister(key)
        if stopping:
            await _let_generation_end(stream_id)


async def _let_generation_end(stream_id: str, timeout: float = 3.0) -> None:
    """At shutdown, hold this reader's response (bounded) until this process's generation
    of the stream has ended and reported its turn: servers wait for open responses before
    they exit, never for detached tasks (a WSGI worker would exit before ``on_finish``)."""
    name = f"rais-resume-{stream_id}"
    tasks = [task for task in _generating if task.get_name() == name and not task.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
