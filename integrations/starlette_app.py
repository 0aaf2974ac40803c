"""Starlette. Serve: uvicorn integrations.starlette_app:app --host 0.0.0.0 --port 8000"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from integrations import app_hooks
from rais.starlette import rais_endpoint, rais_websocket_endpoint

ui = rais_endpoint(provider="openai", protocol="auto", tools=app_hooks.TOOLS)
ui_resumable = rais_endpoint(
    provider="openai", protocol="auto", tools=app_hooks.TOOLS, resume="memory://"
)
app = Starlette(
    routes=[
        Route("/api/chat", rais_endpoint(provider="openai")),
        WebSocketRoute("/api/chat/ws", rais_websocket_endpoint(provider="openai")),
        # The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
        Route("/api/ui", ui),
        Route("/api/ui/{chat_id}/stream", ui.resume),  # the AI SDK's resume
        Route("/api/ui-resumable", ui_resumable),
        Route("/api/ui-resumable/{chat_id}/stream", ui_resumable.resume),
        # A real app's endpoints (handler, configure, owner, on_finish): see app_hooks.
        Route("/api/app", rais_endpoint(**app_hooks.options("app"))),
        WebSocketRoute("/api/app/ws", rais_websocket_endpoint(**app_hooks.options("app"))),
        Route(
            "/api/app/resumable",
            rais_endpoint(**app_hooks.options("resumable", resume="memory://")),
        ),
        Route(
            "/api/app/anthropic",
            rais_endpoint(**app_hooks.options("anthropic", provider="anthropic")),
        ),
    ],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)
