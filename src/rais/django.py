"""Django adapter: ``path("api/chat", rais_view(provider="openai"))`` in a URLconf.

An async view. It is CSRF-exempt: browsers cannot send its ``application/json`` body
cross-origin without a CORS preflight, which the CORS policy (django-cors-headers)
decides. With session-cookie auth and no CORS layer you may still want Django's check:
wrap it, ``path("api/chat", csrf_protect(rais_view(...)))``, and send the
``X-CSRFToken`` header from the page.

Under ASGI the stream is an async iterator that Django sends as it goes. Under WSGI
Django would consume an async iterator whole, so there the stream runs on the core's
bridge loop and is handed over as a sync one.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from ._endpoint import ChatEndpoint, Handler, endpoint_for
from ._pipeline import Source
from ._reply import Reply
from ._telemetry import carried
from ._websocket import WebSocketApp, asgi_websocket_app

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = ["rais_response", "rais_view", "rais_websocket"]

View = Callable[..., Awaitable[HttpResponseBase]]


def rais_view(**options: Unpack[EndpointOptions]) -> View:
    """An async Django view answering RAIS chat requests (every method; the core decides).

    Its ``.resume`` view answers the AI SDK's resume requests for the same endpoint:
    ``path("api/chat/<str:chat_id>/stream", chat.resume)``."""
    endpoint = ChatEndpoint(**options)

    async def chat(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return await _answer(endpoint, request)

    async def resume(request: HttpRequest, chat_id: str) -> HttpResponseBase:
        return await _answer(endpoint, request, str(chat_id))

    chat.csrf_exempt = True  # type: ignore[attr-defined]
    resume.csrf_exempt = True  # type: ignore[attr-defined]
    chat.resume = resume  # type: ignore[attr-defined]
    return chat


async def rais_response(
    request: HttpRequest, handler: Handler | Source, **options: Unpack[ResponseOptions]
) -> HttpResponseBase:
    """Answer ``request`` from a hand-written async view, exactly as ``rais_view`` would."""
    return await _answer(endpoint_for(handler, cast("Mapping[str, Any]", options)), request)


async def _answer(
    endpoint: ChatEndpoint, request: HttpRequest, chat_id: str | None = None
) -> HttpResponseBase:
    scope = getattr(request, "scope", None)  # only ASGI requests carry one
    method = request.method or "GET"
    if scope is not None:
        # Django has spooled the body already (to disk past FILE_UPLOAD_MAX_MEMORY_SIZE).
        reply = await endpoint.handle(
            method,
            _read_all(request),
            request.headers,
            request=request,
            http_version=scope.get("http_version"),
            chat_id=chat_id,
        )
        return to_response(reply, wsgi=False)
    # Django reads no body without a Content-Length, even where the server de-chunks it
    # (gunicorn sets wsgi.input_terminated): the core must answer a chunked one with 411.
    environ = {**request.META, "wsgi.input_terminated": False}
    # In an empty context: Django runs this view under async_to_sync, whose context names
    # the request thread as the executor for sync_to_async calls. Carried onto the shared
    # bridge loop, an ORM call there (``await request.auser()``) would run in this thread
    # and leave it pointing at the bridge loop, so its next request deadlocks. Only the
    # request's OpenTelemetry span goes along: the stream's span is its child.
    reply = contextvars.Context().run(
        carried(endpoint.handle_sync),
        method,
        request.read,
        request.headers,
        request=request,
        environ=environ,
        chat_id=chat_id,
    )
    return contextvars.Context().run(to_response, reply, wsgi=True)


async def _read_all(request: HttpRequest) -> Any:
    while chunk := request.read(65536):
        yield chunk


def rais_websocket(**options: Unpack[EndpointOptions]) -> WebSocketApp:
    """The RAIS WebSocket as an ASGI app, for Channels' routing (Django itself speaks no WebSocket):

    ``ProtocolTypeRouter({"websocket": URLRouter([path("api/chat/ws", rais_websocket(...))])})``
    """
    return asgi_websocket_app(ChatEndpoint(**options))


def to_response(reply: Reply, *, wsgi: bool) -> HttpResponseBase:
    headers = dict(reply.headers)
    if reply.stream is None:
        response = HttpResponse(reply.body, status=reply.status, headers=headers)
        if not reply.body and "Content-Type" not in headers:
            del response["Content-Type"]  # Django's default text/html, on a 204 with no body
        return response
    stream = reply.sync_stream() if wsgi else reply.stream
    return StreamingHttpResponse(stream, status=reply.status, headers=headers)
