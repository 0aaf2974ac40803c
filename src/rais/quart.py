"""Quart adapter: ``app.register_blueprint(rais_blueprint(provider="openai"))``.

Quart cuts responses after ``RESPONSE_TIMEOUT`` (60 s by default); event streams
opt out of it, since a long answer is not a hung one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from quart import Blueprint, Request, Response, request, websocket

from ._endpoint import (
    ALL_METHODS,
    EXTENSION_METHODS,
    ChatEndpoint,
    Handler,
    endpoint_for,
    resume_path,
)
from ._pipeline import Source
from ._reply import Reply
from ._websocket import serve_websocket

if TYPE_CHECKING:
    from quart.wrappers import Websocket
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = ["rais_blueprint", "rais_response"]


def rais_blueprint(
    path: str = "/api/chat",
    *,
    name: str = "rais",
    url_prefix: str | None = None,
    websocket_path: str | None = None,
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A blueprint serving ``POST {url_prefix}{path}``, the AI SDK's resume at
    ``GET {url_prefix}{path}/<chat_id>/stream``, and the WebSocket at ``websocket_path``."""
    endpoint = ChatEndpoint(**options)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.route(
        path, methods=[*ALL_METHODS, *EXTENSION_METHODS], provide_automatic_options=False
    )
    async def chat() -> Response:
        return await _answer(endpoint)

    @blueprint.route(
        resume_path(path, "<chat_id>"),
        methods=[*ALL_METHODS, *EXTENSION_METHODS],
        provide_automatic_options=False,
    )
    async def chat_resume(chat_id: str) -> Response:
        return await _answer(endpoint, chat_id)

    if websocket_path is not None:

        @blueprint.websocket(websocket_path)
        async def chat_ws() -> None:
            # Quart cancels this handler when the client leaves, which stops the stream.
            socket = cast("Websocket", websocket._get_current_object())  # type: ignore[attr-defined]
            await serve_websocket(
                endpoint, QuartWebSocket(socket), request=socket, headers=socket.headers
            )

    return blueprint


async def rais_response(handler: Handler | Source, **options: Unpack[ResponseOptions]) -> Response:
    """Answer the current request from a hand-written route, exactly as the blueprint
    would: the body is validated (4xx JSON), ``handler(chat)`` (or a ready source) is
    streamed, a reconnect gets 204 or a resume."""
    return await _answer(endpoint_for(handler, cast("Mapping[str, Any]", options)))


async def _answer(endpoint: ChatEndpoint, chat_id: str | None = None) -> Response:
    current = cast("Request", request._get_current_object())  # type: ignore[attr-defined]
    reply = await endpoint.handle(
        current.method,
        current.body,  # read by the core chunk by chunk, bounded while reading
        current.headers,
        request=current,
        http_version=current.http_version,
        chat_id=chat_id,
    )
    return to_response(reply)


class QuartWebSocket:
    """Bridge Quart's ``websocket`` to the core's transport."""

    def __init__(self, socket: Websocket) -> None:
        self.socket = socket

    async def accept(self) -> None:
        await self.socket.accept()

    async def receive(self) -> str | bytes | None:
        return await self.socket.receive()

    async def send(self, text: str) -> None:
        await self.socket.send(text)

    async def close(self, code: int) -> None:
        await self.socket.close(code)


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        headers = dict(reply.headers)
        response = Response(reply.body, reply.status, headers)
        if not reply.body and "Content-Type" not in headers:
            response.headers.pop("Content-Type", None)  # Quart's text/html, on a 204
        return response
    # aiter(): Quart 0.19 streams only async generators (inspect.isasyncgen) and iterates
    # anything else synchronously; an EventStream's iterator is its frame generator.
    response = Response(aiter(reply.stream), reply.status, dict(reply.headers))
    response.timeout = None  # type: ignore[assignment]
    return response
