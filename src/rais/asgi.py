"""Serve rais from an ASGI framework it does not ship an adapter for.

Every ASGI adapter of rais is these two steps, and so can yours: hand the request to
:meth:`rais.ChatEndpoint.handle`, which makes every decision (method, body limits,
validation, ``configure``, resume, status, headers) and returns a :class:`rais.Reply`;
then write that reply with :func:`send_reply`, or return :class:`ASGIReply` where the
framework takes an ASGI app as a response::

    from rais import ChatEndpoint
    from rais.asgi import send_reply

    endpoint = ChatEndpoint(provider="openai")  # the options every adapter takes

    async def chat(request, receive, send):  # however your framework gives you these
        reply = await endpoint.handle(
            request.method,
            request.stream(),  # the body's chunks: read, and bounded, by the core
            request.headers,  # any case-insensitive mapping with .get()
            request=request,  # what handlers and configure see as chat.request
            http_version=request.scope.get("http_version", "1.1"),
        )
        await send_reply(reply, receive, send)

The writer is the one the shipped adapters use: the request task writes, one small task
waits for ``http.disconnect`` and cancels the write loop when the client leaves, and the
stream is closed (so the upstream call is cancelled) on every way out, on every ASGI spec
version: no task group per response, no cleanup left to garbage collection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._reply import Reply, send_frames
from ._sse import EventStream

__all__ = ["ASGIReply", "raw_headers", "send_reply"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


_ENCODED: dict[tuple[tuple[str, str], ...], tuple[tuple[bytes, bytes], ...]] = {}


def raw_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """ASGI's form of ``headers``. The SSE headers are the same on every stream, so their
    encoding is made once and shared (~1 KiB less per open stream); the list is fresh,
    since middleware (CORS, say) appends to it."""
    key = tuple(headers)
    encoded = _ENCODED.get(key)
    if encoded is None:
        encoded = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
        if len(_ENCODED) < 64:  # a few shapes repeat; bounded, whatever the replies carry
            _ENCODED[key] = encoded
    return list(encoded)


async def send_reply(
    reply: Reply, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send ``reply``: a JSON body at once, or its event stream as it is produced.

    ``headers`` are the reply's in ASGI form when the framework's response holds them
    already (and may have had some added: a cookie, say)."""
    start = {"type": "http.response.start", "status": reply.status}
    start["headers"] = raw_headers(reply.headers) if headers is None else headers
    stream = reply.stream
    if stream is None:
        await send(start)
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})
        return
    writer = asyncio.current_task()
    left: list[bool] = []

    async def listen() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                left.append(True)
                if writer is not None:
                    writer.cancel()
                return

    def body(chunk: bytes) -> Awaitable[None]:
        return send({"type": "http.response.body", "body": chunk, "more_body": True})

    listener = asyncio.ensure_future(listen())
    try:
        await send(start)
        if isinstance(stream, EventStream):  # rais writes: no iterator hop per token
            await stream.send_to(body)
        elif not await send_frames(stream, body, reply.send_timeout):
            return  # a reader that stopped reading: the server drops the connection
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        uncancel = getattr(writer, "uncancel", None)  # 3.11+: take back the listener's cancel
        if not left or (uncancel is not None and uncancel()):  # ...but not the server's
            raise
    except OSError:  # ASGI 2.4: send() after the client left
        pass
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await stream.aclose()  # type: ignore[attr-defined]


class ASGIReply:
    """``reply`` as an ASGI app (frameworks that pass ASGI apps through, e.g. Litestar)."""

    __slots__ = ("reply",)

    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        await send_reply(self.reply, receive, send)
