"""Litestar adapter: ``Litestar(route_handlers=[rais_router(provider="openai")])``.

Replies are Litestar responses whose ASGI side is the core's writer: it writes each
frame as it is produced and closes the stream when the client disconnects (which
closes the source, and so cancels the upstream call).
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from litestar import Request, Response, Router, WebSocket, route, websocket

from ._endpoint import ALL_METHODS, ChatEndpoint, Handler, endpoint_for, resume_path
from ._pipeline import Source
from ._reply import Reply
from ._websocket import ASGIWebSocket, Receive, Send, serve_websocket
from .asgi import ASGIReply

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = ["rais_response", "rais_router"]


#: Newer Litestar answers CORS preflights in its CORS middleware, so the route can take
#: OPTIONS too and the core answers a plain one. Older releases (2.3 ...) answer preflights
#: only in the OPTIONS handler they add to a route that does not take OPTIONS itself.
def _preflight_in_middleware() -> bool:
    try:
        return importlib.util.find_spec("litestar.middleware._internal.cors") is not None
    except ModuleNotFoundError:  # no litestar.middleware._internal at all
        return False


_METHODS = [m for m in ALL_METHODS if m != "OPTIONS" or _preflight_in_middleware()]

#: Litestar 2.14+ refuses bodies over 10 MB itself; the endpoint's own limits apply instead.
_NO_BODY_CAP: dict[str, Any] = (
    {"request_max_body_size": None}
    if "request_max_body_size" in inspect.signature(route).parameters
    else {}
)


def rais_router(
    path: str = "/api/chat",
    *,
    prefix: str = "/",
    websocket_path: str | None = None,
    tags: list[str] | None = None,
    **options: Unpack[EndpointOptions],
) -> Router:
    """A Router serving ``{prefix}{path}``, the AI SDK's resume at
    ``GET {prefix}{path}/{chat_id}/stream``, and the WebSocket at ``websocket_path``.

    The route takes every method, so the endpoint answers each one (GET gets its JSON 405
    with ``Allow``); a CORS preflight is still answered by Litestar's ``cors_config``.
    """
    endpoint = ChatEndpoint(**options)

    @route(
        path,
        http_method=cast("Any", _METHODS),
        tags=tags or ["rais"],
        summary="Stream a chat answer (RAIS v1)",
        **_NO_BODY_CAP,
    )
    async def chat(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _answer(endpoint, request)

    @route(
        resume_path(path, "{chat_id:str}"),
        http_method=cast("Any", _METHODS),
        tags=tags or ["rais"],
        summary="Resume a chat's reply in progress (the AI SDK's resume)",
    )
    async def chat_resume(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _answer(endpoint, request, str(request.path_params["chat_id"]))

    handlers: list[ControllerRouterHandler] = [chat, chat_resume]
    if websocket_path is not None:

        @websocket(websocket_path)
        async def chat_ws(socket: WebSocket[Any, Any, Any]) -> None:
            receive, send = cast("Receive", socket.receive), cast("Send", socket.send)
            await serve_websocket(
                endpoint, ASGIWebSocket(receive, send), request=socket, headers=socket.headers
            )

        handlers.append(chat_ws)
    return Router(path=prefix, route_handlers=handlers)


async def rais_response(
    request: Request[Any, Any, Any], handler: Handler | Source, **options: Unpack[ResponseOptions]
) -> Response[Any]:
    """Answer ``request`` from a hand-written route, exactly as ``rais_router`` would: the
    body is validated (4xx JSON), ``handler(chat)`` (or a ready source) is streamed.

    Give that route ``request_max_body_size=None`` (Litestar 2.14+) so the endpoint's
    body limit is the one that answers."""
    return await _answer(endpoint_for(handler, cast("Mapping[str, Any]", options)), request)


async def _answer(
    endpoint: ChatEndpoint, request: Request[Any, Any, Any], chat_id: str | None = None
) -> Response[Any]:
    reply = await endpoint.handle(
        request.method,
        request.stream(),  # read by the core chunk by chunk, bounded while reading
        request.headers,
        request=request,
        http_version=request.scope.get("http_version", "1.1"),
        chat_id=chat_id,
    )
    return to_response(reply)


class RaisResponse(Response[Any]):
    """A Litestar response whose ASGI side is the core's writer: it pushes each frame (with
    its send timeout) and closes the stream when the client leaves."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(content=None, status_code=reply.status)
        self.reply = reply

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        return ASGIReply(self.reply)


def to_response(reply: Reply) -> Response[Any]:
    return RaisResponse(reply)
