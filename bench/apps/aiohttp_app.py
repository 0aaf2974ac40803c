"""aiohttp bench twin of integrations/aiohttp_app.py (its own runner, or gunicorn's worker)."""

from aiohttp import web

from bench.apps.source import ceiling_frames, spec_from_body, tokens
from integrations.aiohttp_app import cors_headers, cors_preflight
from rais.aiohttp import rais_app


async def ceiling(request: web.Request) -> web.StreamResponse:
    spec = spec_from_body(await request.read())
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    async for frame in ceiling_frames(spec):
        await response.write(frame)
    await response.write_eof()
    return response


def create_app() -> web.Application:
    app = web.Application(middlewares=[cors_preflight])
    app.on_response_prepare.append(cors_headers)
    app.add_subapp("/api/chat", rais_app(handler=tokens))
    app.router.add_post("/ceiling", ceiling)
    return app


def init_func(argv: list[str]) -> web.Application:
    return app


app = create_app()
