"""Litestar bench twin of integrations/litestar_app.py (served by uvicorn).

Besides ``/api/chat`` and ``/ceiling``: ``/api/ai-sdk`` and ``/api/ag-ui`` (the same
router with ``protocol=``, when the imported rais has it) and ``/litestar-sse``,
Litestar's own SSE response (``litestar.response.ServerSentEvent``).
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, post
from litestar.config.cors import CORSConfig
from litestar.response import ServerSentEvent, Stream
from litestar.response.sse import ServerSentEventMessage

from bench.apps.source import PROTOCOLS, Spec, ceiling_frames, spec_from_body, text, tokens
from rais.litestar import rais_router


@post("/ceiling", status_code=200)  # Litestar answers a POST with 201 by default
async def ceiling(request: Request[Any, Any, Any]) -> Stream:
    spec = spec_from_body(await request.body())
    return Stream(
        ceiling_frames(spec),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _messages(spec: Spec) -> AsyncIterator[ServerSentEventMessage]:
    # The same frames as rais's (id + the event's JSON, pre-formatted), LF separators as
    # the sse-starlette anchor's (Litestar's default is CRLF).
    for i in range(spec.count):
        if spec.interval and i:
            await asyncio.sleep(spec.interval)
        elif spec.yield_each:
            await asyncio.sleep(0)
        yield ServerSentEventMessage(
            data='{"type":"text","text":"' + text(spec) + '"}', id=i + 1, sep="\n"
        )
    yield ServerSentEventMessage(data='{"type":"done"}', id=spec.count + 1, sep="\n")


@post("/litestar-sse", status_code=200)
async def litestar_sse(request: Request[Any, Any, Any]) -> ServerSentEvent:
    spec = spec_from_body(await request.body())
    return ServerSentEvent(_messages(spec))


app = Litestar(
    route_handlers=[
        rais_router(handler=tokens),
        *(
            rais_router(f"/api/{protocol}", handler=tokens, protocol=protocol)
            for protocol in PROTOCOLS
        ),
        ceiling,
        litestar_sse,
    ],
    cors_config=CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
)
