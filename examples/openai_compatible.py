"""Any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp, Groq, ...) via ``base_url``.

Run:   ollama pull llama3.2 && ollama serve          (Ollama listens on :11434)
       python examples/openai_compatible.py          (http://127.0.0.1:8000/api/chat)
Other: OPENAI_BASE_URL=http://localhost:8080/v1 RAIS_MODEL=my-model \
           python examples/openai_compatible.py

Local servers need no key (rais sends a placeholder); hosted ones read OPENAI_API_KEY.
"""

import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rais.fastapi import rais_router

BASE_URL = os.environ.get("OPENAI_BASE_URL", "http://localhost:11434/v1")
MODEL = os.environ.get("RAIS_MODEL", "llama3.2")

app = FastAPI(title="rais on an OpenAI-compatible server")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(
    rais_router(
        provider="openai",
        base_url=BASE_URL,
        model=MODEL,
        system="You are a concise assistant.",
        options={"temperature": 0.2},
    )
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
