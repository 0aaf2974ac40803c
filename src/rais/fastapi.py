"""FastAPI adapter: ``app.include_router(rais_router(provider="openai"))``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.params import Depends
from starlette.responses import Response

from ._asgi import StarletteWebSocket, answer
from .endpoint import ChatEndpoint
from .request import CHAT_REQUEST_SCHEMA
from .websocket import serve_websocket

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_router"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A RAIS v1 event stream (`data: {json}` events, ending with done or error).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "A reconnect with Last-Event-ID that cannot be resumed."},
    400: {"description": "The body is not JSON."},
    413: {"description": "The body or the conversation is too large."},
    415: {"description": "The body is not application/json."},
    422: {"description": "The body is not a valid chat request."},
}


def rais_router(
    path: str = "/api/chat",
    *,
    prefix: str = "",
    dependencies: Sequence[Depends] | None = None,
    tags: list[str | Enum] | None = None,
    websocket_path: str | None = None,
    **options: Unpack[EndpointOptions],
) -> APIRouter:
    """An APIRouter serving ``POST {prefix}{path}``; ``dependencies`` run before streaming.

    With ``websocket_path`` (e.g. ``"/api/chat/ws"``) it also serves the RAIS WebSocket
    transport there, with the same endpoint.
    """
    endpoint = ChatEndpoint(**options)
    router = APIRouter(prefix=prefix, dependencies=dependencies, tags=tags or ["rais"])

    @router.post(
        path,
        response_class=Response,
        responses=_RESPONSES,
        summary="Stream a chat answer (RAIS v1)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CHAT_REQUEST_SCHEMA}},
            }
        },
    )
    async def chat(request: Request) -> Response:
        return await answer(endpoint, request)

    if websocket_path is not None:

        @router.websocket(websocket_path)
        async def chat_ws(websocket: WebSocket) -> None:
            await serve_websocket(endpoint, StarletteWebSocket(websocket))

    return router
