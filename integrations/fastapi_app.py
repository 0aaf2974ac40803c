"""FastAPI. Serve: uvicorn integrations.fastapi_app:app --host 0.0.0.0 --port 8000"""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from integrations import app_hooks
from rais.fastapi import rais_router

app = FastAPI(title="rais on FastAPI")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(provider="openai", websocket_path="/api/chat/ws"))
# The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
app.include_router(
    rais_router("/api/ui", provider="openai", protocol="auto", tools=app_hooks.TOOLS)
)
app.include_router(
    rais_router(
        "/api/ui-resumable",
        provider="openai",
        protocol="auto",
        tools=app_hooks.TOOLS,
        resume="memory://",
    )
)

# A real app's endpoints (handler, configure, owner, on_finish): see app_hooks.
app.include_router(
    rais_router("/api/app", websocket_path="/api/app/ws", **app_hooks.options("app"))
)
app.include_router(
    rais_router("/api/app/resumable", **app_hooks.options("resumable", resume="memory://"))
)
app.include_router(
    rais_router("/api/app/anthropic", **app_hooks.options("anthropic", provider="anthropic"))
)
