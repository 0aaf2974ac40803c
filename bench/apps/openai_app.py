"""End-to-end bench app (FastAPI, uvicorn): the real openai SDK against the fake upstream.

- ``/api/chat``: ``rais_router(provider="openai")`` (``OPENAI_BASE_URL`` points at the fake);
- ``/ceiling``: what one writes by hand without rais: an ``AsyncOpenAI`` stream turned
  into RAIS frames (``json.dumps`` per token, since upstream text is arbitrary) in a
  ``StreamingResponse``, on the same stack and the same SDK client options.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk

from rais.fastapi import rais_router

MODEL = "gpt-4o-mini"  # rais's default for the openai provider, so both send the same model

app = FastAPI(title="rais end-to-end bench")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(provider="openai", model=MODEL))

_client: AsyncOpenAI | None = None


def client() -> AsyncOpenAI:
    """One client per process (rais caches one per loop too), created on first use."""
    global _client
    if _client is None:
        _client = AsyncOpenAI(
            base_url=os.environ["OPENAI_BASE_URL"],
            api_key=os.environ["OPENAI_API_KEY"],
            max_retries=int(os.environ.get("RAIS_MAX_RETRIES", "0")),
        )
    return _client


async def frames(messages: Any) -> AsyncIterator[bytes]:
    stream: AsyncStream[ChatCompletionChunk] = await client().chat.completions.create(
        model=MODEL, messages=messages, stream=True, max_tokens=1024
    )
    number = 0
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                number += 1
                text = json.dumps(chunk.choices[0].delta.content)
                yield f'id: {number}\ndata: {{"type":"text","text":{text}}}\n\n'.encode()
    yield f'id: {number + 1}\ndata: {{"type":"done"}}\n\n'.encode()


@app.post("/ceiling")
async def ceiling(request: Request) -> StreamingResponse:
    body = await request.json()
    return StreamingResponse(
        frames(body["messages"]),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
