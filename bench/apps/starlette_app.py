"""Starlette bench twin of integrations/starlette_app.py, plus sse-starlette for comparison."""

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench.apps.source import (
    PROTOCOLS,
    ceiling_frames,
    spec_from_body,
    sse_starlette_events,
    tokens,
)
from rais.starlette import rais_endpoint


async def ceiling(request: Request) -> StreamingResponse:
    spec = spec_from_body(await request.body())
    return StreamingResponse(
        ceiling_frames(spec),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def sse_starlette(request: Request) -> EventSourceResponse:
    # LF separators: the RAIS browser clients need them (sse-starlette defaults to CRLF).
    spec = spec_from_body(await request.body())
    return EventSourceResponse(sse_starlette_events(spec), sep="\n", ping=15)


app = Starlette(
    routes=[
        Route("/api/chat", rais_endpoint(handler=tokens)),  # an ASGI app: every method
        Route("/ceiling", ceiling, methods=["POST"]),
        Route("/sse-starlette", sse_starlette, methods=["POST"]),
        *(
            Route(f"/api/{protocol}", rais_endpoint(handler=tokens, protocol=protocol))
            for protocol in PROTOCOLS
        ),
    ],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)
