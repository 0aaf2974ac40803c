"""Flask adapter: ``app.register_blueprint(rais_blueprint(provider="openai"))``.

Flask views are sync: the body is read in the request thread (bounded while
reading), the rest runs on the core's shared bridge loop, and the stream is pulled
frame by frame, so tokens are written as they arrive. A sync ``configure`` runs in
the request thread, with Flask's request context (``g``, ``session``, login
extensions). A client disconnect (seen by the WSGI server when a write fails;
heartbeats bound how long that takes) closes the stream and cancels the upstream
call; under gunicorn a client that stops reading is cut after ``send_timeout``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Request, Response, request

from ._endpoint import (
    ALL_METHODS,
    EXTENSION_METHODS,
    ChatEndpoint,
    Handler,
    endpoint_for,
    resume_path,
)
from ._pipeline import Source
from ._reply import Reply

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._endpoint import EndpointOptions, ResponseOptions

__all__ = ["rais_blueprint", "rais_response"]


def rais_blueprint(
    path: str = "/api/chat",
    *,
    name: str = "rais",
    url_prefix: str | None = None,
    **options: Unpack[EndpointOptions],
) -> Blueprint:
    """A blueprint serving ``POST {url_prefix}{path}`` (every method reaches the core), and
    the AI SDK's resume at ``GET {url_prefix}{path}/<chat_id>/stream``."""
    endpoint = ChatEndpoint(**options)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.route(
        path, methods=[*ALL_METHODS, *EXTENSION_METHODS], provide_automatic_options=False
    )
    def chat() -> Response:
        return _answer(endpoint)

    @blueprint.route(
        resume_path(path, "<chat_id>"),
        methods=[*ALL_METHODS, *EXTENSION_METHODS],
        provide_automatic_options=False,
    )
    def chat_resume(chat_id: str) -> Response:
        return _answer(endpoint, chat_id)

    return blueprint


def rais_response(handler: Handler | Source, **options: Unpack[ResponseOptions]) -> Response:
    """Answer the current request from a hand-written view, exactly as the blueprint would:
    the body is validated (4xx JSON), ``handler(chat)`` (or a ready source) is streamed,
    a reconnect gets 204 or a resume. Read ``g``/``session`` in a sync ``configure`` (it
    runs in the request thread) or before calling: the handler runs off it."""
    return _answer(endpoint_for(handler, cast("Mapping[str, Any]", options)))


def _answer(endpoint: ChatEndpoint, chat_id: str | None = None) -> Response:
    current = cast("Request", request._get_current_object())  # type: ignore[attr-defined]
    # A view that already read the body (request.get_json()) left it cached, stream spent.
    cached = getattr(current, "_cached_data", None)
    read = io.BytesIO(cached).read if isinstance(cached, bytes) else current.stream.read
    reply = endpoint.handle_sync(
        current.method,
        read,
        current.headers,
        request=current,
        environ=current.environ,
        chat_id=chat_id,
    )
    return to_response(reply)


def to_response(reply: Reply) -> Response:
    if reply.stream is None:
        response = Response(reply.body, reply.status, reply.headers)
        if not reply.body and "Content-Type" not in dict(reply.headers):
            response.headers.pop("Content-Type", None)  # Werkzeug's text/html, on a 204
        return response
    # Not direct_passthrough: Werkzeug then closes the stream and runs call_on_close hooks.
    return Response(reply.sync_stream(), reply.status, reply.headers)
