"""A RAIS endpoint whose streams survive dropped connections, across workers.

Resume is switched on by the environment alone: ``RAIS_RESUME_URL=redis://...`` makes
every worker write its streams to Redis, so a reconnect with ``Last-Event-ID`` may
land on any worker. Without ``OPENAI_API_KEY`` it streams the offline demo provider.

Run:   RAIS_RESUME_URL=redis://127.0.0.1:6379/0 uvicorn examples.multi_worker.app:app --port 8001
Prod:  RAIS_RESUME_URL=redis://redis:6379/0 uvicorn examples.multi_worker.app:app --workers 4
"""

import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rais.fastapi import rais_router

app = FastAPI(title="rais: resumable streams")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
# resume= defaults to RAIS_RESUME_URL; pass resume="redis://..." to set it in code instead.
app.include_router(
    rais_router(provider="openai" if os.environ.get("OPENAI_API_KEY") else "offline")
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
