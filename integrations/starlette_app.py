"""Starlette. Serve: uvicorn integrations.starlette_app:app --host 0.0.0.0 --port 8000"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from rais.starlette import rais_endpoint, rais_websocket_endpoint

app = Starlette(
    routes=[
        Route("/api/chat", rais_endpoint(provider="openai")),
        WebSocketRoute("/api/chat/ws", rais_websocket_endpoint(provider="openai")),
    ],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)
