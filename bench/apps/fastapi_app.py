"""FastAPI bench twin of integrations/fastapi_app.py (same middleware, same router)."""

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse

from bench.apps.source import ceiling_frames, spec_from_body, tokens
from rais.fastapi import rais_router

app = FastAPI(title="rais bench on FastAPI")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(handler=tokens))


@app.post("/ceiling")
async def ceiling(request: Request) -> StreamingResponse:
    spec = spec_from_body(await request.body())
    return StreamingResponse(
        ceiling_frames(spec),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
