"""Flask adapter: ``app.register_blueprint(rais_blueprint(provider="openai"))``.

Flask views are sync, so the request is answered on the core's shared bridge loop
and the stream is pulled frame by frame: tokens are written as they arrive, and a
client disconnect (seen by the WSGI server when a write fails; heartbeats bound
how long that takes) closes the stream and cancels the upstream call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from .bridge import run_sync, stream_sync
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
    def chat() -> Response:
        body = request.get_data(cache=False)
        return to_response(
            run_sync(endpoint.handle(request.method, body, request.headers, http_version=None))
        )

    return blueprint


def rais_response(source: Source, *, heartbeat: float | None = 15.0) -> Response:
    """Stream a hand-written source (text chunks, event dicts or ``rais_event`` strings).

    Read what you need from ``request`` before calling: the source runs off the
    request thread.
    """
    return to_response(run_sync(sse_reply(source, heartbeat=heartbeat, http_version=None)))


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        return Response(reply.body, reply.status, reply.headers)
    return Response(stream_sync(reply.stream), reply.status, reply.headers, direct_passthrough=True)
