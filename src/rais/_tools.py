"""The server-side tool loop: plain Python functions as tools for the built-in providers.

``tools=[get_weather, divide]`` on an endpoint (or from ``configure``, per request) makes
each model call a *step*: the model streams text or asks for tools, rais runs the calls
(in parallel; a sync function in a worker thread), streams each call and result to the UI,
hands the results back to the model, and goes on until it answers without a tool call or
``max_steps`` model calls were made. A tool that raises, hangs, returns too much, or gets
arguments that are not valid JSON or fail its schema gives the model an error result: the
stream goes on, and nothing crashes.

Schemas come from the functions' type hints and docstrings, through pydantic (a
dependency of both provider SDKs), imported only when an endpoint has tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeAlias, Union

from . import _threads as threads
from ._errors import redact
from ._parts import StepFinish, ToolCall, ToolResult
from ._providers import ProviderConfig, provider_stream

__all__ = ["DEFAULT_MAX_STEPS", "Tool", "ToolLike", "as_tools", "tool_loop"]

logger = logging.getLogger("rais")

DEFAULT_MAX_STEPS = 5
#: The JSON text of one tool output, at most (a tool that returns a whole table would
#: otherwise be sent to the model and the browser as it is).
DEFAULT_MAX_OUTPUT = 64 * 1024
#: Seconds one tool call may take before the model is told it timed out.
DEFAULT_TOOL_TIMEOUT = 60.0
_MAX_ERROR = 300


@dataclasses.dataclass(frozen=True)
class Tool:
    """One function the model may call: its name, description and JSON schema, and how to
    check and run a call."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    model: Any  # the pydantic model that checks a call's arguments

    @classmethod
    def of(cls, function: Callable[..., Any]) -> Tool:
        """The tool for ``function``: its ``__name__``, the first paragraph of its docstring,
        and a schema of its parameters from their type hints (``Args:`` lines describe them)."""
        import pydantic

        name = getattr(function, "__name__", "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise ValueError(f"a tool needs a name of letters, digits, _ and - ({name!r})")
        doc = inspect.getdoc(function) or ""
        described = _argument_docs(doc)
        hints = _hints(function)
        fields: dict[str, Any] = {}
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = hints.get(parameter.name, Any)
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[parameter.name] = (
                annotation,
                pydantic.Field(default, description=described.get(parameter.name)),
            )
        model = pydantic.create_model(f"{name}_arguments", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for value in schema.get("properties", {}).values():
            value.pop("title", None)
        description = doc.split("\n\n", 1)[0].strip() or name
        return cls(name, description, schema, function, model)

    def spec(self) -> dict[str, Any]:
        """What a provider sends the model (``ProviderConfig.tools``)."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    async def run(self, call: ToolCall, timeout: float | None, max_output: int) -> ToolResult:
        """Run one call; every failure is an error result the model reads."""
        arguments = call.input
        if isinstance(arguments, str):  # the provider could not parse it
            return _failed(call, "The arguments are not valid JSON.")
        if arguments is None:
            arguments = {}
        try:
            checked = self.model.model_validate(arguments)
        except Exception as exc:  # pydantic.ValidationError
            return _failed(call, f"Invalid arguments: {_validation_summary(exc)}")
        kwargs = {field: getattr(checked, field) for field in type(checked).model_fields}
        try:
            if inspect.iscoroutinefunction(self.function):
                output = await asyncio.wait_for(self.function(**kwargs), timeout)
            else:
                running = threads.run("tool", lambda: self.function(**kwargs))
                output = await asyncio.wait_for(running, timeout)
                if inspect.isawaitable(output):
                    output = await asyncio.wait_for(output, timeout)
        except asyncio.TimeoutError:
            return _failed(call, f"The tool did not answer within {timeout:g} s.")
        except Exception as exc:
            logger.warning("tool %s raised", self.name, exc_info=exc)
            return _failed(call, _error_text(exc))
        try:
            text = json.dumps(output, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = json.dumps(str(output), ensure_ascii=False)
        if len(text.encode()) > max_output:
            return _failed(call, f"The tool's output is larger than {max_output} bytes.")
        return ToolResult(call.id, call.name, output=json.loads(text))


#: What ``tools=`` takes: plain functions (sync or async), or :class:`Tool` objects.
ToolLike: TypeAlias = Union[Callable[..., Any], "Tool"]


def as_tools(tools: Sequence[ToolLike] | None) -> tuple[Tool, ...]:
    """Tools from functions (or ready :class:`Tool` objects); names must be unique."""
    made = tuple(tool if isinstance(tool, Tool) else Tool.of(tool) for tool in tools or ())
    names = [tool.name for tool in made]
    if len(set(names)) != len(names):
        raise ValueError(f"two tools share a name: {sorted(names)}")
    return made


async def tool_loop(
    messages: Sequence[dict[str, Any]],
    config: ProviderConfig,
    tools: Sequence[Tool],
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> AsyncIterator[Any]:
    """Stream the provider step by step, running the tools it asks for in between.

    Each step's items pass through as they come; its tool calls run once the model has
    finished asking (all of them at once), their results are streamed, and the step ends
    with the model's own finish reason (``tool-calls``). The last step ends the stream.
    """
    by_name = {tool.name: tool for tool in tools}
    config = dataclasses.replace(config, tools=tuple(tool.spec() for tool in tools))
    history = list(messages)
    for step in range(max(1, max_steps)):
        calls: list[ToolCall] = []
        text: list[str] = []
        finish: StepFinish | None = None
        async for item in provider_stream(history, config):
            if type(item) is str:
                text.append(item)
            elif isinstance(item, ToolCall):
                calls.append(item)
            elif isinstance(item, StepFinish):
                finish = item  # held: the step ends after its tools ran
                continue
            yield item
        if not calls:
            yield finish or StepFinish("stop")
            return
        results = await asyncio.gather(
            *(_run(by_name.get(call.name), call, timeout, max_output) for call in calls)
        )
        for result in results:
            yield result
        yield finish or StepFinish("tool-calls")
        if step + 1 >= max_steps:
            return  # the step budget is spent: the stream ends on the tool results
        history.append(
            {
                "role": "assistant",
                "content": "".join(text),
                "tool_calls": [{"id": c.id, "name": c.name, "input": c.input} for c in calls],
            }
        )
        for result in results:
            message: dict[str, Any] = {
                "role": "tool",
                "tool_call_id": result.id,
                "name": result.name,
                "content": result.error
                if result.error is not None
                else json.dumps(result.output, ensure_ascii=False),
            }
            if result.error is not None:
                message["is_error"] = True
            history.append(message)


async def _run(
    tool: Tool | None, call: ToolCall, timeout: float | None, max_output: int
) -> ToolResult:
    if tool is None:
        return _failed(call, f"There is no tool named {call.name!r}.")
    return await tool.run(call, timeout, max_output)


def _failed(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(call.id, call.name, error=message)


def _error_text(exc: BaseException) -> str:
    """A tool's exception as the model and the UI see it: one redacted line."""
    line = " ".join(str(exc).split())
    text = redact(f"{type(exc).__name__}: {line}" if line else type(exc).__name__)
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def _validation_summary(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "they do not fit the tool's parameters."
    parts = []
    with contextlib.suppress(Exception):
        for error in errors()[:5]:
            where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return redact("; ".join(parts) or "they do not fit the tool's parameters.")


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(function)
    except Exception:  # a hint that cannot be resolved: the parameter takes any JSON
        return {}


_ARGS = re.compile(r"^\s*(?:Args|Arguments|Parameters):\s*$", re.MULTILINE)
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?\s*:\s*(.+)$")


def _argument_docs(doc: str) -> dict[str, str]:
    """``name: what it is`` lines of a Google-style ``Args:`` section."""
    match = _ARGS.search(doc)
    if match is None:
        return {}
    found = {}
    for line in doc[match.end() :].splitlines()[1:] if doc[match.end() :].startswith("\n") else []:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        parsed = _ARG_LINE.match(line)
        if parsed:
            found[parsed.group(1)] = parsed.group(2).strip()
    return found
