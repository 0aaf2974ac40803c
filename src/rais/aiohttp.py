"""aiohttp adapter: ``app.add_subapp("/api/chat", rais_app(provider="openai"))``.

Or route the handlers yourself: ``app.router.add_post("/api/chat", rais_handler(...))``
(then add ``app.on_shutdown.append(end_streams_on_shutdown)`` too).

aiohttp has no iterator-based response, so the stream writes itself with
``StreamResponse.write``, each frame as it is produced. ``write`` waits for the socket
to drain, so a stalled client holds the stream back rather than filling memory (and
is cut after the endpoint's ``send_timeout``). aiohttp does not
cancel a handler when its client leaves; the next write fails instead (heartbeats
bound how long that takes while the model is silent), and closing the stream then
cancels the upstream call. Servers started with ``handler_cancellation=True`` cancel
the handler at once, which closes the stream the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ._endpoint import ChatEndpoint, Handler, endpoint_for, resume_path
from ._events import error_event
from ._pipeline import Source
from ._reply import Reply, limit_send_buffer, send_frames
from ._sse import EventStream
from ._websocket import CLOSE_TOO_BIG, serve_websocket
from .shutdown import end_streams

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = [
    "end_streams_on_shutdown",
    "rais_app",
    "rais_handler",
    "rais_response",
    "rais_websocket_handler",
]

View = Callable[[web.Request], Awaitable[web.StreamResponse]]


def rais_app(
    path: str = "", *, websocket_path: str | None = "/ws", **options: Unpack[EndpointOptions]
) -> web.Application:
    """A sub-app for ``app.add_subapp(prefix, ...)``: chat at ``{prefix}{path}``, the WebSocket
    at ``{prefix}{websocket_path}``, and open streams ended cleanly on server shutdown.

    The chat route takes every method, so the endpoint answers each one (GET gets its
    JSON 405 with ``Allow``, not aiohttp's plain-text one).
    """
    endpoint = ChatEndpoint(**options)
    app = web.Application()
    app.router.add_route("*", path, _chat(endpoint))
    app.router.add_route("*", resume_path(path, "{chat_id}"), _chat(endpoint))
    if websocket_path is not None:
        app.router.add_get(websocket_path, _chat_ws(endpoint))
    app.on_shutdown.append(end_streams_on_shutdown)
    return app


def rais_handler(**options: Unpack[EndpointOptions]) -> View:
    """A handler for ``app.router.add_post(path, ...)`` that answers RAIS chat requests
    (``add_route("*", path, ...)`` lets the endpoint answer every method). Routed at
    ``{path}/{chat_id}/stream`` too, the same handler answers the AI SDK's resume."""
    return _chat(ChatEndpoint(**options))


def rais_websocket_handler(**options: Unpack[EndpointOptions]) -> View:
    """A handler for ``app.router.add_get(path, ...)`` serving the RAIS WebSocket."""
    return _chat_ws(ChatEndpoint(**options))


async def end_streams_on_shutdown(app: web.Application) -> None:
    """An ``on_shutdown`` hook: end every open stream with one ``error`` event, so the
    server's graceful shutdown does not wait for them (or cut them without one)."""
    end_streams()


async def rais_response(
    request: web.Request, handler: Handler | Source, **options: Unpack[ResponseOptions]
) -> web.StreamResponse:
    """Answer ``request`` from a hand-written view, exactly as ``rais_handler`` would: the
    body is validated (4xx JSON), ``handler(chat)`` (or a ready source) is streamed."""
    return await _answer(endpoint_for(handler, options), request)


_RESUME_ROUTE = resume_path("", "{chat_id}")


def _chat(endpoint: ChatEndpoint) -> View:
    async def chat(request: web.Request) -> web.StreamResponse:
        chat_id = None
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical.endswith(_RESUME_ROUTE):
            chat_id = request.match_info["chat_id"]  # the AI SDK's resume route
        return await _answer(endpoint, request, chat_id)

    return chat


async def _answer(
    endpoint: ChatEndpoint, request: web.Request, chat_id: str | None = None
) -> web.StreamResponse:
    reply = await endpoint.handle(
        request.method,
        # The raw chunks, read and bounded by the endpoint (request.read() would answer a
        # body over client_max_size with aiohttp's own plain-text 413).
        request.content.iter_chunked(65536),
        request.headers,
        request=request,
        http_version=f"{request.version.major}.{request.version.minor}",
        chat_id=chat_id,
    )
    return await send_reply(request, reply)


def _chat_ws(endpoint: ChatEndpoint) -> View:
    async def chat_ws(request: web.Request) -> web.StreamResponse:
        socket = AiohttpWebSocket(request)
        await serve_websocket(endpoint, socket, request=request, headers=request.headers)
        return socket.response

    return chat_ws


async def send_reply(request: web.Request, reply: Reply) -> web.StreamResponse:
    """Answer with ``reply``: its JSON body, or its stream written frame by frame."""
    if reply.stream is None:
        return web.Response(body=reply.body, status=reply.status, headers=reply.headers)
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    if request.transport is not None and reply.send_buffer:  # what a stalled reader holds
        limit_send_buffer(request.transport.get_extra_info("socket"), reply.send_buffer)
        request.transport.set_write_buffer_limits(high=reply.send_buffer)
    try:
        await response.prepare(request)
        if isinstance(reply.stream, EventStream):  # rais writes, timing each write
            await reply.stream.send_to(response.write)
        elif not await send_frames(reply.stream, response.write, reply.send_timeout):
            if request.transport is not None:  # a reader that stopped reading: drop it
                request.transport.abort()
            return response
        await response.write_eof()
    except ConnectionResetError:  # the client left (ClientConnectionResetError is one too)
        pass
    finally:  # on any exit, cancellation included: closing the stream stops the upstream
        aclose = getattr(reply.stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return response


class _WebSocketResponse(web.WebSocketResponse):
    """aiohttp closes a connection whose frame passes its own size limit (4 MiB) with
    ``1009`` itself, before rais sees the frame: the error event every other refusal
    carries goes out first here."""

    spoke = False  #: rais sent something (its own refusal, say): no second event

    async def close(self, *, code: int = 1000, message: bytes = b"", **options: Any) -> bool:
        if code == CLOSE_TOO_BIG and not self.closed and not self.spoke:
            with contextlib.suppress(Exception):
                await self.send_str(error_event("The request frame is too large.").data)
        return await super().close(code=code, message=message, **options)


class AiohttpWebSocket:
    """Bridge an aiohttp ``WebSocketResponse`` to the core's transport."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = _WebSocketResponse()

    async def accept(self) -> None:
        await self.response.prepare(self.request)

    async def receive(self) -> str | bytes | None:
        message = await self.response.receive()
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            return message.data  # type: ignore[no-any-return]
        return None  # a close (the client's or ours), or the connection failed

    async def send(self, text: str) -> None:
        self.response.spoke = True
        await self.response.send_str(text)

    async def close(self, code: int) -> None:
        await self.response.close(code=code)
