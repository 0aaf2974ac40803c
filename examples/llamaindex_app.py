"""LlamaIndex: a rais handler returns the LLM's stream, or a query engine's streaming answer.

Run:   python examples/llamaindex_app.py       (no API key needed: MockLLM answers)
Prod:  uvicorn examples.llamaindex_app:app --host 0.0.0.0 --port 8000 --workers 4

- ``POST /api/chat``: ``await llm.astream_chat(...)``; rais sends each chunk's ``.delta``
  (``.message`` holds the answer so far, so it is never sent again).
- ``POST /api/ask``: a query engine built with ``streaming=True`` over your documents;
  rais streams the ``AsyncStreamingResponse`` that ``aquery`` returns.
MockLLM echoes the prompt it is given, so the answers show what the model would see.
"""

import os
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from llama_index.core import Document, SummaryIndex
from llama_index.core.llms import ChatMessage, MockLLM

from rais.fastapi import rais_router

# A real model instead (pip install llama-index-llms-openai, set OPENAI_API_KEY):
#     from llama_index.llms.openai import OpenAI
#     llm = OpenAI(model="gpt-4o-mini")
llm = MockLLM()

documents = [Document(text="rais streams LLM answers to browser chat UIs over RAIS v1 SSE.")]
query_engine = SummaryIndex.from_documents(documents).as_query_engine(streaming=True, llm=llm)


async def chat(messages: list[dict[str, Any]]) -> Any:
    history = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    return await llm.astream_chat(history)


async def ask(messages: list[dict[str, Any]]) -> Any:
    return await query_engine.aquery(messages[-1]["content"])


app = FastAPI(title="rais with LlamaIndex")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(rais_router(handler=chat))
app.include_router(rais_router("/api/ask", handler=ask))

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
