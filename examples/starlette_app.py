"""Starlette: the RAIS endpoint as a Route.

Run:   OPENAI_API_KEY=sk-... python examples/starlette_app.py     (http://127.0.0.1:8000/api/chat)
Prod:  uvicorn examples.starlette_app:app --host 0.0.0.0 --port 8000 --workers 4
"""

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from rais.starlette import rais_endpoint

app = Starlette(
    routes=[Route("/api/chat", rais_endpoint(provider="openai"), methods=["POST"])],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
