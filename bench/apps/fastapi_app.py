"""FastAPI bench twin of integrations/fastapi_app.py (same middleware, same router).

Besides ``/api/chat`` and ``/ceiling``: ``/api/ai-sdk`` and ``/api/ag-ui`` (the same
router with ``protocol=``, when the imported rais has it) and ``/fastapi-sse``, FastAPI's
own SSE (``fastapi.sse.EventSourceResponse``, FastAPI 0.135+) as its docs write a stream.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse

from bench.apps.source import PROTOCOLS, ceiling_frames, parse_spec, spec_from_body, text, tokens
from rais.fastapi import rais_router

app = FastAPI(title="rais bench on FastAPI")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(handler=tokens))
for _protocol in PROTOCOLS:
    app.include_router(rais_router(f"/api/{_protocol}", handler=tokens, protocol=_protocol))


@app.post("/ceiling")
async def ceiling(request: Request) -> StreamingResponse:
    spec = spec_from_body(await request.body())
    return StreamingResponse(
        ceiling_frames(spec),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


try:  # FastAPI 0.135+
    from fastapi.sse import EventSourceResponse, ServerSentEvent
except ImportError:  # pragma: no cover - an older FastAPI: no native SSE to compare with
    pass
else:

    @app.post("/fastapi-sse", response_class=EventSourceResponse)
    async def fastapi_sse(body: dict[str, Any]) -> AsyncIterator[ServerSentEvent]:
        # The same frames as rais's (id + the event's JSON), the data pre-formatted
        # (raw_data: no JSON encoding per token, as the sse-starlette anchor's).
        spec = parse_spec(str(body["messages"][-1]["content"]))
        for i in range(spec.count):
            if spec.interval and i:
                await asyncio.sleep(spec.interval)
            elif spec.yield_each:
                await asyncio.sleep(0)
            yield ServerSentEvent(
                raw_data='{"type":"text","text":"' + text(spec) + '"}', id=str(i + 1)
            )
        yield ServerSentEvent(raw_data='{"type":"done"}', id=str(spec.count + 1))
