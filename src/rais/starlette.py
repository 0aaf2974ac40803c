"""Starlette adapter: ``Route("/api/chat", rais_endpoint(provider="openai"))``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ._asgi import answer, respond, serve
from ._endpoint import ChatEndpoint, Handler
from ._pipeline import Source

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = [
    "RaisEndpoint",
    "ResumeEndpoint",
    "rais_endpoint",
    "rais_response",
    "rais_websocket_endpoint",
]


class RaisEndpoint:
    """An ASGI endpoint: ``Route`` gives it every method, so the core answers each one
    (GET gets the core's JSON 405 with ``Allow``, not Starlette's plain-text one).

    ``.resume`` answers the AI SDK's resume requests for the same endpoint:
    ``Route("/api/chat/{chat_id}/stream", chat.resume)``."""

    def __init__(self, endpoint: ChatEndpoint) -> None:
        self.endpoint = endpoint
        self.resume = ResumeEndpoint(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await answer(self.endpoint, Request(scope, receive))
        await response(scope, receive, send)


class ResumeEndpoint:
    """``GET {path}/{chat_id}/stream``: the chat's reply in progress (the AI SDK's resume)."""

    def __init__(self, endpoint: ChatEndpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        chat_id = str(request.path_params.get("chat_id", ""))
        response = await answer(self.endpoint, request, chat_id=chat_id)
        await response(scope, receive, send)


def rais_endpoint(**options: Unpack[EndpointOptions]) -> RaisEndpoint:
    """A Starlette endpoint that answers RAIS chat requests: ``Route("/api/chat", ...)``."""
    return RaisEndpoint(ChatEndpoint(**options))


def rais_websocket_endpoint(
    **options: Unpack[EndpointOptions],
) -> Callable[[WebSocket], Awaitable[None]]:
    """A WebSocket endpoint for ``WebSocketRoute("/api/chat/ws", ...)`` (same options)."""
    endpoint = ChatEndpoint(**options)

    async def chat_ws(websocket: WebSocket) -> None:
        await serve(endpoint, websocket)

    return chat_ws


async def rais_response(
    request: Request, handler: Handler | Source, **options: Unpack[ResponseOptions]
) -> Response:
    """Answer ``request`` from a hand-written view: the body is validated (4xx JSON),
    ``handler(chat)`` (or a ready source) is streamed, reconnects get 204 or a resume."""
    return await respond(request, handler, options)
