"""Django adapter: ``path("api/chat", rais_view(provider="openai"))`` in a URLconf.

An async, CSRF-exempt view (it is an API called cross-origin; wrap it with
Django's decorators for auth). Under ASGI the stream is an async iterator that
Django sends as it goes. Under WSGI Django would consume an async iterator whole,
so there the stream runs on the core's bridge loop and is handed over as a sync one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from .bridge import run_on_bridge, stream_sync
from .endpoint import ChatEndpoint, Reply
from .websocket import WebSocketApp, asgi_websocket_app

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_view", "rais_websocket"]

View = Callable[..., Awaitable[HttpResponseBase]]


def rais_view(**options: Unpack[EndpointOptions]) -> View:
    """An async Django view answering RAIS chat requests."""
    endpoint = ChatEndpoint(**options)

    async def chat(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        scope = getattr(request, "scope", None)  # only ASGI requests carry one
        method = request.method or "GET"
        if scope is not None:
            reply = await endpoint.handle(
                method, request.body, request.headers, http_version=scope.get("http_version")
            )
            return to_response(reply, wsgi=False)
        reply = await run_on_bridge(
            endpoint.handle(method, request.body, request.headers, http_version=None)
        )
        return to_response(reply, wsgi=True)

    chat.csrf_exempt = True  # type: ignore[attr-defined]
    return chat


def rais_websocket(**options: Unpack[EndpointOptions]) -> WebSocketApp:
    """The RAIS WebSocket as an ASGI app, for Channels' routing (Django itself speaks no WebSocket):

    ``ProtocolTypeRouter({"websocket": URLRouter([path("api/chat/ws", rais_websocket(...))])})``
    """
    return asgi_websocket_app(ChatEndpoint(**options))


def to_response(reply: Reply, *, wsgi: bool) -> HttpResponseBase:
    headers = dict(reply.headers)
    if reply.stream is None:
        return HttpResponse(reply.body, status=reply.status, headers=headers)
    stream = stream_sync(reply.stream) if wsgi else reply.stream
    return StreamingHttpResponse(stream, status=reply.status, headers=headers)
