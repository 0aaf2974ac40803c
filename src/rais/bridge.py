"""One async-to-sync bridge for WSGI frameworks (Flask, Django under WSGI).

All sync requests share one background event loop thread. A request thread runs
coroutines there and pulls stream frames one at a time, so tokens are written as
they arrive (no buffering) and no event loop is created per request or per token.
Closing the sync iterator (the WSGI server does so on disconnect) closes the async
stream on the loop, which cancels the upstream call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="rais-bridge", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the shared loop and wait for its result in this thread."""
    return asyncio.run_coroutine_threadsafe(coroutine, _shared_loop()).result()


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


async def run_on_bridge(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` on the shared loop, from another (short-lived) event loop."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, _shared_loop()))
