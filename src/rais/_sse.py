"""Server-sent events, in one place: headers, frames, the ping, the first-event hold, the writer.

Every SSE response (plain, from a handler or a provider, on every adapter) is built
by :func:`sse_reply`; resumable streams reuse :func:`hold_first_event` and the
headers. The writer numbers events with ``id:``, sends ``: ping`` comments while the
source is idle, ends the stream on shutdown or when the client stops reading, and
reports the stream's end once to its :class:`~rais.chat.Turn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

from .chat import Turn
from .events import HEARTBEAT, Event, sse_frame
from .pipeline import EventFeed, Source, rais_events, with_heartbeats
from .shutdown import SHUTDOWN_MESSAGE

if TYPE_CHECKING:
    from .endpoint import Reply

__all__ = ["FIRST_EVENT_WAIT", "PING", "hold_first_event", "sse_headers", "sse_reply"]

#: How long to hold the response for a first event, so that an upstream that fails at
#: once (bad key, 429, unknown model) is answered with its real HTTP status.
FIRST_EVENT_WAIT = 0.5

#: The keep-alive comment; clients ignore lines that start with ``:``.
PING = b": ping\n\n"


def sse_headers(http_version: str | None) -> list[tuple[str, str]]:
    """SSE response headers; ``Connection`` is hop-by-hop, so only on HTTP/1.1 over ASGI."""
    headers = [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("X-Accel-Buffering", "no"),
    ]
    if http_version == "1.1":
        headers.append(("Connection", "keep-alive"))
    return headers


async def sse_reply(
    source: Source,
    *,
    heartbeat: float | None = None,
    http_version: str | None = "1.1",
    secrets: Iterable[str | None] = (),
    turn: Turn | None = None,
    send_timeout: float | None = None,
) -> Reply:
    """Start streaming ``source``; a source that fails before its first event gets an HTTP error.

    The reply is held for at most :data:`FIRST_EVENT_WAIT` so that an upstream that
    fails at once (bad key, 429, unknown model) is answered with its real status and
    ``Retry-After``; later failures are ``error`` events.
    """
    from .endpoint import Reply

    turn = turn if turn is not None else Turn()
    feed = EventFeed(send_timeout=send_timeout)
    events = with_heartbeats(rais_events(source, secrets=secrets, turn=turn), heartbeat, feed=feed)
    feed.on_stall = lambda: turn.finish("timeout", "The client stopped reading.")
    first, refused = await hold_first_event(events, turn)
    if refused is not None:
        return refused
    return Reply(200, sse_headers(http_version), stream=_frames(first, events, turn, feed))


async def hold_first_event(
    events: AsyncGenerator[Event, None], turn: Turn
) -> tuple[asyncio.Future[Event], Reply | None]:
    """Wait up to :data:`FIRST_EVENT_WAIT` for the first event; an upstream that failed
    at once with an HTTP status is refused with that status (and ``events`` closed)."""
    from .endpoint import json_reply

    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_EVENT_WAIT
    first = asyncio.ensure_future(events.__anext__())
    try:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(first), deadline - loop.time())
            # A heartbeat while nothing is sent yet means nothing: keep waiting for a real one.
            if not first.done() or first.cancelled() or first.exception() is not None:
                break
            if first.result() is not HEARTBEAT or loop.time() >= deadline:
                break
            first = asyncio.ensure_future(events.__anext__())
    except BaseException:  # the request itself was cancelled (client gone): stop upstream now
        first.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait([first])
            await events.aclose()
        turn.finish("disconnected")
        raise
    if first.done() and not first.cancelled() and first.exception() is None:
        event = first.result()
        failure = turn.failure
        status = getattr(failure, "status", None)
        if event.type == "error" and isinstance(status, int) and 400 <= status < 600:
            await events.aclose()
            extra = []
            retry = getattr(failure, "retry_after", None)
            if retry:
                extra.append(("Retry-After", str(retry)))
            message = json.loads(event.data)["error"]
            turn.finish("refused", message, status)
            return first, json_reply(
                status, {"error": {"type": "upstream_error", "message": message}}, extra
            )
    return first, None


async def _frames(
    first: asyncio.Future[Event],
    events: AsyncGenerator[Event, None],
    turn: Turn,
    feed: EventFeed,
) -> AsyncIterator[bytes]:
    """Frame events as SSE with ``id:`` fields; report the stream's end once.

    Events that are ``ready()`` (already produced) go out with the one awaited, in one
    chunk: one write per burst rather than per token, and the same bytes on the wire.
    """
    outcome = "disconnected"
    error: str | None = None
    number = 0
    ready: Callable[[], list[Event]] = feed.ready
    pending = [first]  # dropped once done: an idle stream need not keep the task alive
    del first
    try:
        batch = [await pending[0]]
        pending.clear()
        while True:
            frames: list[bytes] = []
            for event in (*batch, *ready()):
                if event is HEARTBEAT:
                    frames.append(PING)
                    continue
                number += 1
                frames.append(sse_frame(event, str(number)))  # escapes lone surrogates
                if event.terminal:
                    outcome = event.type
                    if outcome == "error":
                        error = json.loads(event.data)["error"]
                        if feed.stop_event is event and error == SHUTDOWN_MESSAGE:
                            outcome = "shutdown"
                    break
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if outcome != "disconnected":
                return
            batch = [await events.__anext__()]
    except StopAsyncIteration:  # pragma: no cover - the pipeline always ends with a terminal
        outcome = "error"
    finally:
        if pending and not pending[0].done():  # disconnected before the first event
            pending[0].cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait(pending)
        with contextlib.suppress(BaseException):
            await events.aclose()
        turn.finish(outcome, error)  # type: ignore[arg-type]
