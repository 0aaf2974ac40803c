"""Test-only twins of the integration apps: the same app, plus two endpoints.

Each module imports its integration app unchanged (so every route the integration
serves is served here too) and mounts, through the framework's public adapter:

- ``/api/crash``: a handler that raises the ``BaseException`` named by the body's
  ``raise`` field mid-stream (SystemExit, KeyboardInterrupt or :class:`Meltdown`);
- ``/api/long``: the OpenAI provider through a handler that sends each upstream token
  as 16 KiB of text, so a few thousand tokens from the fake outgrow any socket buffer;
- ``/api/owned``: the OpenAI provider, resumable (``memory://``), each stream bound
  to the caller named by its ``X-User`` header.

They live here, not in integrations/, so the apps users copy stay clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from rais import Chat

CRASH_PATH = "/api/crash"
LONG_PATH = "/api/long"
OWNED_PATH = "/api/owned"
#: Tokens the crash handler streams before it raises.
CRASH_PREFIX = "before the crash "

if os.environ.get("RAIS_TEST_GC") == "off":
    # No cyclic garbage collector: a stream closed "at GC" is then never closed at all,
    # so a recorded upstream cancel proves the server closed the body on disconnect.
    gc.disable()


class Meltdown(BaseException):
    """A BaseException subclass no framework or server has heard of."""


RAISES: dict[str, Callable[[], BaseException]] = {
    "SystemExit": lambda: SystemExit(3),
    "KeyboardInterrupt": KeyboardInterrupt,
    "Meltdown": lambda: Meltdown("the handler gave up"),
}


async def crash(chat: Chat) -> AsyncIterator[str]:
    """Stream a little, then raise what the client asked for (mid-stream, after a token)."""
    make = RAISES[str(chat.extra.get("raise"))]
    yield CRASH_PREFIX
    await asyncio.sleep(0.2)
    raise make()


async def long_answer(chat: Chat) -> AsyncIterator[Any]:
    """The upstream answer, each token repeated to 4 KiB (usage reports pass as they are).

    The upstream stream is closed with this generator, so ending the stream cancels it."""
    async with contextlib.aclosing(chat.stream()) as tokens:  # type: ignore[type-var]
        async for token in tokens:
            yield token * (16384 // max(1, len(token))) if isinstance(token, str) else token


def owner(chat: Chat) -> str | None:
    """Who asked: the ``X-User`` header (an app would use its session or token here)."""
    user = chat.headers.get("x-user")
    return str(user) if user else None


CRASH: dict[str, Any] = {"handler": crash}
LONG: dict[str, Any] = {"provider": "openai", "handler": long_answer}
OWNED: dict[str, Any] = {"provider": "openai", "resume": "memory://", "owner": owner}
