"""Server-sent events, in one place: headers, frames, the ping, the first-event hold, the writer.

Every SSE response (plain, from a handler or a provider, on every adapter) is built
by :func:`sse_reply` as an :class:`EventStream`. It numbers events with ``id:``,
sends ``: ping`` comments while the source is idle, ends the stream on shutdown or
when the client stops reading, and reports the stream's end once to its
:class:`~rais._chat.Turn`.

The per-token path has no task of its own, and one loop timer per stream drives
heartbeats, the send timeout and shutdown. Where rais writes
(:meth:`EventStream.send_to`: Starlette, FastAPI, Litestar, aiohttp), the writer awaits
the source natively; a ping goes out from a short task while the source waits, and
shutdown cancels the wait as a Task cancellation. Where the framework pulls an async
iterator (Django, Quart, the WSGI bridge), the writer steps the event generator itself,
the way an asyncio Task steps a coroutine: when the source blocks on a future, it waits
on that future *or* the timer's signal, and the source stays suspended, untouched,
meanwhile — so a ping can be yielded to the framework. Either way, events a source
produces without blocking are framed together and written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import sys
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from typing import Any, NamedTuple, TypeAlias

from . import shutdown
from ._bridge import stream_context, task_in
from ._chat import Outcome, Turn
from ._codecs import RAIS, Codec, Encoder, encode_frames
from ._events import HEARTBEAT, PING, TERMINAL_TYPES, Event, sse_frame
from ._pipeline import Source, cancelling_by_hand, rais_events
from ._reply import Reply, json_reply
from .shutdown import SHUTDOWN_MESSAGE

__all__ = [
    "FIRST_EVENT_WAIT",
    "PING",
    "EventStream",
    "First",
    "Pending",
    "hold_first_event",
    "hold_first_event_in_task",
    "sse_headers",
    "sse_reply",
]

#: How long to hold the response for a first event (``first_event_wait``), so that an
#: upstream that fails at once (bad key, 429, unknown model) is answered with an HTTP
#: status: long enough for the SDKs' own retries of a failing provider (two, about 0.5 s
#: and 1 s apart), which would otherwise turn a refusal into a 200 with an error event.
FIRST_EVENT_WAIT = 3.0

#: Events framed into one write at most, and the JSON bytes after which a batch is cut
#: (a burst is still written as it comes; few, large writes are cheaper per event, and the
#: byte bound keeps one write, and the WSGI bridge's read-ahead, small with big chunks).
MAX_BATCH = 256
MAX_BATCH_DATA = 16 * 1024

#: After a lone event (a per-token source), events go out one by one, and the source is
#: probed for ready events again only after this many.
PROBE_EVERY = 8

_BLOCKED = object()  # the source is waiting on something
_SOON = object()  # the source yielded to the loop once (``await asyncio.sleep(0)``)


def sse_headers(http_version: str | None) -> list[tuple[str, str]]:
    """RAIS v1's SSE response headers (each codec gives its own: :meth:`Codec.headers`)."""
    return RAIS.headers(http_version)


async def sse_reply(
    source: Source,
    *,
    heartbeat: float | None = None,
    http_version: str | None = "1.1",
    secrets: Iterable[str | None] = (),
    turn: Turn | None = None,
    send_timeout: float | None = None,
    send_buffer: int | None = None,
    codec: Codec = RAIS,
    first_event_wait: float = FIRST_EVENT_WAIT,
    on_finish_timeout: float | None = None,
) -> Reply:
    """Start streaming ``source``; a source that fails before its first event gets an HTTP error.

    The reply is held for at most ``first_event_wait`` seconds so that an upstream that
    fails at once (bad key, 429, unknown model) is answered with its real status and
    ``Retry-After``; later failures are ``error`` events.
    """
    turn = turn if turn is not None else Turn()
    events = rais_events(source, secrets=secrets, turn=turn)
    first, refused = await hold_first_event(events, turn, first_event_wait)
    if refused is not None:
        return refused
    stream = EventStream(
        first,
        events,
        turn,
        heartbeat=heartbeat,
        send_timeout=send_timeout,
        encoder=codec.encoder(turn),
        on_finish_timeout=on_finish_timeout,
    )
    return Reply(200, codec.headers(http_version), stream=stream, send_buffer=send_buffer)


