"""Litestar bench twin of integrations/litestar_app.py (served by uvicorn)."""

from typing import Any

from litestar import Litestar, Request, post
from litestar.config.cors import CORSConfig
from litestar.response import Stream

from bench.apps.source import ceiling_frames, spec_from_body, tokens
from rais.litestar import rais_router


@post("/ceiling", status_code=200)  # Litestar answers a POST with 201 by default
async def ceiling(request: Request[Any, Any, Any]) -> Stream:
    spec = spec_from_body(await request.body())
    return Stream(
        ceiling_frames(spec),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


app = Litestar(
    route_handlers=[rais_router(handler=tokens), ceiling],
    cors_config=CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
)
