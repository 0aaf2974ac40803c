"""Starlette glue, shared with FastAPI: the request in, a core Reply out, a WebSocket bridge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ._endpoint import ChatEndpoint, Handler, endpoint_for
from ._pipeline import Source
from ._reply import Reply
from .asgi import raw_headers, send_reply


async def answer(endpoint: ChatEndpoint, request: Request, chat_id: str | None = None) -> Response:
    """Hand a Starlette (or FastAPI) request to the core and return its reply; with
    ``chat_id``, it is the AI SDK's resume request for that chat."""
    reply = await endpoint.handle(
        request.method,
        request.stream(),  # read by the core, bounded while reading
        request.headers,
        request=request,
        http_version=request.scope.get("http_version", "1.1"),
        chat_id=chat_id,
    )
    return to_response(reply)


async def respond(
    request: Request, handler: Handler | Source, options: Mapping[str, Any]
) -> Response:
    """The response helper: the same answer as the one-liners, for a hand-written view."""
    return await answer(endpoint_for(handler, options), request)


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        return Response(reply.body, reply.status, headers=dict(reply.headers))
    return EventStreamResponse(reply)


class EventStreamResponse(Response):
    """A Starlette response (FastAPI passes those through) written by the core's ASGI writer.

    Starlette's ``StreamingResponse`` runs a task group per response and, on servers that
    report ASGI spec 2.4, never closes the body iterator; :func:`send_reply` does neither.
    """

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.status_code = reply.status
        self.background = None
        self.raw_headers = raw_headers(reply.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_reply(self.reply, receive, send, self.raw_headers)


class StarletteWebSocket:
    """Bridge a Starlette (or FastAPI) ``WebSocket`` to the core's transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def accept(self) -> None:
        await self.websocket.accept()

    async def receive(self) -> str | bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else bytes(message.get("bytes") or b"")

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def close(self, code: int) -> None:
        await self.websocket.close(code)


async def serve(endpoint: ChatEndpoint, websocket: WebSocket) -> None:
    """Serve the RAIS WebSocket; the handler sees the Starlette ``WebSocket`` as its request."""
    from ._websocket import serve_websocket

    await serve_websocket(
        endpoint, StarletteWebSocket(websocket), request=websocket, headers=websocket.headers
    )
