"""Quart adapter: ``app.register_blueprint(rais_blueprint(provider="openai"))``.

Quart cuts responses after ``RESPONSE_TIMEOUT`` (60 s by default); event streams
opt out of it, since a long answer is not a hung one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import Blueprint, Response, request

from .endpoint import ChatEndpoint, Reply, sse_reply
from .pipeline import Source

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .endpoint import EndpointOptions

__all__ = ["rais_blueprint", "rais_response"]


def rais_blueprint(
    path: str = "/api/chat",
    *,
    name: str = "rais",
    url_prefix: str | None = None,
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A blueprint serving ``POST {url_prefix}{path}``."""
    endpoint = ChatEndpoint(**options)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.post(path)
    async def chat() -> Response:
        body: bytes = await request.get_data(cache=False, as_text=False)  # type: ignore[assignment]
        reply = await endpoint.handle(
            request.method, body, request.headers, http_version=request.http_version
        )
        return to_response(reply)

    return blueprint


async def rais_response(source: Source, *, heartbeat: float | None = 15.0) -> Response:
    """Stream a hand-written source (text chunks, event dicts or ``rais_event`` strings)."""
    return to_response(
        await sse_reply(source, heartbeat=heartbeat, http_version=request.http_version)
    )


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        return Response(reply.body, reply.status, dict(reply.headers))
    response = Response(reply.stream, reply.status, dict(reply.headers))
    response.timeout = None  # type: ignore[assignment]
    return response
