"""FastAPI. Serve: uvicorn integrations.fastapi_app:app --host 0.0.0.0 --port 8000"""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rais.fastapi import rais_router

app = FastAPI(title="rais on FastAPI")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(provider="openai", websocket_path="/api/chat/ws"))
