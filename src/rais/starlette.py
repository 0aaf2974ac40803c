"""Starlette adapter: ``Route("/api/chat", rais_endpoint(provider="openai"), methods=["POST"])``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from ._asgi import StarletteWebSocket, answer, to_response
from .endpoint import ChatEndpoint, sse_reply
from .pipeline import Source
from .websocket import serve_websocket

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_endpoint", "rais_response", "rais_websocket_endpoint"]


def rais_endpoint(**options: Unpack[EndpointOptions]) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that answers RAIS chat requests."""
    endpoint = ChatEndpoint(**options)

    async def chat(request: Request) -> Response:
        return await answer(endpoint, request)

    return chat


def rais_websocket_endpoint(
    **options: Unpack[EndpointOptions],
) -> Callable[[WebSocket], Awaitable[None]]:
    """A WebSocket endpoint for ``WebSocketRoute("/api/chat/ws", ...)`` (same options)."""
    endpoint = ChatEndpoint(**options)

    async def chat_ws(websocket: WebSocket) -> None:
        await serve_websocket(endpoint, StarletteWebSocket(websocket))

    return chat_ws


async def rais_response(source: Source, *, heartbeat: float | None = 15.0) -> Response:
    """Stream a hand-written source (text chunks, event dicts or ``rais_event`` strings)."""
    return to_response(await sse_reply(source, heartbeat=heartbeat))
