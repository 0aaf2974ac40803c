"""FastAPI: the chat endpoint as a router, for every chat UI (protocol="auto").

useAIChat (RAIS v1), the AI SDK's useChat (examples/usechat-react) and AG-UI clients
(examples/ag-ui-client) all post to the same /api/chat; each is answered in its protocol.

Run:   OPENAI_API_KEY=sk-... python examples/fastapi_app.py       (http://127.0.0.1:8000/api/chat)
Prod:  uvicorn examples.fastapi_app:app --host 0.0.0.0 --port 8000 --workers 4
"""

import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rais.fastapi import rais_router

try:
    from examples.weather_tools import calculate, get_weather
except ImportError:  # run as a script: python examples/fastapi_app.py
    from weather_tools import calculate, get_weather  # type: ignore[no-redef]

app = FastAPI(title="rais on FastAPI")
# Browsers call from another origin (React on :3000, API on :8000); list yours in production.
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
# Two tools the model may call (rais runs them and streams calls and results to the UI).
app.include_router(rais_router(provider="openai", protocol="auto", tools=[get_weather, calculate]))

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
