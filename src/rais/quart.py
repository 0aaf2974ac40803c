"""Quart adapter: ``app.register_blueprint(rais_blueprint(provider="openai"))``.

Quart cuts responses after ``RESPONSE_TIMEOUT`` (60 s by default); event streams
opt out of it, since a long answer is not a hung one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from quart import Blueprint, Response, request, websocket

from .endpoint import ChatEndpoint, Reply, sse_reply
from .pipeline import Source
from .websocket import serve_websocket

if TYPE_CHECKING:
    from quart.wrappers import Websocket
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_blueprint", "rais_response"]


def rais_blueprint(
    path: str = "/api/chat",
    *,
    name: str = "rais",
    url_prefix: str | None = None,
    websocket_path: str | None = None,
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A blueprint serving ``POST {url_prefix}{path}``, and the WebSocket at ``websocket_path``."""
    endpoint = ChatEndpoint(**options)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.post(path)
    async def chat() -> Response:
        body: bytes = await request.get_data(cache=False, as_text=False)  # type: ignore[assignment]
        reply = await endpoint.handle(
            request.method, body, request.headers, http_version=request.http_version
        )
        return to_response(reply)

    if websocket_path is not None:

        @blueprint.websocket(websocket_path)
        async def chat_ws() -> None:
            # Quart cancels this handler when the client leaves, which stops the stream.
            socket = cast("Websocket", websocket._get_current_object())  # type: ignore[attr-defined]
            await serve_websocket(endpoint, QuartWebSocket(socket))

    return blueprint


async def rais_response(source: Source, *, heartbeat: float | None = 15.0) -> Response:
    """Stream a hand-written source (text chunks, event dicts or ``rais_event`` strings)."""
    return to_response(
        await sse_reply(source, heartbeat=heartbeat, http_version=request.http_version)
    )


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
        return Response(reply.body, reply.status, dict(reply.headers))
    response = Response(reply.stream, reply.status, dict(reply.headers))
    response.timeout = None  # type: ignore[assignment]
    return response
