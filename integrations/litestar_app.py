"""Litestar. Serve: uvicorn integrations.litestar_app:app --host 0.0.0.0 --port 8000"""

from litestar import Litestar
from litestar.config.cors import CORSConfig

from integrations import app_hooks
from rais.litestar import rais_router

app = Litestar(
    route_handlers=[
        rais_router(provider="openai", websocket_path="/api/chat/ws"),
        # The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
        rais_router("/api/ui", provider="openai", protocol="auto", tools=app_hooks.TOOLS),
        rais_router(
            "/api/ui-resumable",
            provider="openai",
            protocol="auto",
            tools=app_hooks.TOOLS,
            resume="memory://",
        ),
        # A real app's endpoints (handler, configure, owner, on_finish): see app_hooks.
        rais_router("/api/app", websocket_path="/api/app/ws", **app_hooks.options("app")),
        rais_router("/api/app/resumable", **app_hooks.options("resumable", resume="memory://")),
        rais_router("/api/app/anthropic", **app_hooks.options("anthropic", provider="anthropic")),
    ],
    cors_config=CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
)
