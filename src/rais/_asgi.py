"""Starlette glue, shared with FastAPI: the request in, a core Reply out, a WebSocket bridge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ._sse import EventStream
from .endpoint import ChatEndpoint, Handler, Reply, endpoint_for
from .pipeline import Source


async def answer(endpoint: ChatEndpoint, request: Request) -> Response:
    """Hand a Starlette (or FastAPI) request to the core and return its reply."""
    reply = await endpoint.handle(
        request.method,
        request.stream(),  # read by the core, bounded while reading
        request.headers,
        request=request,
        http_version=request.scope.get("http_version", "1.1"),
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
    return EventStreamResponse(reply.stream, reply.status, reply.headers)


class EventStreamResponse(Response):
    """A streaming response that closes its stream as soon as the client leaves.

    Starlette's ``StreamingResponse`` runs a task group per response and, on servers
    that report ASGI spec 2.4, never closes the body iterator (cleanup then waits for
    garbage collection). Here the request task writes and one small task waits for
    ``http.disconnect``; the stream is closed, and so the upstream call cancelled, on
    every way out.
    """

    def __init__(
        self, stream: AsyncIterable[bytes], status: int, headers: list[tuple[str, str]]
    ) -> None:
        self.stream = stream
        self.status_code = status
        self.background = None
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = asyncio.current_task()
        left: list[bool] = []

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    left.append(True)
                    if writer is not None:
                        writer.cancel()
                    return

        listener = asyncio.ensure_future(listen())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if isinstance(self.stream, EventStream):  # rais writes: no iterator hop per token
                await self.stream.send_to(
                    lambda chunk: send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                )
            else:
                async for chunk in self.stream:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not left:
                raise
            uncancel = getattr(writer, "uncancel", None)  # 3.11+: this cancel is handled
            if uncancel is not None:
                uncancel()
        except OSError:  # ASGI 2.4: send() after the client left
            pass
        finally:
            listener.cancel()
            with contextlib.suppress(BaseException):
                await self.stream.aclose()  # type: ignore[attr-defined]


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
    from .websocket import serve_websocket

    await serve_websocket(
        endpoint, StarletteWebSocket(websocket), request=websocket, headers=websocket.headers
    )
