"""The documented FastAPI example, verbatim (python-adapter-docs.txt)."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rais import stream_response

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    messages: list[Message]


@app.post("/api/chat")
async def chat(request: ChatRequest):  # type: ignore[no-untyped-def]
    return StreamingResponse(
        stream_response(
            [m.model_dump() for m in request.messages],
            provider="openai",  # or "anthropic"
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "Connection": "keep-alive"},
    )
