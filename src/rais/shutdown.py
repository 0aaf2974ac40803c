"""End open streams cleanly when the server shuts down.

Servers drain on SIGTERM: they stop accepting, then wait for open responses to
finish (uvicorn for ever by default, gunicorn and hypercorn for a grace period, then
they cut them). An event stream never finishes by itself, so without help every
open chat is cut without a terminal event and the server exits late.

Every open stream registers here. While any is open, a watcher on its event loop
checks ten times a second whether the server is stopping, and if so ends each
stream with one ``error`` event (the client can retry against another worker), so
the server can exit at once. How a server says it is stopping:

- uvicorn (also as a gunicorn worker): its SIGTERM handler's ``Server.should_exit``;
- gunicorn workers: its SIGTERM handler's ``Worker.alive`` turning false;
- hypercorn workers: the ``shutdown_event`` their parent process sets;
- anything else: call :func:`end_streams` from your own shutdown hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from ._events import Event, error_event

__all__ = ["SHUTDOWN_MESSAGE", "end_streams", "server_stopping"]

SHUTDOWN_MESSAGE = "The server is shutting down; please retry."

#: Seconds between checks while streams are open (hypercorn polls its own flag as often).
POLL_INTERVAL = 0.1

#: Open streams per event loop: each maps to the callback that ends it on that loop.
_open: dict[asyncio.AbstractEventLoop, dict[object, Callable[[Event], None]]] = {}
_watchers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_lock = threading.Lock()


def server_stopping() -> bool:
    """Whether the server running this process has begun a graceful shutdown."""
    with contextlib.suppress(Exception):
        owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
        if owner is not None:
            if getattr(owner, "should_exit", False) is True:  # uvicorn.Server
                return True
            if getattr(owner, "alive", True) is False:  # gunicorn Worker
                return True
        event = _hypercorn_shutdown_event()
        if event is not None and event.is_set():
            return True
    return False


def _hypercorn_shutdown_event() -> Any:
    """Hypercorn hands each worker process the parent's shutdown event as an argument."""
    multiprocessing = sys.modules.get("multiprocessing")  # a spawned worker has imported it
    if multiprocessing is None:
        return None
    kwargs = getattr(multiprocessing.current_process(), "_kwargs", None)
    event = kwargs.get("shutdown_event") if isinstance(kwargs, dict) else None
    return event if callable(getattr(event, "is_set", None)) else None


def end_streams(message: str = SHUTDOWN_MESSAGE) -> int:
    """End every stream open now with one ``error`` event; returns how many. Thread-safe."""
    event = error_event(message)
    with _lock:
        groups = [(loop, list(streams.values())) for loop, streams in _open.items()]
    count = 0
    for loop, stoppers in groups:
        for stop in stoppers:
            with contextlib.suppress(RuntimeError):  # that loop has closed meanwhile
                loop.call_soon_threadsafe(stop, event)
                count += 1
    return count


def register(key: object, stop: Callable[[Event], None]) -> None:
    """Track an open stream on the running loop; ``stop(event)`` ends it (on that loop)."""
    loop = asyncio.get_running_loop()
    if server_stopping():  # started while draining: end it at once
        loop.call_soon(stop, error_event(SHUTDOWN_MESSAGE))
    with _lock:
        _open.setdefault(loop, {})[key] = stop
        watcher = _watchers.get(loop)
        if watcher is None or watcher.done():
            _watchers[loop] = loop.create_task(_watch(loop))


def unregister(key: object) -> None:
    with contextlib.suppress(RuntimeError), _lock:
        streams = _open.get(asyncio.get_running_loop())
        if streams is not None:
            streams.pop(key, None)


async def _watch(loop: asyncio.AbstractEventLoop) -> None:
    """Poll while this loop has open streams; end them all once the server is stopping."""
    try:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            with _lock:
                streams = _open.get(loop)
                if not streams:
                    _open.pop(loop, None)
                    _watchers.pop(loop, None)
                    return
                stoppers = list(streams.values()) if server_stopping() else []
            if stoppers:
                event = error_event(SHUTDOWN_MESSAGE)
                for stop in stoppers:
                    stop(event)
    except asyncio.CancelledError:  # the loop is closing
        with _lock:
            _watchers.pop(loop, None)
        raise
