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
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from . import shutdown
from ._chat import Chat, Turn
from ._events import Event, error_event
from ._pipeline import Source, rais_events
from ._request import ChatRequest, Limits, RequestError, parse_chat_request
from .shutdown import SHUTDOWN_MESSAGE

__all__ = [
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_SERVICE_RESTART",
    "CLOSE_TOO_BIG",
    "ASGIWebSocket",
    "WebSocketApp",
    "WebSocketEndpoint",
    "WebSocketTransport",
    "asgi_websocket_app",
    "serve_websocket",
]


CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012  #: server shutdown: the client may reconnect and retry

#: How long a client may take to send its first frame before it is closed with 1008.
FIRST_FRAME_TIMEOUT = 30.0

#: The outcome's message when a client stopped reading for the endpoint's ``send_timeout``.
STALLED_MESSAGE = "The client stopped reading."


def _valid_text(data: str) -> str:
    """A frame must be valid UTF-8: a lone surrogate (a broken tokenizer's) can only sit in
    a JSON string, where its ``\\uXXXX`` escape is what JSON allows (as the SSE writers do)."""
    try:
        data.encode()
    except UnicodeEncodeError:
        return data.encode("utf-8", "backslashreplace").decode()
    return data


class WebSocketTransport(Protocol):
    """The four operations the core needs from a framework's WebSocket."""

    async def accept(self) -> None: ...

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` once the client has closed the socket."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int) -> None: ...


class WebSocketEndpoint(Protocol):
    """What serving a chat needs of a :class:`~rais.ChatEndpoint` (named here, not imported:
    the endpoint sits above its writers)."""

    limits: Limits
    api_key: str | None
    send_timeout: float | None
    on_finish_timeout: float | None

    async def prepare(self, chat: Chat, *, kind: str = ...) -> tuple[Turn, Source]: ...


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


def parse_first_frame(frame: str | bytes, endpoint: WebSocketEndpoint) -> ChatRequest:
    """Validate the first frame with the same parser and limits as the HTTP body."""
    body = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    try:
        return parse_chat_request(body, "application/json", endpoint.limits)
    except RequestError as exc:
        raise RejectedFrame(_close_code(exc.status), exc.message) from None


async def serve_websocket(
    endpoint: WebSocketEndpoint,
    socket: WebSocketTransport,
    *,
    request: Any = None,
    headers: Any = None,
    first_frame_timeout: float = FIRST_FRAME_TIMEOUT,
) -> None:
    """Serve one RAIS chat over ``socket`` with ``endpoint``'s provider, handler and limits.

    ``request`` is the framework's WebSocket object (the handler sees it as ``chat.request``).
    """
    await socket.accept()
    try:
        frame = await asyncio.wait_for(socket.receive(), first_frame_timeout)
        if frame is None:
            return  # the client left before asking anything
        parsed = parse_first_frame(frame, endpoint)
        chat = Chat(parsed.messages, parsed.extra, request=request, headers=headers)
        turn, source = await endpoint.prepare(chat, kind="websocket stream")
    except asyncio.TimeoutError:
        await _reject(socket, RejectedFrame(CLOSE_POLICY, "No request frame was received in time."))
        return
    except RejectedFrame as exc:
        await _reject(socket, exc)
        return
    except RequestError as exc:  # configure refused it
        await _reject(socket, RejectedFrame(_close_code(exc.status), exc.message))
        return
    await _stream(endpoint, socket, turn, source)


async def _reject(socket: WebSocketTransport, exc: RejectedFrame) -> None:
    with contextlib.suppress(Exception):  # the client may already be gone
        await socket.send(error_event(exc.message).data)
        await socket.close(exc.code)


async def _stream(
    endpoint: WebSocketEndpoint, socket: WebSocketTransport, turn: Turn, source: Source
) -> None:
    """Send events until the terminal one, while watching for the client's close."""
    events = rais_events(source, secrets=(endpoint.api_key,), turn=turn)
    outcome = "disconnected"
    error: str | None = None
    stopping: list[Event] = []

    loop = asyncio.get_running_loop()
    sending: list[float] = []  #: when the send in progress began (empty: none is)

    async def send_all() -> None:
        nonlocal outcome, error
        event: Event
        async for event in events:
            data = event.data
            if not data.isascii():
                data = _valid_text(data)
            if event.terminal:  # on_finish first, then the client sees the end
                if event.type == "done":
                    await turn.settle("done", None, endpoint.on_finish_timeout)
                else:
                    failed = json.loads(event.data)["error"]
                    await turn.settle("error", failed, endpoint.on_finish_timeout)
            sending.append(loop.time())
            await socket.send(data)
            sending.clear()
            if event.terminal:
                outcome = event.type
                if outcome == "error":
                    error = json.loads(event.data)["error"]
                return

    async def watch() -> None:
        while await socket.receive() is not None:
            pass  # frames after the first carry no meaning in v1; a close ends the watch

    sender = asyncio.ensure_future(send_all())
    watcher = asyncio.ensure_future(watch())

    def stop(event: Event) -> None:  # server shutdown: cancel upstream, close with 1012
        stopping.append(event)
        sender.cancel()

    stalled: list[bool] = []
    limit = endpoint.send_timeout if endpoint.send_timeout and endpoint.send_timeout > 0 else None
    timer: asyncio.TimerHandle | None = None

    def check() -> None:  # a client that stops reading: end the stream, cancel upstream
        nonlocal timer
        if sending and loop.time() - sending[0] >= limit:  # type: ignore[operator]
            stalled.append(True)
            sender.cancel()
            return
        timer = loop.call_later(limit / 4, check)  # type: ignore[operator]

    if limit is not None:
        timer = loop.call_later(limit / 4, check)
    shutdown.register(sender, stop)
    try:
        await asyncio.wait([sender, watcher], return_when=asyncio.FIRST_COMPLETED)
        if not stopping and not sender.done() and shutdown.server_stopping():
            # The server closed the socket itself before our watcher saw it stopping
            # (uvicorn sends 1012 at once): still a shutdown, not a client leaving.
            stopping.append(error_event(SHUTDOWN_MESSAGE))
        if stalled:  # the socket's buffer is full: its close may block too, so bounded
            outcome, error = "timeout", STALLED_MESSAGE
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(CLOSE_POLICY), 1.0)
        elif stopping:
            outcome, error = "shutdown", SHUTDOWN_MESSAGE
            with contextlib.suppress(Exception):
                await socket.send(stopping[0].data)
                await socket.close(CLOSE_SERVICE_RESTART)
        elif sender.done() and not sender.cancelled() and sender.exception() is None:
            with contextlib.suppress(Exception):
                await socket.close(CLOSE_NORMAL)
    finally:
        if timer is not None:
            timer.cancel()
        shutdown.unregister(sender)
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
        turn.finish(outcome, error)  # type: ignore[arg-type]


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

    def __init__(self, endpoint: WebSocketEndpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("the RAIS WebSocket app only serves websocket connections")
        await serve_websocket(
            self.endpoint, ASGIWebSocket(receive, send), request=scope, headers=ScopeHeaders(scope)
        )


class ScopeHeaders:
    """An ASGI scope's headers, looked up case-insensitively, for ``chat.headers``."""

    def __init__(self, scope: Scope) -> None:
        self._headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            previous = self._headers.get(name)
            self._headers[name] = value if previous is None else f"{previous}, {value}"

    def get(self, key: str, default: Any = None) -> Any:
        return self._headers.get(key.lower(), default)


def asgi_websocket_app(endpoint: WebSocketEndpoint) -> WebSocketApp:
    """The RAIS WebSocket as raw ASGI (route it with Channels, or any ASGI router)."""
    return WebSocketApp(endpoint)
