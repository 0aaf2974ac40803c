"""Litestar. Serve: uvicorn integrations.litestar_app:app --host 0.0.0.0 --port 8000"""

from litestar import Litestar
from litestar.config.cors import CORSConfig

from rais.litestar import rais_router

app = Litestar(
    route_handlers=[rais_router(provider="openai", websocket_path="/api/chat/ws")],
    cors_config=CORSConfig(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
)
