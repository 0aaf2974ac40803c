"""pydantic-ai: a rais handler streams an agent's text deltas, then reports its usage.

Run:   python examples/pydantic_ai_app.py      (no API key needed: a FunctionModel answers)
Prod:  uvicorn examples.pydantic_ai_app:app --host 0.0.0.0 --port 8000 --workers 4

``agent.run_stream(...)`` is a context manager, so the handler is an async generator
that holds it open while rais streams; leaving early (the browser closed the tab)
closes it, which cancels the model call. ``debounce_by=None`` sends each delta as it
arrives instead of batching them. The ``result.usage`` yielded at the end is recorded
as the stream's token usage, never sent to the browser.
"""

import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rais.fastapi import rais_router


async def quote_back(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    """An offline stand-in model: quotes the question back, a word at a time."""
    question = str(messages[-1].parts[-1].content)
    words = f"You asked: {question}".split(" ")
    yield words[0]
    for word in words[1:]:
        yield " " + word


# A real model instead (pip install "pydantic-ai-slim[openai]", set OPENAI_API_KEY):
#     agent = Agent("openai:gpt-4o-mini")
agent = Agent(FunctionModel(stream_function=quote_back))


def history(messages: list[dict[str, Any]]) -> list[ModelMessage]:
    """The earlier RAIS turns as pydantic-ai messages."""
    turns: list[ModelMessage] = []
    for m in messages:
        if m["role"] == "assistant":
            turns.append(ModelResponse(parts=[TextPart(m["content"])]))
        elif m["role"] == "system":
            turns.append(ModelRequest(parts=[SystemPromptPart(m["content"])]))
        elif m["role"] == "user":
            turns.append(ModelRequest(parts=[UserPromptPart(m["content"])]))
    return turns


async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[Any]:
    prompt, earlier = messages[-1]["content"], history(messages[:-1])
    async with agent.run_stream(prompt, message_history=earlier) as result:
        async for text in result.stream_text(delta=True, debounce_by=None):
            yield text
        yield result.usage


app = FastAPI(title="rais with pydantic-ai")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(handler=handler))

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