class Pending(NamedTuple):
    """A source's first step still waiting when the first-event hold ended: the writer
    goes on with it (``step``: the ``__anext__()`` in progress, ``blocked``: what it
    waits on, a future or :data:`_SOON`)."""

    step: Any
    blocked: Any


#: The first event (a done future, or one that failed), or the step still waiting for it.
First: TypeAlias = "asyncio.Future[Event] | Pending"


async def hold_first_event(
    events: AsyncGenerator[Event, None], turn: Turn, wait: float = FIRST_EVENT_WAIT
) -> tuple[First, Reply | None]:
    """Wait up to ``wait`` seconds for the first event; an upstream that failed
    at once with an HTTP status is refused with that status (and ``events`` closed), or
    502 where the provider refused the server's own key or settings.

    The source is stepped here, in the request's task, as a Task would step it, and the
    writer goes on with a step still waiting: the whole stream runs in one context, so a
    context variable the handler sets, or a span it makes current across its first
    ``yield``, is still there after it. On the WSGI bridge the stream is relayed by
    another task, so there the first step runs in a task of its own, in the context the
    relay runs in (:func:`hold_first_event_in_task`)."""
    context = stream_context()
    if context is not None:
        return await hold_first_event_in_task(events, turn, wait, context)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(wait, 0.0)
    step = events.__anext__()
    blocked: Any = None
    first: asyncio.Future[Event] | None = None
    try:
        yielded, first = _step_on(step)
        while first is None:
            blocked = _SOON if yielded is None else yielded
            remaining = deadline - loop.time()
            if remaining <= 0 or not (yielded is None or asyncio.isfuture(yielded)):
                return Pending(step, blocked), None  # the writer goes on with it
            try:
                if yielded is None:
                    await _pass_turn()
                else:
                    await asyncio.wait([yielded], timeout=remaining)
                    if not yielded.done():
                        return Pending(step, blocked), None
            except asyncio.CancelledError as cancelled:
                # Into the source, as a Task delivers it: a cancel scope of the source's own
                # (httpx connecting) takes it and goes on; the client leaving ends it.
                yielded, first = _step_on(step, blocked, cancelled)
                continue
            yielded, first = _step_on(step)
    except BaseException:  # the request itself was cancelled (client gone): stop upstream now
        with contextlib.suppress(BaseException):
            if first is None:
                await _cancel_step(step, blocked)
            await events.aclose()
        turn.finish("disconnected")
        raise
    return first, await _refusal(first, events, turn)


async def hold_first_event_in_task(
    events: AsyncGenerator[Event, None],
    turn: Turn,
    wait: float,
    context: contextvars.Context,
) -> tuple[asyncio.Future[Event], Reply | None]:
    """:func:`hold_first_event` for a generation that outlives the request (resume): its
    first step runs in a task of its own, in ``context``, where the rest of it runs too.
    An anyio cancel scope the step enters (httpx reading) must exit in the task it was
    entered in, so no step may begin in the request's task and end in another."""
    first = task_in(_next_event(events), context)
    try:
        await asyncio.wait([first], timeout=max(wait, 0.0))
    except BaseException:  # the request itself was cancelled (client gone): stop upstream now
        first.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait([first])
            await events.aclose()
        turn.finish("disconnected")
        raise
    return first, await _refusal(first, events, turn)


async def _next_event(events: AsyncGenerator[Event, None]) -> Event:
    return await events.__anext__()


