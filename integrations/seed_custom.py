"""The documented "custom streaming logic" pattern: a hand-written generator of rais_event strings.

Served twice: verbatim through FastAPI's StreamingResponse at /api/chat, and through
rais's own FastAPI router (``handler=``) at /api/handler, which adds ids and heartbeats.
"""

import asyncio

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rais import rais_event
from rais.fastapi import rais_router


def generate_tokens(messages: list[dict[str, str]]) -> list[str]:
    last = messages[-1]["content"]
    return [f"echo {i}: {word} " for i, word in enumerate(last.split())]


async def my_stream(messages):  # type: ignore[no-untyped-def]
    for token in generate_tokens(messages):
        yield rais_event({"type": "text", "text": token})
        await asyncio.sleep(0)
    yield rais_event({"type": "done"})


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    messages: list[Message]


app = FastAPI()


@app.post("/api/chat")
async def chat(request: ChatRequest):  # type: ignore[no-untyped-def]
    return StreamingResponse(
        my_stream([m.model_dump() for m in request.messages]),
        media_type="text/event-stream",
    )


app.include_router(rais_router("/api/handler", handler=my_stream))
