"""Litestar adapter: ``Litestar(route_handlers=[rais_router(provider="openai")])``.

The stream goes out as Litestar's ``Stream``, which sends each frame as it is
produced and stops the stream when the client disconnects (which closes the source,
and so cancels the upstream call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from litestar import Request, Response, Router, WebSocket, post, websocket
from litestar.response import Stream

from .endpoint import ChatEndpoint, Reply, sse_reply
from .pipeline import Source
from .websocket import ASGIWebSocket, Receive, Send, serve_websocket

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_response", "rais_router"]


def rais_router(
    path: str = "/api/chat",
    *,
    prefix: str = "/",
    websocket_path: str | None = None,
    tags: list[str] | None = None,
    **options: Unpack[EndpointOptions],
) -> Router:
    """A Router serving ``POST {prefix}{path}``, and the WebSocket at ``websocket_path``."""
    endpoint = ChatEndpoint(**options)

    @post(path, tags=tags or ["rais"], summary="Stream a chat answer (RAIS v1)")
    async def chat(request: Request[Any, Any, Any]) -> Response[Any]:
        reply = await endpoint.handle(
            request.method,
            await request.body(),
            request.headers,
            request=request,
            http_version=request.scope.get("http_version", "1.1"),
        )
        return to_response(reply)

    handlers: list[ControllerRouterHandler] = [chat]
    if websocket_path is not None:

        @websocket(websocket_path)
        async def chat_ws(socket: WebSocket[Any, Any, Any]) -> None:
            receive, send = cast("Receive", socket.receive), cast("Send", socket.send)
            await serve_websocket(
                endpoint, ASGIWebSocket(receive, send), request=socket, headers=socket.headers
            )

        handlers.append(chat_ws)
    return Router(path=prefix, route_handlers=handlers)


async def rais_response(source: Source, *, heartbeat: float | None = 15.0) -> Response[Any]:
    """Stream a hand-written source (text chunks, event dicts or ``rais_event`` strings)."""
    return to_response(await sse_reply(source, heartbeat=heartbeat))


def to_response(reply: Reply) -> Response[Any]:
    if reply.stream is None:
        return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))
    return Stream(reply.stream, status_code=reply.status, headers=dict(reply.headers))
