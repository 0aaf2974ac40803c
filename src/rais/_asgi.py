"""Turn a core :class:`~rais.endpoint.Reply` into a Starlette response (FastAPI shares it)."""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse

from .endpoint import Reply


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        return Response(reply.body, reply.status, headers=dict(reply.headers))
    return StreamingResponse(reply.stream, reply.status, headers=dict(reply.headers))
