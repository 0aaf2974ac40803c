"""What a model streams besides text: reasoning, tool calls and results, steps and usage.

A handler (or a built-in provider) yields these beside its text chunks. The pipeline
records each one for ``on_finish`` and, for the protocols that carry them (the AI SDK's
UI message stream, AG-UI), turns it into a neutral event the codec encodes. RAIS v1 is
text only: there they are recorded and never sent, so reasoning can never leak into the
answer's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FINISH_REASONS",
    "FinishReason",
    "Reasoning",
    "Step",
    "StepFinish",
    "ToolCall",
    "ToolInputDelta",
    "ToolResult",
    "Usage",
]

#: Why a model call stopped, in the AI SDK's vocabulary (which AG-UI clients and OTel's
#: ``gen_ai.response.finish_reasons`` map onto): ``tool-calls`` means it asked for tools.
FinishReason = Literal["stop", "length", "content-filter", "tool-calls", "error", "other"]
FINISH_REASONS: frozenset[str] = frozenset(
    {"stop", "length", "content-filter", "tool-calls", "error", "other"}
)


@dataclass(frozen=True)
class Usage:
    """Token usage as the provider reported it; ``None`` means not reported, not zero.

    A source may yield one; it is recorded for ``on_finish`` (and the AI SDK's finish
    metadata), never sent as text. Reports in one stream add up: Anthropic (and LangChain)
    report the prompt tokens first and the completion tokens at the end, and a tool loop
    reports once per step.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.total_tokens is None and None not in (self.prompt_tokens, self.completion_tokens):
            total = (self.prompt_tokens or 0) + (self.completion_tokens or 0)
            object.__setattr__(self, "total_tokens", total)

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        prompt = _plus(self.prompt_tokens, other.prompt_tokens)
        completion = _plus(self.completion_tokens, other.completion_tokens)
        if prompt is not None and completion is not None:
            return Usage(prompt, completion)  # the total follows from the parts
        return Usage(prompt, completion, _plus(self.total_tokens, other.total_tokens))


def _plus(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else a + b


@dataclass(frozen=True)
class Reasoning:
    """A piece of the model's reasoning ("thinking"), streamed as it comes.

    Shown by UIs that render reasoning (``useChat``'s reasoning parts, AG-UI's reasoning
    events); never part of the answer's text.
    """

    text: str


@dataclass(frozen=True)
class ToolInputDelta:
    """A piece of a tool call's JSON input while the model is still writing it, so a UI
    can show the call before it is complete. The first delta of an ``id`` starts the call."""

    id: str
    name: str
    delta: str


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call: the model asks to run ``name`` with ``input`` (the parsed
    JSON arguments, usually a dict). ``id`` ties it to its :class:`ToolResult`."""

    id: str
    name: str
    input: Any = None


@dataclass(frozen=True)
class ToolResult:
    """What a tool call gave back: its ``output`` (any JSON value), or the ``error`` message
    the model and the UI see when it failed (already safe to show)."""

    id: str
    name: str = ""
    output: Any = None
    error: str | None = None


@dataclass(frozen=True)
class StepFinish:
    """The end of one model call (a step): why it stopped and, if known, its usage.

    A tool loop runs one step per model call; the last step's reason is the stream's
    finish reason. A source that yields none finishes with ``stop`` (or ``error``).
    """

    reason: FinishReason = "stop"
    usage: Usage | None = None


@dataclass
class Step:
    """One model call as ``on_finish`` sees it: its text, reasoning, tool calls (each with
    its result, once there is one), why it stopped and its usage."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
