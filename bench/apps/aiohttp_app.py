"""aiohttp bench twin of integrations/aiohttp_app.py (its own runner, or gunicorn's worker).

The CORS middleware and hook are the integration's, copied: importing that module builds
its app, with options the bench's old-code anchor does not have.
"""

from aiohttp import web
from aiohttp.typedefs import Handler

from bench.apps.source import PROTOCOLS, ceiling_frames, spec_from_body, tokens
from rais.aiohttp import rais_app

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Allow-Headers": "*",
}


@web.middleware
async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    ):
        return web.Response(status=204, headers={**CORS, "Access-Control-Max-Age": "600"})
    return await handler(request)


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    if "Origin" in request.headers:
        response.headers.setdefault("Access-Control-Allow-Origin", "*")


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
    for protocol in PROTOCOLS:
        app.add_subapp(f"/api/{protocol}", rais_app(handler=tokens, protocol=protocol))
    app.router.add_post("/ceiling", ceiling)
    return app


def init_func(argv: list[str]) -> web.Application:
    return app


app = create_app()
