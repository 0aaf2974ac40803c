"""rais: stream LLM answers to browser chat UIs over the RAIS v1 protocol.

``import rais`` loads no web framework, no provider SDK and not even asyncio: the
names below are imported on first use. Adapters live in ``rais.fastapi``,
``rais.starlette``, ``rais.django``, ``rais.flask``, ``rais.quart``, ``rais.litestar``
and ``rais.aiohttp``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._events import Event, rais_event

if TYPE_CHECKING:
    from ._chat import Chat, StreamResult, ToolUse, Usage
    from ._endpoint import ChatEndpoint, EndpointOptions
    from ._errors import RaisError, UpstreamError
    from ._parts import Reasoning, Step, StepFinish, ToolCall, ToolInputDelta, ToolResult
    from ._pipeline import rais_events
    from ._reply import Reply
    from ._request import ChatRequest, Limits, RequestError, parse_chat_request
    from ._streams import stream_response, stream_text
    from ._tools import Tool

__all__ = [
    "Chat",
    "ChatEndpoint",
    "ChatRequest",
    "EndpointOptions",
    "Event",
    "Limits",
    "RaisError",
    "Reasoning",
    "Reply",
    "RequestError",
    "Step",
    "StepFinish",
    "StreamResult",
    "Tool",
    "ToolCall",
    "ToolInputDelta",
    "ToolResult",
    "ToolUse",
    "UpstreamError",
    "Usage",
    "__version__",
    "parse_chat_request",
    "rais_event",
    "rais_events",
    "stream_response",
    "stream_text",
]

__version__ = "0.1.0"

_LAZY = {
    "Chat": "_chat",
    "StreamResult": "_chat",
    "Usage": "_chat",
    "ToolUse": "_chat",
    "Reasoning": "_parts",
    "Step": "_parts",
    "StepFinish": "_parts",
    "ToolCall": "_parts",
    "ToolInputDelta": "_parts",
    "ToolResult": "_parts",
    "Tool": "_tools",
    "RaisError": "_errors",
    "UpstreamError": "_errors",
    "rais_events": "_pipeline",
    "ChatRequest": "_request",
    "Limits": "_request",
    "RequestError": "_request",
    "parse_chat_request": "_request",
    "stream_response": "_streams",
    "stream_text": "_streams",
    # for adapters of other frameworks: the core they wrap
    "ChatEndpoint": "_endpoint",
    "EndpointOptions": "_endpoint",
    "Reply": "_reply",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rais' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
