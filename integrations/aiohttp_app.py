"""aiohttp. Serve: python -m aiohttp.web -H 0.0.0.0 -P 8000 integrations.aiohttp_app:init_func

or under gunicorn: gunicorn integrations.aiohttp_app:app -k aiohttp.GunicornWebWorker

CORS is the app's business, not the adapter's: a small middleware answers preflights
and a response hook marks every response (streams included, before their headers go).
"""

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from integrations import app_hooks
from rais.aiohttp import end_streams_on_shutdown, rais_app, rais_handler, rais_websocket_handler

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


def create_app() -> web.Application:
    app = web.Application(middlewares=[cors_preflight])
    app.on_response_prepare.append(cors_headers)
    app.add_subapp("/api/chat", rais_app(provider="openai"))
    # The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
    ui = rais_handler(provider="openai", protocol="auto", tools=app_hooks.TOOLS)
    app.router.add_route("*", "/api/ui", ui)
    app.router.add_route("*", "/api/ui/{chat_id}/stream", ui)  # the AI SDK's resume
    ui_resumable = rais_handler(
        provider="openai", protocol="auto", tools=app_hooks.TOOLS, resume="memory://"
    )
    app.router.add_route("*", "/api/ui-resumable", ui_resumable)
    app.router.add_route("*", "/api/ui-resumable/{chat_id}/stream", ui_resumable)
    # A real app's endpoints (handler, configure, owner, on_finish): see app_hooks.
    app.router.add_post("/api/app", rais_handler(**app_hooks.options("app")))
    app.router.add_get("/api/app/ws", rais_websocket_handler(**app_hooks.options("app")))
    resumable = app_hooks.options("resumable", resume="memory://")
    app.router.add_post("/api/app/resumable", rais_handler(**resumable))
    anthropic = app_hooks.options("anthropic", provider="anthropic")
    app.router.add_post("/api/app/anthropic", rais_handler(**anthropic))
    app.on_shutdown.append(end_streams_on_shutdown)
    return app


def init_func(argv: list[str]) -> web.Application:
    """The entry point of ``python -m aiohttp.web``, which logs everything at DEBUG."""
    logging.getLogger().setLevel(logging.INFO)
    return app


app = create_app()
