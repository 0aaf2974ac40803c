from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.apps.source import (
    PROTOCOLS,
    ceiling_frames,
    ceiling_frames_sync,
    spec_from_body,
    tokens,
)
from rais.django import rais_view


@csrf_exempt  # type: ignore[untyped-decorator]
def ceiling(request: HttpRequest) -> StreamingHttpResponse:
    """Hand-written: an async iterator under ASGI, a plain generator under WSGI."""
    spec = spec_from_body(request.body)
    frames: Any = (
        ceiling_frames(spec) if getattr(request, "scope", None) else ceiling_frames_sync(spec)
    )
    return StreamingHttpResponse(
        frames,
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


urlpatterns = [
    path("api/chat", rais_view(handler=tokens)),
    path("ceiling", ceiling),
    *(
        path(f"api/{protocol}", rais_view(handler=tokens, protocol=protocol))
        for protocol in PROTOCOLS
    ),
]
