"""Your own streaming logic (a local model, LangChain, LlamaIndex, ...), as the seed docs show.

Run:   python examples/custom_generator.py        (no API key needed)

Two ways to serve the same generator:
- ``POST /api/chat``: verbatim from the docs, through FastAPI's ``StreamingResponse``.
  You write every event yourself, including the final ``done``.
- ``POST /api/rais``: handed to rais with ``handler=``, which numbers the events, sends
  heartbeats, turns an exception into one ``error`` event and stops the generator when
  the browser disconnects. A handler may also yield plain text chunks.
- ``POST /api/view``: your own route, answered by ``rais_response(request, handler)``:
  the same validation, framing, ids, heartbeats and disconnect handling as the router.
"""

import asyncio
import os

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rais import rais_event
from rais.fastapi import rais_response, rais_router


def generate_tokens(messages: list[dict[str, str]]) -> list[str]:
    """Stand-in for a model: answer with the question's words, reversed."""
    words = messages[-1]["content"].split()
    return ["Backwards: ", *(word + " " for word in reversed(words))]


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
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


@app.post("/api/chat")
async def chat(request: ChatRequest):  # type: ignore[no-untyped-def]
    return StreamingResponse(
        my_stream([m.model_dump() for m in request.messages]),
        media_type="text/event-stream",
    )


app.include_router(rais_router("/api/rais", handler=my_stream))


@app.post("/api/view")
async def view(request: Request):  # type: ignore[no-untyped-def]
    # Authenticate, pick a prompt, ... here; rais validates the body and streams.
    return await rais_response(request, my_stream)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
