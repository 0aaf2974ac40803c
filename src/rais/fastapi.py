"""FastAPI adapter: ``app.include_router(rais_router(provider="openai"))``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, WebSocket
from fastapi.params import Depends
from starlette.responses import Response

from ._asgi import answer, respond, serve
from ._endpoint import (
    ALL_METHODS,
    EXTENSION_METHODS,
    OPENAPI_RESPONSES,
    ChatEndpoint,
    Handler,
    resume_path,
)
from ._pipeline import Source
from ._request import CHAT_REQUEST_SCHEMA

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = ["rais_response", "rais_router"]


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
    ``GET {prefix}{path}/{chat_id}/stream`` is the AI SDK's resume.

    Every method reaches the core (GET gets its JSON 405); only POST is in the OpenAPI
    schema. With ``websocket_path`` (e.g. ``"/api/chat/ws"``) it also serves the RAIS
    WebSocket transport there, with the same endpoint.
    """
    endpoint = ChatEndpoint(**options)
    router = APIRouter(prefix=prefix, dependencies=dependencies, tags=tags or ["rais"])

    async def chat(request: Request) -> Response:
        return await answer(endpoint, request)

    router.add_api_route(
        path,
        chat,
        methods=["POST"],
        response_class=Response,
        responses=OPENAPI_RESPONSES,
        summary="Stream a chat answer (RAIS v1)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CHAT_REQUEST_SCHEMA}},
            }
        },
    )
    others = [method for method in (*ALL_METHODS, *EXTENSION_METHODS) if method != "POST"]
    router.add_api_route(path, chat, methods=others, include_in_schema=False)

    async def chat_resume(request: Request, chat_id: str) -> Response:
        return await answer(endpoint, request, chat_id=chat_id)

    router.add_api_route(
        resume_path(path, "{chat_id}"),
        chat_resume,
        methods=["GET"],
        response_class=Response,
        summary="Resume a chat's reply in progress (the AI SDK's resume)",
    )
    router.add_api_route(
        resume_path(path, "{chat_id}"),
        chat_resume,
        methods=[m for m in (*ALL_METHODS, *EXTENSION_METHODS) if m != "GET"],
        include_in_schema=False,
    )

    if websocket_path is not None:

        @router.websocket(websocket_path)
        async def chat_ws(websocket: WebSocket) -> None:
            await serve(endpoint, websocket)

    return router


async def rais_response(
    request: Request, handler: Handler | Source, **options: Unpack[ResponseOptions]
) -> Response:
    """Answer ``request`` from a hand-written route, exactly as ``rais_router`` would:
    the body is validated (4xx JSON), ``handler(chat)`` (or a ready source) is streamed,
    a reconnect gets 204 or a resume."""
    return await respond(request, handler, options)
