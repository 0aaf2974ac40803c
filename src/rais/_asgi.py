"""Starlette glue, shared with FastAPI: a core Reply as a response, a WebSocket as a transport."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

from .endpoint import ChatEndpoint, Reply


async def answer(endpoint: ChatEndpoint, request: Request) -> Response:
    """Hand a Starlette (or FastAPI) request to the core and return its reply."""
    reply = await endpoint.handle(
        request.method,
        await request.body(),
        request.headers,
        http_version=request.scope.get("http_version", "1.1"),
    )
    return to_response(reply)


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        return Response(reply.body, reply.status, headers=dict(reply.headers))
    return StreamingResponse(reply.stream, reply.status, headers=dict(reply.headers))


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
