"""FastAPI adapter: ``app.include_router(rais_router(provider="openai"))``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from starlette.responses import Response

from ._asgi import to_response
from .endpoint import ChatEndpoint
from .request import CHAT_REQUEST_SCHEMA

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
    **options: Unpack[EndpointOptions],
) -> APIRouter:
    """An APIRouter serving ``POST {prefix}{path}``; ``dependencies`` run before streaming."""
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
        reply = await endpoint.handle(
            request.method,
            await request.body(),
            request.headers,
            http_version=request.scope.get("http_version", "1.1"),
        )
        return to_response(reply)

    return router
