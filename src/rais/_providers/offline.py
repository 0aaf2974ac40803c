"""An offline provider for demos and tests: deterministic, no network, paced like a model."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator

from .._chat import Usage
from ._common import Messages, ProviderConfig, text_of

_WORDS = re.compile(r"\s*\S+")


def reply_for(messages: Messages) -> str:
    last = next((text_of(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
    said = " ".join(last.split())
    if len(said) > 200:
        said = said[:199] + "…"
    return (
        f"You said: “{said}”. This answer comes from rais's offline demo provider, "
        "which needs no API key and no network. Set OPENAI_API_KEY or ANTHROPIC_API_KEY "
        "to stream from a real model."
    )


async def stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[str | Usage]:
    delay = float(config.options.get("delay", os.environ.get("RAIS_OFFLINE_DELAY", "0.02")))
    tokens = _WORDS.findall(reply_for(messages))
    prompt = sum(len(_WORDS.findall(text_of(m["content"]))) for m in messages)
    yield Usage(prompt_tokens=prompt)  # a word is a token here, as the demo's usage
    for token in tokens:
        if delay > 0:
            await asyncio.sleep(delay)
        yield token
    yield Usage(completion_tokens=len(tokens))
