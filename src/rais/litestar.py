"""Litestar adapter: ``Litestar(route_handlers=[rais_router(provider="openai")])``.

Replies are Litestar responses whose ASGI side is the core's writer: it writes each
frame as it is produced and closes the stream when the client disconnects (which
closes the source, and so cancels the upstream call).

The app's own response settings apply to every reply, stream or JSON error, as they do to
any Litestar response: ``response_headers`` and ``response_cookies`` of the app, router,
controller and handler, what an ``after_request`` hook sets on the response, and a
``background`` task (it runs after the reply ends, the client's leaving included). Where
a setting names a header rais sets too, the reply's own value wins, as a Litestar
response's own headers do; ``after_request`` changes the reply's headers like any other.

Logging: rais writes one ``rais.access`` line per stream at INFO. Litestar's default
``logging_config`` sets the root logger to INFO, which would print that line beside the
server's own access line, so while an app has a ``logging_config`` the line is written only
when the app asks for it: when the ``rais`` or ``rais.access`` logger has a level or a
handler of its own, e.g.
``LoggingConfig(loggers={"rais": {"level": "INFO", "handlers": ["queue_listener"],
"propagate": False}})``. Warnings and errors are never held back.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import logging
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from litestar import Request, Response, Router, WebSocket, route, websocket
from litestar.enums import HttpMethod

from ._endpoint import ALL_METHODS, ChatEndpoint, Handler, endpoint_for, resume_path
from ._pipeline import Source
from ._reply import Reply
from ._websocket import ASGIWebSocket, Receive, Send, serve_websocket
from .asgi import send_reply

if TYPE_CHECKING:
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
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


#: Only the methods this Litestar has names for (2.3 ... have no TRACE).
_METHODS = [
    m
    for m in ALL_METHODS
    if m in {method.value for method in HttpMethod}
    and (m != "OPTIONS" or _preflight_in_middleware())
]


# -- rais.access under Litestar's logging ------------------------------------------------------

#: True while rais answers a request of a Litestar app that has a ``logging_config`` (the
#: request's task, and the tasks it starts).
_litestar_logging: ContextVar[bool] = ContextVar("rais_litestar_logging", default=False)


def _rais_logging_configured() -> bool:
    """Has the app (its ``LoggingConfig``, or code of its own) set up rais's loggers?"""
    for name in ("rais.access", "rais"):
        logger = logging.getLogger(name)
        if logger.level != logging.NOTSET or logger.handlers:
            return True
    return False


class _AccessLineUnlessAsked(logging.Filter):
    """Drops ``rais.access``'s INFO lines from requests of Litestar apps whose
    ``logging_config`` did not configure rais's loggers; every other app's lines, and
    warnings, pass as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            record.levelno > logging.INFO
            or not _litestar_logging.get()
            or _rais_logging_configured()
        )


def _install_access_filter() -> None:
    access = logging.getLogger("rais.access")
    if not any(isinstance(f, _AccessLineUnlessAsked) for f in access.filters):
        access.addFilter(_AccessLineUnlessAsked())


_install_access_filter()

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
            _litestar_logging.set(socket.app.logging_config is not None)
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
    # Stays set for the reply, which Litestar sends from this task.
    _litestar_logging.set(request.app.logging_config is not None)
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
    its send timeout) and closes the stream when the client leaves.

    Its ``headers`` start as the reply's, so an ``after_request`` hook sees and may change
    them; its ``cookies`` and ``background`` are Litestar's, set as on any response."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(content=None, status_code=reply.status, headers=dict(reply.headers))
        self.reply = reply

    def to_asgi_response(  # type: ignore[override]
        self,
        app: Any = None,
        request: Any = None,
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: Mapping[str, Any] | None = None,
        **decided: Any,  # status_code, media_type, type_encoders: the reply's own stand
    ) -> LitestarReply:
        """The reply with the settings Litestar layers onto a response: ``headers`` (the
        app's, routers', controller's and handler's ``response_headers``) under this
        response's own, then ``encoded_headers`` and every cookie, and the background task
        (this response's, else the handler's)."""
        raw: list[tuple[bytes, bytes]] | None = None  # None: the reply's own, as they are
        extra_cookies = list(cookies or ())
        own = self.headers != dict(self.reply.headers)
        if headers or encoded_headers or self.cookies or extra_cookies or own:
            merged: dict[str, tuple[str, str]] = {}
            for name, value in itertools.chain((headers or {}).items(), self.headers.items()):
                merged[name.lower()] = (name, str(value))
            raw = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in merged.values()]
            raw.extend(encoded_headers or ())
            raw.extend(c.to_encoded_header() for c in itertools.chain(self.cookies, extra_cookies))
        return LitestarReply(self.reply, raw, self.background or background)


class LitestarReply:
    """The ASGI app Litestar sends: the reply with its final headers, then the background
    task, once the reply has ended (finished, or the client left)."""

    __slots__ = ("background", "headers", "reply")

    def __init__(
        self,
        reply: Reply,
        headers: list[tuple[bytes, bytes]] | None,
        background: BackgroundTask | BackgroundTasks | None,
    ) -> None:
        self.reply = reply
        self.headers = headers
        self.background = background

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        await send_reply(self.reply, receive, send, self.headers)
        if self.background is not None:
            await self.background()


def to_response(reply: Reply) -> Response[Any]:
    return RaisResponse(reply)
