"""What the core answers, as plain data: the endpoint decides it, the writers fill its stream,
and each adapter turns it into its framework's response.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import socket
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._bridge import stream_sync
from ._request import RequestError

__all__ = ["SEND_BUFFER", "Reply", "error_reply", "json_reply", "limit_send_buffer", "send_frames"]


#: The default cap on a stream socket's kernel send buffer (``RAIS_SEND_BUFFER``): Linux
#: doubles it, so 64 KiB in all, about 40 ms of a 1.5 MB/s link and far more than a model
#: streams per round trip.
SEND_BUFFER = 32 * 1024


@dataclass
class Reply:
    """What to answer: a JSON error (``body``) or an event stream (``stream``)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: An :class:`~rais._sse.EventStream` (or a resumable tail): ``async for`` it, or let
    #: it write (``send_to``) where the adapter owns the write loop.
    stream: AsyncIterable[bytes] | None = None
    #: Seconds one write of a stream rais does not write itself (a resumable tail) may
    #: wait for a client that stopped reading before it is ended (:func:`send_frames`).
    send_timeout: float | None = None
    #: The client socket's send buffer (``SO_SNDBUF``, bytes) where the server hands rais
    #: the socket (aiohttp; gunicorn sets it for WSGI): see :func:`limit_send_buffer`.
    send_buffer: int | None = None
    #: The context a WSGI response's stream runs in: the one the response was made in.
    context: contextvars.Context | None = None

    @property
    def media_type(self) -> str:
        return dict(self.headers).get("Content-Type", "application/json")

    def sync_stream(self) -> Iterator[bytes]:
        """The stream for a WSGI response body, pulled through the shared bridge loop."""
        assert self.stream is not None
        return stream_sync(self.stream, context=self.context)


async def send_frames(
    stream: AsyncIterable[bytes],
    write: Callable[[bytes], Awaitable[object]],
    timeout: float | None,
) -> bool:
    """Write every frame of ``stream``; ``False`` when one write waited ``timeout`` seconds
    (a client that stopped reading), so the caller ends the response and frees its reader."""
    async for chunk in stream:
        if timeout is None or timeout <= 0:
            await write(chunk)
            continue
        try:
            await asyncio.wait_for(write(chunk), timeout)
        except asyncio.TimeoutError:
            return False
    return True


def json_reply(status: int, data: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, [("Content-Type", "application/json"), *headers], body)


def error_reply(exc: RequestError) -> Reply:
    return json_reply(exc.status, exc.body(), exc.headers.items())


def limit_send_buffer(sock: Any, size: int | None) -> None:
    """Cap the kernel's send buffer of a stream's socket at ``size`` bytes.

    A client that stops reading holds what the kernel accepted for it, and the stream's
    record of its text (for ``on_finish``) grows by as much: the kernel's autotuning lets
    that reach 4 MB per socket. Capped, a stalled stream holds a few tens of KiB. Chat
    streams need far less than the cap per round trip. ``None`` or 0: leave it alone."""
    if size and sock is not None:
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
