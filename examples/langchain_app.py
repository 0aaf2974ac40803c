"""LangChain: a rais handler returns the chat model's ``astream()`` as it is.

Run:   python examples/langchain_app.py        (no API key needed: a fake chat model answers)
Prod:  uvicorn examples.langchain_app:app --host 0.0.0.0 --port 8000 --workers 4

rais takes LangChain's chunks as they come: an ``AIMessageChunk``'s text (a string,
or a list of content blocks whose tool-call fragments and images are skipped), the
strings of a chain ending in ``StrOutputParser``, and ``usage_metadata`` as the
stream's token usage.
"""

import os
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from rais.fastapi import rais_router


def chat_model(messages: list[dict[str, Any]]) -> BaseChatModel:
    """An offline stand-in that quotes the question back, a word at a time.

    With a real model, build it once at import time instead (``pip install langchain-openai``
    and set ``OPENAI_API_KEY``; ``stream_usage=True`` reports the token usage):
        llm = ChatOpenAI(model="gpt-4o-mini", stream_usage=True)
    """
    question = messages[-1]["content"] if messages else ""
    return GenericFakeChatModel(messages=iter([AIMessage(f"You asked: {question}")]))


def handler(messages: list[dict[str, Any]]) -> Any:
    # LangChain takes the RAIS {"role", "content"} dicts as they are.
    return chat_model(messages).astream(messages)


app = FastAPI(title="rais with LangChain")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(handler=handler))

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