async def _refusal(
    first: asyncio.Future[Event], events: AsyncGenerator[Event, None], turn: Turn
) -> Reply | None:
    """The HTTP error for a first event that says the upstream refused with a status
    (``events`` closed, the turn finished), or ``None``."""
    if not first.done() or first.cancelled() or first.exception() is not None:
        return None
    event = first.result()
    failure = turn.failure
    status = getattr(failure, "status", None)
    if event.type != "error" or not isinstance(status, int) or not 400 <= status < 600:
        return None
    await events.aclose()
    extra = []
    retry = getattr(failure, "retry_after", None)
    if retry:
        extra.append(("Retry-After", str(retry)))
    message = json.loads(event.data)["error"]
    status = _BAD_GATEWAY if status in _THE_SERVERS_FAULT else status
    turn.finish("refused", message, status)
    return json_reply(status, {"error": {"type": "upstream_error", "message": message}}, extra)


_PING_TEXT = PING.decode()

#: Outcomes whose ``on_finish`` runs before the terminal event is written (shutdown's does
#: not wait: the server is exiting).
_SETTLED = frozenset({"done", "error"})

#: A provider refusing the server's own key (401, 403) or configuration (404: an unknown
#: model) is no fault of the client's: it gets a bad gateway, never a 401 that a page
#: would read as "sign in again". 429 and 5xx keep their status (and Retry-After).
_THE_SERVERS_FAULT = frozenset({401, 403, 404})
_BAD_GATEWAY = 502
#: Seconds a cancelled source may take to clean up (close its upstream response).
_CLEANUP_WAIT = 2.0


def _failed(exc: BaseException | None) -> asyncio.Future[Event]:
    failed: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
    failed.set_exception(exc or RuntimeError("the source failed"))
    return failed


@types.coroutine
def _pass_turn() -> Generator[None, None, None]:
    """Let the loop run once (``asyncio.sleep(0)`` without its two frames)."""
    yield


@types.coroutine
def _resume(step: Any, yielded: Any) -> Generator[Any, None, Event]:
    """Finish a source step that :meth:`EventStream._probe` left blocked on ``yielded``:
    the task waits on it, then the step goes on natively (``yield from``). A cancellation
    that arrives first goes into the step, as a Task would deliver it."""
    try:
        yield yielded
    except BaseException as exc:
        try:
            yielded = step.throw(exc)
        except StopIteration as produced:  # it handled the cancellation with an event
            return produced.value  # type: ignore[no-any-return]
        return (yield from _resume(step, yielded))
    return (yield from step)  # type: ignore[no-any-return]


def _step_on(
    step: Any, blocked: Any = None, cancelled: asyncio.CancelledError | None = None
) -> tuple[Any, asyncio.Future[Event] | None]:
    """Run a source's step on, as a Task would: what it waits on next, or (``None``, its
    event or failure as a done future). With ``cancelled``, that cancellation is delivered
    (into ``blocked``, the future it waits on, or thrown); raises it if the step does."""
    try:
        if cancelled is None:
            return step.send(None), None
        if blocked is not None and blocked is not _SOON and blocked.cancel():
            return step.send(None), None  # the source sees its future cancelled
        return step.throw(cancelled), None
    except StopIteration as produced:
        return None, _done(produced.value)
    except asyncio.CancelledError:
        if cancelled is not None:
            raise  # the source did not take it as its own: the request was cancelled
        ended: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        ended.cancel()  # the handler raised it itself: as a Task would end
        return None, ended
    except Exception as exc:
        return None, _failed(exc)


def _yielded(blocked: Any) -> Any:
    """What a step that waits on ``blocked`` yielded to its task."""
    return None if blocked is _SOON else blocked


