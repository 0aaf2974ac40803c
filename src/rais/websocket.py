"""The RAIS WebSocket transport, once, over any framework's socket.

The protocol's optional transport: the client sends one JSON text frame
``{"messages": [...]}``; the server answers with one JSON text frame per event (the
same compact payloads as the SSE ``data:`` lines) and closes with 1000 after the
terminal event. A client that closes first aborts the stream, which cancels the
upstream call. A bad first frame gets one ``error`` event, then a close whose code
says why (1007 invalid payload, 1008 policy, 1009 too big).

Adapters only wrap their framework's socket in a :class:`WebSocketTransport`;
:func:`serve_websocket` makes every decision. :class:`ASGIWebSocket` wraps a raw
ASGI connection, which also serves Django through Channels' ``URLRouter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from .events import Event, error_event
from .pipeline import log_stream, rais_events
from .request import RequestError, parse_chat_request

if TYPE_CHECKING:
    from .endpoint import ChatEndpoint

__all__ = [
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_TOO_BIG",
    "ASGIWebSocket",
    "WebSocketApp",
    "WebSocketTransport",
    "asgi_websocket_app",
    "serve_websocket",
]


CLOSE_NORMAL = 1000
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009

#: How long a client may take to send its first frame before it is closed with 1008.
FIRST_FRAME_TIMEOUT = 30.0


class WebSocketTransport(Protocol):
    """The four operations the core needs from a framework's WebSocket."""

    async def accept(self) -> None: ...

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` once the client has closed the socket."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int) -> None: ...


class RejectedFrame(Exception):
    """A first frame that cannot start a stream: answered with an error event and ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _close_code(status: int) -> int:
    if status == 413:
        return CLOSE_TOO_BIG
    if status in (400, 415, 422):
        return CLOSE_INVALID_PAYLOAD
    return CLOSE_POLICY


def parse_first_frame(frame: str | bytes, endpoint: ChatEndpoint) -> list[dict[str, Any]]:
    """Validate the first frame with the same parser and limits as the HTTP body."""
    body = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    try:
        return parse_chat_request(body, "application/json", endpoint.limits).messages
    except RequestError as exc:
        raise RejectedFrame(_close_code(exc.status), exc.message) from None


async def serve_websocket(
    endpoint: ChatEndpoint,
    socket: WebSocketTransport,
    *,
    first_frame_timeout: float = FIRST_FRAME_TIMEOUT,
) -> None:
    """Serve one RAIS chat over ``socket`` with ``endpoint``'s provider, handler and limits."""
    await socket.accept()
    try:
        frame = await asyncio.wait_for(socket.receive(), first_frame_timeout)
        if frame is None:
            return  # the client left before asking anything
        messages = parse_first_frame(frame, endpoint)
    except asyncio.TimeoutError:
        await _reject(socket, RejectedFrame(CLOSE_POLICY, "No request frame was received in time."))
        return
    except RejectedFrame as exc:
        await _reject(socket, exc)
        return
    await _stream(endpoint, socket, messages)


async def _reject(socket: WebSocketTransport, exc: RejectedFrame) -> None:
    with contextlib.suppress(Exception):  # the client may already be gone
        await socket.send(error_event(exc.message).data)
        await socket.close(exc.code)


async def _stream(
    endpoint: ChatEndpoint, socket: WebSocketTransport, messages: list[dict[str, Any]]
) -> None:
    """Send events until the terminal one, while watching for the client's close."""
    started = time.perf_counter()
    events = rais_events(endpoint.source(messages), secrets=(endpoint.api_key,))
    tokens = 0
    outcome = "disconnected"

    async def send_all() -> None:
        nonlocal tokens, outcome
        event: Event
        async for event in events:
            await socket.send(event.data)
            if event.type == "text":
                tokens += 1
            if event.terminal:
                outcome = event.type
                return

    async def watch() -> None:
        while await socket.receive() is not None:
            pass  # frames after the first carry no meaning in v1; a close ends the watch

    sender = asyncio.ensure_future(send_all())
    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait([sender, watcher], return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and sender.exception() is None:
            with contextlib.suppress(Exception):
                await socket.close(CLOSE_NORMAL)
    finally:
        # A client close (or the framework cancelling us on disconnect) lands here with
        # the sender still running: cancelling it closes the source, and so the upstream.
        for task in (sender, watcher):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait([sender, watcher])
        for task in (sender, watcher):  # a send to a socket already gone is not news
            if task.done() and not task.cancelled():
                task.exception()
        with contextlib.suppress(BaseException):
            await events.aclose()
        log_stream(outcome, tokens, None, started, kind="websocket stream", status="")


# -- raw ASGI -------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIWebSocket:
    """A :class:`WebSocketTransport` over a raw ASGI ``websocket`` connection."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False

    async def accept(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":  # pragma: no cover - ASGI guarantees it
            raise RuntimeError(f"expected websocket.connect, got {message['type']}")
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> str | bytes | None:
        if self.closed:
            return None
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def send(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": code})


class WebSocketApp:
    """A raw ASGI app serving the RAIS WebSocket with one endpoint.

    An object rather than a function, so routers that treat plain functions as their
    own endpoint type (Starlette's ``WebSocketRoute``) still call it as ASGI.
    """

    def __init__(self, endpoint: ChatEndpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("the RAIS WebSocket app only serves websocket connections")
        await serve_websocket(self.endpoint, ASGIWebSocket(receive, send))


def asgi_websocket_app(endpoint: ChatEndpoint) -> WebSocketApp:
    """The RAIS WebSocket as raw ASGI (route it with Channels, or any ASGI router)."""
    return WebSocketApp(endpoint)
