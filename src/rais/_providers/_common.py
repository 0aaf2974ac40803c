"""What the provider modules share: their config, the SDK client helpers, the errors for a
missing SDK or key. A leaf: the provider package imports it, never the other way round.
"""

from __future__ import annotations

import functools
import inspect
import json
import operator
import os
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._errors import RaisError
from .._parts import Reasoning, StepFinish, ToolCall, ToolInputDelta, Usage

DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-6",
    "offline": "rais-offline",
}
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
PROVIDERS = tuple(DEFAULT_MODELS)


@dataclass(frozen=True)
class ProviderConfig:
    """Everything a provider needs besides the messages; built once per endpoint."""

    provider: str
    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_tokens: int = 1024
    timeout: float | None = None
    max_retries: int | None = None
    #: Ask for token usage in the stream (OpenAI-compatible servers may reject it).
    usage: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    #: Tools the model may call, each ``{"name", "description", "parameters"}`` (a JSON
    #: schema); set by the tool loop (rais._tools), sent in each provider's own format.
    tools: tuple[dict[str, Any], ...] = ()

    @property
    def resolved_model(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.provider, "")

    def resolved_key(self) -> str | None:
        variable = KEY_VARIABLES.get(self.provider)
        return self.api_key or (os.environ.get(variable) if variable else None)


Messages = Sequence[dict[str, Any]]
#: What a provider yields: text chunks; :class:`rais.Usage` whenever the API reports it;
#: reasoning; a tool call's input deltas, then the complete call; and, last, the step's
#: finish reason.
StreamItem: TypeAlias = "str | Usage | Reasoning | ToolInputDelta | ToolCall | StepFinish"
StreamFn = Callable[[Messages, ProviderConfig], AsyncIterator[StreamItem]]


def client_options(config: ProviderConfig, api_key: str) -> dict[str, Any]:
    """The SDK client's constructor arguments (both SDKs take the same ones)."""
    options: dict[str, Any] = {"api_key": api_key, "base_url": config.base_url}
    if config.timeout is not None:
        options["timeout"] = config.timeout
    if config.max_retries is not None:
        options["max_retries"] = config.max_retries
    return options


def client_key(config: ProviderConfig, api_key: str | None) -> tuple[Any, ...]:
    """What one cached SDK client is for."""
    return (config.provider, api_key, config.base_url, config.timeout, config.max_retries)


def openai_client(openai: Any, config: ProviderConfig) -> Any:
    """The cached ``AsyncOpenAI`` client for ``config`` (chat completions and the Responses
    API share it); an OpenAI-compatible server at ``base_url`` may need no key."""
    api_key = config.resolved_key()
    if not api_key and not config.base_url:
        raise missing_key("openai")
    return cached_client(
        client_key(config, api_key),
        lambda: openai.AsyncOpenAI(**client_options(config, api_key or "not-needed")),
    )


def openai_call(config: ProviderConfig, method: str) -> tuple[Any, Any, dict[str, Any]]:
    """What chat completions and the Responses API both start with: the openai package (a
    stream catches its errors), the cached client's ``method`` (``"chat.completions.create"``
    or ``"responses.create"``) and ``config.options`` as that method's :func:`sdk_options`,
    less ``api`` (rais's choice of OpenAI API, not a request parameter).

    The package is imported here, on the first stream, so that ``import rais`` does not
    import it; :func:`missing_sdk`'s error when it is not installed."""
    try:
        import openai
    except ImportError:
        raise missing_sdk("openai") from None
    create = operator.attrgetter(method)(openai_client(openai, config))
    given = {key: value for key, value in config.options.items() if key != "api"}
    return openai, create, sdk_options(create, given)


def missing_sdk(package: str) -> RaisError:
    return RaisError(
        f"The {package} package is not installed: pip install 'rais[{package}]'", status=500
    )


def missing_key(provider: str) -> RaisError:
    variable = KEY_VARIABLES[provider]
    return RaisError(f"No API key for {provider}: pass api_key= or set {variable}.", status=500)


# One SDK client per (event loop, key, base URL, ...): clients pool connections and
# those are bound to the loop that opened them.
_clients: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def cached_client(key: tuple[Any, ...], factory: Callable[[], Any]) -> Any:
    import asyncio

    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None:
        client = per_loop[key] = factory()
    return client


@functools.lru_cache(maxsize=16)
def _parameters(method: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(method).parameters)


def sdk_options(method: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as SDK keyword arguments; ones the SDK method has no parameter for
    (e.g. ``temperature`` in SDKs that dropped it) go in the request body via ``extra_body``."""
    accepted = _parameters(getattr(method, "__func__", method))
    known = {key: value for key, value in options.items() if key in accepted}
    unknown = {key: value for key, value in options.items() if key not in accepted}
    if unknown:
        known["extra_body"] = {**unknown, **(options.get("extra_body") or {})}
    return known


def retry_after(exc: Any) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers.get("retry-after") if headers is not None else None


def text_of(content: Any) -> str:
    """Message content as text: strings as-is, content-part lists joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return "" if content is None else str(content)


def parse_arguments(arguments: str) -> Any:
    """A tool call's JSON arguments: parsed, ``{}`` when empty, the raw string when they are
    not JSON (the tool loop turns that into an error result for the model)."""
    if not arguments.strip():
        return {}
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
