"""One async-to-sync bridge for WSGI frameworks (Flask, Django under WSGI).

All sync requests share one background event loop thread. A request thread runs
coroutines there and pulls stream frames one at a time, so tokens are written as
they arrive (no buffering) and no event loop is created per request or per token.
Closing the sync iterator (the WSGI server does so on disconnect) closes the async
stream on the loop, which cancels the upstream call. A response's stream runs in the
context its response was made in (Python 3.11+), as under ASGI: a handler's context
variables, and a span it made current, last from its first step to its last.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import sys
import threading
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = [
    "iterate_sync",
    "new_stream_context",
    "run_sync",
    "stream_context",
    "stream_sync",
    "task_in",
]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None

#: Set in a WSGI response's context (:func:`new_stream_context`) to that context itself.
_STREAM_CONTEXT: contextvars.ContextVar[contextvars.Context | None] = contextvars.ContextVar(
    "rais_stream_context", default=None
)


def new_stream_context() -> contextvars.Context:
    """A copy of this context for a WSGI response. Its reply is made in one task on the
    shared loop and its stream relayed in another, both in this context (3.11+)."""
    context = contextvars.copy_context()
    context.run(_STREAM_CONTEXT.set, context)
    return context


def stream_context() -> contextvars.Context | None:
    """The context a reply being made here will be streamed in, by another task: set on
    the WSGI bridge, ``None`` where the writer goes on in the request's own task."""
    return _STREAM_CONTEXT.get()


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="rais-bridge", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run_sync(coroutine: Coroutine[Any, Any, T], *, context: contextvars.Context | None = None) -> T:
    """Run ``coroutine`` on the shared loop and wait for its result in this thread (its
    task in ``context``, where given and Python has ``create_task(context=)``)."""
    return _submit(coroutine, context).result()


def _submit(
    coroutine: Coroutine[Any, Any, T], context: contextvars.Context | None
) -> concurrent.futures.Future[T]:
    """``run_coroutine_threadsafe``, in ``context`` itself rather than a copy of it (on
    3.10, without ``create_task(context=)``, in a copy of ``context``)."""
    loop = _shared_loop()
    if context is None:
        return asyncio.run_coroutine_threadsafe(coroutine, loop)
    if sys.version_info < (3, 11):
        return context.run(asyncio.run_coroutine_threadsafe, coroutine, loop)
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        if result.cancelled():
            coroutine.close()
            return
        task = task_in(coroutine, context)
        task.add_done_callback(lambda _: _settle(task, result))
        result.add_done_callback(
            lambda _: loop.call_soon_threadsafe(task.cancel) if result.cancelled() else None
        )

    loop.call_soon_threadsafe(start)
    return result


def task_in(coroutine: Coroutine[Any, Any, T], context: contextvars.Context) -> asyncio.Task[T]:
    """A task on the running loop that runs in ``context`` itself (3.11+), so that what
    one step sets or makes current is there in the next; on 3.10, in a copy of it."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 11):
        return loop.create_task(coroutine, context=context)
    # A copy of it, so that no two threads ever enter the one object (a RuntimeError).
    return context.copy().run(loop.create_task, coroutine)


def _settle(task: asyncio.Task[T], result: concurrent.futures.Future[T]) -> None:
    if task.cancelled():
        result.cancel()
    if not result.set_running_or_notify_cancel():
        return
    exc = task.exception()
    if exc is not None:
        result.set_exception(exc)
    else:
        result.set_result(task.result())


async def _next(iterator: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return True, await iterator.__anext__()
    except StopAsyncIteration:
        return False, None


def iterate_sync(iterator: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from a sync thread, closing it if the caller stops early."""
    loop = _shared_loop()
    finished = False
    try:
        while True:
            more, item = asyncio.run_coroutine_threadsafe(_next(iterator), loop).result()
            if not more:
                finished = True
                return
            yield item  # type: ignore[misc]
    finally:
        if not finished and isinstance(iterator, AsyncGenerator):
            asyncio.run_coroutine_threadsafe(iterator.aclose(), loop).result(timeout=10)


#: The bytes the stream may run ahead of a WSGI thread blocked writing: with big chunks
#: (a batch is up to 16 KiB of JSON), eight of them would hold 128 KiB per stalled reader.
AHEAD_BYTES = 16 * 1024


class _Relay:
    """Chunks handed from the loop thread to one request thread (a bounded read-ahead)."""

    def __init__(self, ahead: int) -> None:
        self.ahead = ahead
        self.chunks: deque[bytes] = deque()
        self.size = 0  #: the bytes in ``chunks``
        self.lock = threading.Condition(threading.Lock())
        self.done = False
        self.error: BaseException | None = None
        self.room: asyncio.Future[None] | None = None  #: the pump waits here when full
        self.started = False  #: the relay task has begun (so it will close the stream)
        self.closed = threading.Event()  #: the stream is closed (its cleanup ran)

    def make_room(self) -> None:  # on the loop
        if self.room is not None and not self.room.done():
            self.room.set_result(None)


async def _relay(stream: AsyncIterable[bytes], relay: _Relay) -> None:
    loop = asyncio.get_running_loop()
    relay.started = True
    try:
        async for chunk in stream:
            with relay.lock:
                relay.chunks.append(chunk)
                relay.size += len(chunk)
                full = len(relay.chunks) >= relay.ahead or relay.size >= AHEAD_BYTES
                if full:
                    relay.room = loop.create_future()
                relay.lock.notify()
            if full and relay.room is not None:
                await relay.room
    except asyncio.CancelledError:
        pass  # the request thread stopped reading (client gone)
    except BaseException as exc:  # raised in the request thread
        relay.error = exc
    finally:
        with relay.lock:
            relay.done = True
            relay.lock.notify()
        try:
            await _close(stream)
        finally:
            relay.closed.set()


async def _close(stream: AsyncIterable[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def stream_sync(
    stream: AsyncIterable[bytes],
    *,
    ahead: int = 8,
    context: contextvars.Context | None = None,
) -> Iterator[bytes]:
    """Iterate an async byte stream from a sync thread, for a WSGI response body.

    Unlike :func:`iterate_sync`, the stream runs ahead by up to ``ahead`` chunks
    (:data:`AHEAD_BYTES` at most) on the shared loop, and chunks that are already
    there are written as one: the loop and the request thread signal each other only
    when one waits for the other, rather than twice per chunk. Closing it (the WSGI
    server does on disconnect) closes the stream before returning, which cancels the
    upstream call. ``context``: the one its response was made in (see :func:`run_sync`).
    """
    loop = _shared_loop()
    relay = _Relay(ahead)
    task = _submit(_relay(stream, relay), context)
    try:
        while True:
            with relay.lock:
                while not relay.chunks and not relay.done:
                    relay.lock.wait()
                chunks = list(relay.chunks)
                relay.chunks.clear()
                relay.size = 0
                done, error = relay.done, relay.error
                if relay.room is not None and not relay.room.done():
                    loop.call_soon_threadsafe(relay.make_room)
            if chunks:
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if done:
                if error is not None:
                    raise error
                return
    finally:
        if not relay.done:
            task.cancel()  # cancels the relay task on the loop: it closes the stream
        if not relay.started and task.cancelled():  # it never ran: close the stream here
            asyncio.run_coroutine_threadsafe(_close(stream), loop)
        else:
            relay.closed.wait(10)


async def run_on_bridge(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` on the shared loop, from another (short-lived) event loop."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, _shared_loop()))