async def _cancel_step(step: Any, blocked: Any) -> None:
    """End a source's pending step as a Task would: one cancellation delivered, then the
    cleanup it awaits (the SDK closing its upstream response) run on this loop, bounded;
    ``close()`` only if it does not end by then. Cut short, that cleanup would be left to
    the garbage collector, after the loop is gone (at shutdown)."""
    if step is None:
        return
    try:
        with cancelling_by_hand():
            if blocked is not None and blocked is not _SOON and blocked.cancel():
                yielded = step.send(None)
            else:
                yielded = step.throw(asyncio.CancelledError())
    except BaseException:
        return  # the step ended: with the cancellation, an event, or its own error
    ending = asyncio.ensure_future(_resume(step, yielded))
    ending.add_done_callback(_retrieved)
    try:  # a cancel of this task (the server's) still goes through
        await asyncio.wait({ending}, timeout=_CLEANUP_WAIT)
    finally:
        if not ending.done():
            ending.cancel()  # the cancellation goes into the step: it ends on its own


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A source's cleanup that failed has been logged by the pipeline already."""
    if not task.cancelled():
        task.exception()


def _done(event: Event) -> asyncio.Future[Event]:
    done: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
    done.set_result(event)
    return done


def _resolve(waiter: asyncio.Future[None] | None, *_: object) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class EventStream:
    """The frames of one SSE response: pull them (``async for``) or push them (:meth:`send_to`).

    Either way it is consumed once. Closing it (``aclose``) closes the source, which
    cancels the upstream call; the :class:`~rais._chat.Turn` is finished exactly once.
    """

    __slots__ = (
        "_awaiting",
        "_beat",
        "_blocked",
        "_broken",
        "_encoder",
        "_error",
        "_events",
        "_first",
        "_frames",
        "_idle_since",
        "_interrupted",
        "_loop",
        "_number",
        "_ping",
        "_pinging",
        "_settle",
        "_slow_since",
        "_stall",
        "_step",
        "_stop",
        "_timer",
        "_turn",
        "_wake",
        "_write",
        "_writer",
        "_writing",
        "outcome",
    )

    def __init__(
        self,
        first: First,
        events: AsyncGenerator[Event, None],
        turn: Turn,
        *,
        heartbeat: float | None = None,
        send_timeout: float | None = None,
        encoder: Encoder | None = None,
        on_finish_timeout: float | None = None,
    ) -> None:
        self._first: asyncio.Future[Event] | None = None
        self._encoder = encoder  #: the protocol's framing (``None``: RAIS v1, framed here)
        self._events = events
        self._turn = turn
        self._beat = heartbeat if heartbeat and heartbeat > 0 else None
        self._stall = send_timeout if send_timeout and send_timeout > 0 else None
        #: How long ``on_finish`` may hold the terminal event (``None``: it does not).
        self._settle = on_finish_timeout
        self._step: Any = None  #: the source's ``__anext__`` in progress
        self._blocked: Any = None  #: what that step waits on (a future, or _SOON)
        if isinstance(first, Pending):  # the writer goes on with the first step
            self._step, self._blocked = first
        else:
            self._first = first
        self._wake: asyncio.Future[None] | None = None  #: the writer waits here
        self._stop: Event | None = None  #: set on shutdown: the last event to send
        self._timer: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[Any] | None = None
        self._writing: float | None = None  #: loop time a write began, while it lasts
        self._slow_since: float | None = None  #: since when every write has been slow
        self._idle_since = 0.0  #: loop time of the last write (for heartbeats)
        self._frames: AsyncGenerator[bytes, None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outcome: Outcome = "disconnected"
        self._ping = False  #: the timer found the stream idle: send a ping
        self._number = 0  #: the last event id sent
        self._error: str | None = None  #: the message of the ``error`` event sent
        #: Push mode (:meth:`send_to`): its write, whether it awaits the source now, the
        #: ping task writing meanwhile, and whether shutdown (or a ping) cancelled it.
        self._write: Callable[[bytes], Awaitable[object]] | None = None
        self._awaiting = False
        self._pinging: asyncio.Task[None] | None = None
        self._interrupted = False
        self._broken: BaseException | None = None  #: a ping's write failed with this

    # -- the two ways to consume it ----------------------------------------------------

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        if self._frames is None:
            self._frames = self._generate()
        return self._frames

    async def send_to(self, write: Callable[[bytes], Awaitable[object]]) -> None:
        """Write every frame with ``write`` (the transport's send), from this task.

        Here the writer awaits the source natively (the C Task steps it: the per-token
        path's cheapest form); pings go out from a short task of their own while the
        source is idle, shutdown and the send timeout cancel this task (so the source sees
        a cancellation, as it would under a Task). Events the source has ready at once are
        still framed into one write: after a lone event the source is probed only every
        :data:`PROBE_EVERY` events. Writes are timed: a client that stops reading for
        ``send_timeout`` seconds has its stream ended.
        """
        loop = self._begin()
        self._write = write
        events = self._events
        source: Awaitable[Event] | None = self._first
        self._first = None
        skip = 0
        try:
            while True:
                # The next event, awaited natively (shutdown cancels the wait).
                if self._stop is None:
                    if source is None:  # the task takes over the probe's waiting step
                        step, blocked = self._step, self._blocked
                        self._step = self._blocked = None
                        source = _resume(step, _yielded(blocked))
                    self._awaiting = True
                    try:
                        event = await source
                        source = None
                    except asyncio.CancelledError:
                        if self._broken is not None:  # a ping found the client gone
                            self._uncancel()
                            raise self._broken from None
                        if self._stop is None:
                            raise
                        source = None  # shutdown's cancel: the source has seen it
                    finally:
                        self._awaiting = False
                if self._stop is not None:
                    event = await self._stopped(source)
                batch = [event]
                later = None
                if skip:
                    skip -= 1
                elif event.type not in TERMINAL_TYPES:
                    later = self._probe(batch)
                    if self._step is not None and len(batch) == 1:
                        skip = PROBE_EVERY
                pinging = self._pinging
                if pinging is not None:  # a ping is being written: never two writes at once
                    await pinging
                    if self._broken is not None:
                        raise self._broken
                chunk = self._frame(batch)
                if self.outcome in _SETTLED:  # on_finish first, then the client sees the end
                    await self._turn.settle(self.outcome, self._error, self._settle)
                began = self._writing = loop.time()
                await write(chunk)
                if self._wrote(began, loop):
                    return
                if later is not None:  # the source failed after the events just written
                    source = later
                elif self._step is None:
                    source = events.__anext__()
                else:
                    source = None  # the step the probe left waiting (resumed below)
        except BaseException as exc:
            self._failed(exc)
        finally:
            pinging = self._pinging
            if pinging is not None:
                pinging.cancel()
            await self._end()

    def _probe(self, batch: list[Event]) -> asyncio.Future[Event] | None:
        """Step the source by hand while it has events ready (appended to ``batch``).

        A step that blocks is kept (``_step``, ``_blocked``): the writer resumes it after
        its write, and every way out of the writer closes it. Returns a failed future when
        the source raised after the events already in ``batch``.
        """
        events = self._events
        size = 0
        while len(batch) < MAX_BATCH and size < MAX_BATCH_DATA:
            step = events.__anext__()
            try:
                yielded = step.send(None)
            except StopIteration as produced:
                event = produced.value
                batch.append(event)
                if event.type in TERMINAL_TYPES:
                    return None
                size += len(event.data)
                continue
            except BaseException:
                return _failed(sys.exc_info()[1])
            self._step, self._blocked = step, _SOON if yielded is None else yielded
            return None
        return None

    async def _stopped(self, source: Awaitable[Event] | None) -> Event:
        """Shutdown: close the source (and what was about to be awaited); the stop event."""
        others = self._uncancel() if self._interrupted else 0  # the writer was cancelled for it
        if isinstance(source, asyncio.Future):
            self._first = source  # cancelled by _close_source if still pending
        elif source is not None:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # not started: an ``__anext__()`` or a ``_resume``
        await self._close_source()
        if others:  # the server cancelled the writer as well: that ends it
            raise asyncio.CancelledError
        assert self._stop is not None
        return self._stop

    def _interrupt(self) -> bool:
        """Push mode: cancel the writer out of its wait on the source (the source sees the
        cancellation, as under a Task); False when it is not waiting there."""
        if not self._awaiting or self._writer is None:
            return False
        self._interrupted = True
        self._writer.cancel()
        return True

    def _uncancel(self) -> int:
        """Take back a cancellation of the writer that rais made and handled (3.11+); how
        many other cancellations of it are still pending (the server's, say)."""
        self._interrupted = False
        uncancel = getattr(self._writer, "uncancel", None)  # 3.11+
        return uncancel() if uncancel is not None else 0  # type: ignore[no-any-return]

    async def _send_ping(self) -> None:
        """A ping while the source is idle (push mode), timed like any write."""
        loop, write = self._loop, self._write
        assert loop is not None and write is not None
        began = self._writing = loop.time()
        try:
            await write(PING)
            self._wrote(began, loop)
        except asyncio.CancelledError:  # the stream ends, or the writer waiting here is cut:
            self._writing = None  # it must see this cancellation too, so it goes on up
            raise
        except BaseException as exc:  # the client left: the writer ends with this error
            self._writing = None
            self._broken = exc
            self._interrupt()
        finally:
            self._pinging = None

    async def aclose(self) -> None:
        """Close the stream early (the client left): the source is closed, upstream cancelled."""
        if self._frames is not None:
            await self._frames.aclose()
        else:
            await self._close_source()
            self._finish()

    # -- the writer ----------------------------------------------------------------------

    async def _generate(self) -> AsyncGenerator[bytes, None]:
        """The pull mode: frames yielded to a framework that writes them."""
        loop = self._begin()
        try:
            batch = await self._next_batch()
            while True:
                chunk = self._frame(batch)
                if self.outcome in _SETTLED:  # on_finish first, then the client sees the end
                    await self._turn.settle(self.outcome, self._error, self._settle)
                began = self._writing = loop.time()
                yield chunk
                if self._wrote(began, loop):
                    return
                batch = await self._next_batch()
        except BaseException as exc:
            self._failed(exc)
        finally:
            await self._end()

    def _frame(self, batch: list[Event]) -> bytes:
        """One write's bytes: each event with its ``id:``, pings as comments."""
        if self._encoder is not None:
            return self._encoded(batch, self._encoder)
        frames = []
        number = self._number
        for event in batch:
            if event is HEARTBEAT:
                frames.append(PING)
                continue
            number += 1
            frames.append(sse_frame(event, str(number)))  # escapes lone surrogates
            if event.type in TERMINAL_TYPES:
                self._ended(event)
                break
        self._number = number
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def _encoded(self, batch: list[Event], encoder: Encoder) -> bytes:
        """One write's bytes in another protocol: its encoder's frames, pings as comments."""
        frames = []
        for event in batch:
            if event is HEARTBEAT:
                frames.append(_PING_TEXT)
                continue
            frames.append(encoder.frames(event))
            if event.type in TERMINAL_TYPES:
                self._ended(event)
                break
        return encode_frames(frames[0] if len(frames) == 1 else "".join(frames))

    def _ended(self, event: Event) -> None:
        """The terminal event is being written: how the stream ended (and its error)."""
        if event.type == "error":
            self._error = json.loads(event.data)["error"]
            if event is self._stop:
                self.outcome = "shutdown"
        if self.outcome != "shutdown":
            self.outcome = "done" if event.type == "done" else "error"

    def _wrote(self, began: float, loop: asyncio.AbstractEventLoop) -> bool:
        """After a write: time it (for the send timeout); whether the stream has ended."""
        self._writing = None
        now = self._idle_since = loop.time()
        if self._stall is not None:  # writes that keep waiting: a client barely reading
            if now - began >= self._stall / 8:
                self._slow_since = self._slow_since or began
            else:
                self._slow_since = None
        return self.outcome != "disconnected"

    def _failed(self, exc: BaseException) -> None:
        """How the writer's loop ended early: raise unless it was the send timeout's cancel."""
        if isinstance(exc, StopAsyncIteration):  # pragma: no cover - rais_events ends with one
            self.outcome = "error"
            return
        timeout = isinstance(exc, asyncio.CancelledError) and self.outcome == "timeout"
        if timeout and not self._uncancel():  # this cancel is ours, nobody else's is pending
            return
        raise exc

    async def _end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        shutdown.unregister(self)
        await self._close_source()
        self._finish(self._error)

    def _begin(self) -> asyncio.AbstractEventLoop:
        """Bind to the writer's loop and task; one timer for heartbeats and send timeouts."""
        shutdown.register(self, self._shutdown)
        loop = self._loop = asyncio.get_running_loop()
        self._writer = asyncio.current_task()
        self._idle_since = loop.time()
        period = min(x for x in (self._beat, self._stall) if x) if self._beat or self._stall else 0
        if period:
            self._timer = loop.call_later(period, self._tick)
        return loop

    async def _next_batch(self) -> list[Event]:
        """The events the source has ready, waiting for at least one; ``[HEARTBEAT]`` when
        a ping is due first, ``[stop event]`` on shutdown."""
        batch: list[Event] = []
        size = 0
        while True:
            if self._stop is not None:
                await self._close_source()
                return [*batch, self._stop]
            try:
                event = self._advance()
            except BaseException as exc:
                if not batch or isinstance(exc, asyncio.CancelledError):
                    raise
                self._first = _failed(sys.exc_info()[1])  # raised on the next call
                return batch
            if event is not _BLOCKED:
                batch.append(event)
                size += len(event.data)
                full = len(batch) >= MAX_BATCH or size >= MAX_BATCH_DATA
                if full or event.type in TERMINAL_TYPES:
                    return batch
                continue
            if batch:
                return batch  # the source is waiting: write what it made now
            if self._ping:
                self._ping = False
                return [HEARTBEAT]
            if self._blocked is _SOON:  # the per-token path: one pass of the loop, no future
                self._blocked = None
                try:
                    await _pass_turn()
                except asyncio.CancelledError as cancelled:
                    self._blocked = _SOON
                    self._deliver(cancelled)
                continue
            await self._wait()

    def _advance(self) -> Any:
        """Run the source until it produces an event (returned) or blocks (``_BLOCKED``).

        This is what ``asyncio.Task`` does for a coroutine, done here so that waiting
        for the source and for a heartbeat need no second task.
        """
        first = self._first  # the hold's first event, or one kept for this call
        if first is not None:
            if not first.done():
                self._blocked = first
                return _BLOCKED
            self._first = self._blocked = None
            return first.result()
        blocked = self._blocked
        if blocked is not None:
            if blocked is _SOON or not blocked.done():
                return _BLOCKED
            self._blocked = None
        step = self._step
        if step is None:
            step = self._step = self._events.__anext__()
        try:
            yielded = step.send(None)
        except StopIteration as produced:
            self._step = None
            return produced.value
        except BaseException:
            self._step = None
            raise
        if yielded is None:  # a bare yield: continue on the next pass of the loop
            self._blocked = _SOON
        elif getattr(yielded, "_asyncio_future_blocking", None) is not None:
            yielded._asyncio_future_blocking = False
            self._blocked = yielded
        else:  # pragma: no cover - not an asyncio awaitable: let the source see why
            self._step = None
            step.throw(RuntimeError(f"the source yielded {yielded!r}, not a future"))
        return _BLOCKED

    async def _wait(self) -> None:
        """Wait until the source can go on, a ping is due, or the stream is stopped."""
        blocked = self._blocked
        if blocked is _SOON:
            self._blocked = None
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError as cancelled:
                self._deliver(cancelled)
            return
        assert self._loop is not None
        wake = self._wake = self._loop.create_future()
        blocked.add_done_callback(wake_up := lambda _: _resolve(wake))
        try:
            await wake
        except asyncio.CancelledError as cancelled:
            self._deliver(cancelled)
        finally:
            self._wake = None
            blocked.remove_done_callback(wake_up)

    def _deliver(self, cancelled: asyncio.CancelledError) -> None:
        """A cancellation of the writer's task goes into the source, as a Task delivers it
        to its coroutine. The source may handle it and go on (an anyio cancel scope of its
        own, e.g. httpx connecting): then so does the writer. Raises if the source did not."""
        step, blocked = self._step, self._blocked
        if step is None:  # waiting on a future of rais's own: nothing of the source is here
            raise cancelled
        self._blocked = None
        try:
            if blocked is not None and blocked is not _SOON and blocked.cancel():
                yielded = step.send(None)  # the source sees its future cancelled
            else:
                yielded = step.throw(cancelled)
        except StopIteration as produced:  # it handled the cancellation with an event
            self._step = None
            self._first = _done(produced.value)
            return
        except asyncio.CancelledError:
            self._step = None
            raise
        except BaseException as exc:  # it turned it into its own failure
            self._step = None
            self._first = _failed(exc)
            return
        if yielded is None:
            self._blocked = _SOON
        else:
            yielded._asyncio_future_blocking = False
            self._blocked = yielded

    # -- signals from the loop's timer and from shutdown ---------------------------------

    def _tick(self) -> None:
        """One timer per stream: a ping when idle, the end when a write has stalled."""
        loop = self._loop
        assert loop is not None
        now = loop.time()
        writing, stall = self._writing, self._stall
        if stall is not None and writing is not None:
            # Blocked in one write, or in one slow write after another, for a whole timeout.
            since = writing if self._slow_since is None else min(writing, self._slow_since)
            if now - since >= stall:
                self._stalled()
                return
        if self._beat is not None and writing is None and now - self._idle_since >= self._beat:
            if self._write is None:
                self._ping = True
                _resolve(self._wake)  # the writer sends a ping, then waits again
            elif self._awaiting and self._pinging is None:
                self._pinging = loop.create_task(self._send_ping())
        delays = [self._stall] if self._stall is not None else []
        if self._beat is not None:
            delays.append(max(self._beat - (now - self._idle_since), 0.001))
        self._timer = loop.call_later(min(delays), self._tick)

    def _stalled(self) -> None:
        """The client stopped reading: cancel upstream now, whatever the writer is doing."""
        self.outcome = "timeout"
        self._turn.finish("timeout", "The client stopped reading.")
        writer = self._writer
        if self._write is not None and writer is not None:  # push mode: out of any await
            if self._pinging is not None:  # the stalled write may be a ping's, not the writer's
                self._pinging.cancel()
            writer.cancel()
        else:  # pull mode: the framework is blocked in its send; stop the source meanwhile
            assert self._loop is not None
            self._loop.create_task(self._close_source())

    def _shutdown(self, event: Event) -> None:
        if self._stop is None and self.outcome == "disconnected":
            self._stop = event
            if not self._interrupt():  # pull mode, or push mode between waits
                _resolve(self._wake)

    # -- the end -------------------------------------------------------------------------

    async def _cancel_source(self) -> None:
        """End the source's pending step (:func:`_cancel_step`)."""
        step, blocked = self._step, self._blocked
        if step is None:
            return
        self._step = self._blocked = None
        await _cancel_step(step, blocked)

    async def _close_source(self) -> None:
        first = self._first
        if first is not None and not first.done():
            first.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait([first])
        await self._cancel_source()
        with contextlib.suppress(BaseException):
            await self._events.aclose()

    def _finish(self, error: str | None = None) -> None:
        if self.outcome == "shutdown":
            error = SHUTDOWN_MESSAGE
        self._turn.finish(self.outcome, error if self.outcome in ("error", "shutdown") else None)
