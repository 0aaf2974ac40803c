"""LLM providers: each turns chat messages into an async stream of text chunks.

SDKs are imported lazily, so ``import rais`` stays light and a missing SDK becomes
one clear ``error`` event with the install hint, not an ImportError at start-up.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator

from .._errors import RaisError
from ._common import (
    DEFAULT_MODELS,
    KEY_VARIABLES,
    PROVIDERS,
    Messages,
    ProviderConfig,
    StreamFn,
    StreamItem,
)

__all__ = [
    "DEFAULT_MODELS",
    "PROVIDERS",
    "ProviderConfig",
    "StreamItem",
    "provider_stream",
    "resolve_provider",
]


def resolve_provider(name: str) -> StreamFn:
    """The stream function for ``name``; raises :class:`RaisError` for an unknown one."""
    if name == "openai":
        from .openai import stream
    elif name == "anthropic":
        from .anthropic import stream
    elif name == "offline":
        from .offline import stream
    else:
        known = ", ".join(repr(p) for p in PROVIDERS)
        raise RaisError(f"Unknown provider {name!r}: use one of {known}.", status=500)
    return stream


def check_config(config: ProviderConfig) -> None:
    """Raise :class:`RaisError` for provider options no request could use (an unknown
    OpenAI ``api``), so that an endpoint fails at start-up rather than on every request."""
    if config.provider == "openai":
        from .openai import check_options

        check_options(config.options)


def preload_sdk(name: str) -> None:
    """Import a provider's SDK now (at app start-up), not on the event loop mid-request.

    The first ``import openai`` takes about a second; done lazily inside a stream it
    would stall every other stream on that server once. A missing SDK is reported
    per stream, with the install hint, so it is not an error here.
    """
    if name in KEY_VARIABLES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


async def provider_stream(messages: Messages, config: ProviderConfig) -> AsyncIterator[StreamItem]:
    """Stream from the configured provider: text, and the usage, reasoning, tool calls and
    finish reason it reports (errors surface as :class:`RaisError`)."""
    stream = resolve_provider(config.provider)
    chunks = stream(messages, config)
    try:
        async for chunk in chunks:
            yield chunk
    finally:  # close the SDK stream (and its HTTP call) now, not when garbage collected
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
