"""LangChain, pydantic-ai and LlamaIndex streams beyond text: reasoning, tool calls, tool
results, finish reasons and usage become rais's typed items (issue 18.2).

The real packages run against the fake OpenAI upstream (tests/fakes/upstreams.py):
``[think:...]`` streams ``reasoning_content``, ``[tool:NAME:JSON]`` tool-call deltas, and
tool results are answered with ``Results: a | b``. langchain-openai's ``ChatOpenAI`` runs
against it too (tool calls, finish reason, usage); as it drops DeepSeek-style
``reasoning_content``, :class:`FakeOpenAIChat` (a real langchain-core chat model that
streams with the openai SDK and builds its chunks as ``ChatDeepSeek`` and
langchain-openai do) covers ``additional_kwargs["reasoning_content"]`` beside the rest.
LlamaIndex's agent runs with its own MockFunctionCallingLLM.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool
from openai import AsyncOpenAI
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from starlette.applications import Starlette
from starlette.routing import Route

from rais import (
    Reasoning,
    StepFinish,
    StreamResult,
    ToolCall,
    ToolInputDelta,
    ToolResult,
    Usage,
)
from rais._chunks import ChunkParts, finish_reason, parse_arguments
from rais.starlette import rais_endpoint
from tests.fakes.upstreams import FakeUpstream

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test-openai-0123456789abcdef"
TWO_CALLS = '[think:pondering][tool:weather:{"city": "Paris"}][tool:divide:{"a": 1, "b": 0}] go'


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as up:
        yield up
        assert up.internal_errors == []


def weather(city: str) -> str:
    """The current weather in a city."""
    return f"sunny in {city}"


def divide(a: float, b: float) -> float:
    """a divided by b."""
    return a / b


OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": fn.__doc__,
            "parameters": {"type": "object", "properties": {}},
        },
    }
    for fn in (weather, divide)
]


def convert(source: Any) -> list[Any]:
    """Every rais item a framework's (sync) stream converts to."""
    parts = ChunkParts()
    out = [part for item in source for part in parts.parts(item)]
    return out + parts.close()


async def aconvert(source: Any) -> list[Any]:
    parts = ChunkParts()
    out = [part async for item in source for part in parts.parts(item)]
    return out + parts.close()


def of(items: list[Any], kind: type) -> list[Any]:
    return [item for item in items if isinstance(item, kind)]


def text_of(items: list[Any]) -> str:
    return "".join(item for item in items if isinstance(item, str))


async def through_ai_sdk(
    handler: Any, question: str, protocol: str = "ai-sdk"
) -> tuple[list[dict[str, Any]], StreamResult]:
    """POST one AI SDK (or AG-UI) chat to a rais endpoint: its stream's chunks (events)
    and what on_finish was given."""
    results: list[StreamResult] = []
    app = Starlette(
        routes=[
            Route(
                "/api/chat",
                rais_endpoint(handler=handler, protocol=protocol, on_finish=results.append),
                methods=["POST"],
            )
        ]
    )
    body: dict[str, Any] = {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": question}]}],
    }
    if protocol == "ag-ui":
        body = {
            "threadId": "t1",
            "runId": "r1",
            "messages": [{"id": "m1", "role": "user", "content": question}],
            "state": {},
            "tools": [],
            "context": [],
            "forwardedProps": {},
        }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    frames = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert len(results) == 1
    return frames, results[0]


def frame_types(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["type"] for frame in frames]


# ------------------------------------------------------------------ helpers


def test_finish_reasons_in_rais_vocabulary() -> None:
    assert finish_reason("tool_calls") == "tool-calls"
    assert finish_reason("content_filter") == "content-filter"
    assert finish_reason("stop") == "stop"
    assert finish_reason("length") == "length"
    assert finish_reason("end_turn") == "stop"  # Anthropic's
    assert finish_reason("tool_use") == "tool-calls"
    assert finish_reason("MAX_TOKENS") == "length"  # Gemini's
    assert finish_reason("SAFETY") == "content-filter"
    assert finish_reason("something_new") == "other"
    assert finish_reason(None) is None and finish_reason("") is None


def test_tool_arguments() -> None:
    assert parse_arguments('{"a": 1}') == {"a": 1}
    assert parse_arguments("") == {} and parse_arguments(None) == {}
    assert parse_arguments("not json") == "not json"
    assert parse_arguments({"a": 1}) == {"a": 1}


# ------------------------------------------------------------------ LangChain


def to_openai(message: BaseMessage) -> dict[str, Any]:
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if isinstance(message, AIMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
                }
                for call in message.tool_calls
            ]
        return out
    return {"role": "user", "content": message.content}


class FakeOpenAIChat(BaseChatModel):
    """A langchain-core chat model streaming from an OpenAI-compatible server, its chunks
    shaped as langchain-openai's ChatOpenAI shapes them."""

    base_url: str

    @property
    def _llm_type(self) -> str:
        return "fake-openai"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kw: Any) -> ChatResult:
        raise NotImplementedError("streams only")

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        extra = {"tools": kw["tools"]} if kw.get("tools") else {}
        async with AsyncOpenAI(base_url=self.base_url, api_key=KEY, max_retries=0) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[to_openai(m) for m in messages],  # type: ignore[misc]
                stream=True,
                stream_options={"include_usage": True},
                **extra,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None and not chunk.choices:
                        usage = {
                            "input_tokens": chunk.usage.prompt_tokens,
                            "output_tokens": chunk.usage.completion_tokens,
                            "total_tokens": chunk.usage.total_tokens,
                        }
                        message = AIMessageChunk(content="", usage_metadata=usage)  # type: ignore[arg-type]
                        yield ChatGenerationChunk(message=message)
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    additional: dict[str, Any] = {}
                    reasoning = getattr(delta, "reasoning_content", None)
                    if reasoning:
                        additional["reasoning_content"] = reasoning
                    fragments = [
                        tool_call_chunk(
                            name=call.function.name if call.function else None,
                            args=call.function.arguments if call.function else None,
                            id=call.id,
                            index=call.index,
                        )
                        for call in delta.tool_calls or ()
                    ]
                    metadata = (
                        {"finish_reason": choice.finish_reason} if choice.finish_reason else {}
                    )
                    message = AIMessageChunk(
                        content=delta.content or "",
                        additional_kwargs=additional,
                        tool_call_chunks=fragments,
                        response_metadata=metadata,
                    )
                    yield ChatGenerationChunk(message=message)


TOOLS = {"weather": weather, "divide": divide}


async def langchain_agent(llm: FakeOpenAIChat, question: str) -> AsyncIterator[Any]:
    """A tool loop as a LangGraph agent streams it: the model's chunks, then a ToolMessage
    per call, until the model answers."""
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(3):
        whole: AIMessageChunk | None = None
        async for chunk in llm.astream(messages, tools=OPENAI_TOOLS):
            yield chunk
            whole = chunk if whole is None else whole + chunk
        assert whole is not None
        messages.append(AIMessage(content=whole.content, tool_calls=whole.tool_calls))
        if not whole.tool_calls:
            return
        for call in whole.tool_calls:
            try:
                output, status = str(TOOLS[call["name"]](**call["args"])), "success"
            except Exception as exc:
                output, status = f"{type(exc).__name__}: {exc}", "error"
            result = ToolMessage(output, tool_call_id=call["id"], name=call["name"], status=status)
            messages.append(result)
            yield result


async def test_langchain_tool_call_chunks_reasoning_and_finish(upstream: FakeUpstream) -> None:
    llm = FakeOpenAIChat(base_url=upstream.base_url)
    items = await aconvert(llm.astream([HumanMessage(TWO_CALLS)], tools=OPENAI_TOOLS))

    assert "".join(r.text for r in of(items, Reasoning)) == "pondering"
    assert text_of(items) == ""  # the reasoning is never text
    calls = of(items, ToolCall)
    assert [(c.name, c.input) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": 0}),
    ]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id
    for call, raw in zip(calls, ['{"city": "Paris"}', '{"a": 1, "b": 0}'], strict=True):
        deltas = [d for d in of(items, ToolInputDelta) if d.id == call.id]
        assert len(deltas) > 1 and {d.name for d in deltas} == {call.name}
        assert "".join(d.delta for d in deltas) == raw
    # the calls are complete before the step ends, and the usage follows it
    assert of(items, StepFinish) == [StepFinish("tool-calls")]
    assert items.index(StepFinish("tool-calls")) > items.index(calls[1])
    assert len(of(items, Usage)) == 1


async def test_langchain_text_answer_and_length(upstream: FakeUpstream) -> None:
    llm = FakeOpenAIChat(base_url=upstream.base_url)
    items = await aconvert(llm.astream([HumanMessage("[tokens:a|b|c][finish:length]")]))
    assert [i for i in items if isinstance(i, str)] == ["a", "b", "c"]
    assert of(items, StepFinish) == [StepFinish("length")]
    assert of(items, ToolCall) == []


async def test_langchain_bad_json_arguments_stay_a_string(upstream: FakeUpstream) -> None:
    llm = FakeOpenAIChat(base_url=upstream.base_url)
    items = await aconvert(
        llm.astream([HumanMessage("[tool:weather:{city: Paris] go")], tools=OPENAI_TOOLS)
    )
    (call,) = of(items, ToolCall)
    assert call.name == "weather" and call.input == "{city: Paris"


def test_langchain_fragments_grouped_by_index_and_completed_at_the_end() -> None:
    """Interleaved fragments of two calls; no finish reason: the end completes them."""
    chunks = [
        AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(name="now", id="a", index=0)]),
        AIMessageChunk(
            content="",
            tool_call_chunks=[tool_call_chunk(name="echo", args='{"x"', id="b", index=1)],
        ),
        AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(args=": 2}", index=1)]),
    ]
    items = convert(chunks)
    assert of(items, ToolInputDelta) == [
        ToolInputDelta("b", "echo", '{"x"'),
        ToolInputDelta("b", "echo", ": 2}"),
    ]
    assert of(items, ToolCall) == [ToolCall("a", "now", {}), ToolCall("b", "echo", {"x": 2})]
    assert of(items, StepFinish) == []


def test_langchain_reasoning_blocks_and_content_filter() -> None:
    chunk = AIMessageChunk(
        content=[
            {"type": "reasoning", "reasoning": "first "},
            {"type": "thinking", "thinking": "second "},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "third"}]},
            {"type": "text", "text": "Answer"},
        ],
        response_metadata={"finish_reason": "content_filter"},
    )
    items = convert([chunk])
    assert items == [
        Reasoning("first "),
        Reasoning("second "),
        Reasoning("third"),
        "Answer",
        StepFinish("content-filter"),
    ]


def test_langchain_finish_reason_keys_of_other_integrations() -> None:
    chunks = [
        AIMessageChunk(content="", response_metadata={"stop_reason": "tool_use"}),  # Anthropic
        AIMessageChunk(content="", response_metadata={"done_reason": "length"}),  # Ollama
        AIMessageChunk(content="", response_metadata={"finish_reason": "STOP"}),  # Gemini
    ]
    assert convert(chunks) == [StepFinish("tool-calls"), StepFinish("length"), StepFinish("stop")]


def test_langchain_tool_messages_whole_messages_and_langgraph_tuples() -> None:
    call = {"name": "weather", "args": {"city": "Oslo"}, "id": "c1"}
    meta = {"langgraph_node": "agent"}
    items = convert(
        [
            (AIMessage(content="", tool_calls=[call]), meta),  # stream_mode="messages"
            AIMessage(content="", tool_calls=[call]),  # the same call again: sent once
            (ToolMessage("cold", tool_call_id="c1", name="weather"), meta),
            ToolMessage("boom", tool_call_id="c2", name="divide", status="error"),
            (AIMessageChunk(content="It is cold."), meta),
        ]
    )
    assert items == [
        ToolCall("c1", "weather", {"city": "Oslo"}),
        ToolResult("c1", "weather", output="cold"),
        ToolResult("c2", "divide", error="boom"),
        "It is cold.",
    ]


async def test_langchain_agent_through_the_ai_sdk_stream(upstream: FakeUpstream) -> None:
    llm = FakeOpenAIChat(base_url=upstream.base_url)

    async def handler(chat: Any) -> AsyncIterator[Any]:
        async for item in langchain_agent(llm, chat.messages[-1]["content"]):
            yield item

    frames, result = await through_ai_sdk(handler, TWO_CALLS)
    assert result.outcome == "done"
    assert result.text == "Results: sunny in Paris | ZeroDivisionError: division by zero"
    assert result.reasoning == "ponderingpondering"  # the fake thinks before each answer
    assert [(t.name, t.input) for t in result.tool_calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": 0}),
    ]
    weather_use, divide_use = result.tool_calls
    assert weather_use.result == ToolResult(weather_use.id, "weather", output="sunny in Paris")
    assert divide_use.result is not None and "division by zero" in str(divide_use.result.error)
    assert [s.finish_reason for s in result.steps] == ["tool-calls", "stop"]
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens

    types = frame_types(frames)
    assert types.count("tool-input-available") == 2
    assert types.count("tool-output-available") == 1 and types.count("tool-output-error") == 1
    assert "reasoning-delta" in types and "tool-input-delta" in types
    assert types.index("tool-input-available") < types.index("tool-output-available")
    text = "".join(f["delta"] for f in frames if f["type"] == "text-delta")
    assert text == result.text


# ------------------------------------------------------------------ pydantic-ai


def pydantic_agent(upstream: FakeUpstream) -> Agent[None, str]:
    model = OpenAIChatModel(
        "gpt-4o-mini", provider=OpenAIProvider(base_url=upstream.base_url, api_key=KEY)
    )
    agent = Agent(model)

    @agent.tool_plain
    def weather(city: str) -> str:
        """The current weather in a city."""
        return f"sunny in {city}"

    @agent.tool_plain
    def divide(a: float, b: float) -> float:
        """a divided by b."""
        if b == 0:
            raise ModelRetry("b must not be 0")
        return a / b

    return agent


async def test_pydantic_ai_event_stream_items(upstream: FakeUpstream) -> None:
    agent = pydantic_agent(upstream)
    async with agent.run_stream_events(TWO_CALLS) as events:
        items = await aconvert(events)

    calls = of(items, ToolCall)
    assert [(c.name, c.input) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": 0}),
    ]
    results = of(items, ToolResult)
    assert results[0] == ToolResult(calls[0].id, "weather", output="sunny in Paris")
    assert results[1].id == calls[1].id and results[1].error == "b must not be 0"
    assert of(items, StepFinish) == [StepFinish("tool-calls")]
    assert items.index(StepFinish("tool-calls")) == items.index(calls[1]) + 1
    assert "".join(r.text for r in of(items, Reasoning)) == "ponderingpondering"
    assert text_of(items) == 'Results: sunny in Paris | {"error":"b must not be 0"}'
    (usage,) = of(items, Usage)
    assert usage.prompt_tokens and usage.completion_tokens


async def test_pydantic_ai_event_stream_through_the_ai_sdk_stream(upstream: FakeUpstream) -> None:
    agent = pydantic_agent(upstream)

    async def handler(chat: Any) -> AsyncIterator[Any]:
        async with agent.run_stream_events(chat.messages[-1]["content"]) as events:
            async for event in events:
                yield event

    frames, result = await through_ai_sdk(handler, TWO_CALLS)
    assert result.outcome == "done"
    assert result.text.startswith("Results: sunny in Paris | ")
    assert result.reasoning == "ponderingpondering"
    assert [t.name for t in result.tool_calls] == ["weather", "divide"]
    assert result.tool_calls[0].result is not None
    assert result.tool_calls[0].result.output == "sunny in Paris"
    assert result.tool_calls[1].result is not None
    assert result.tool_calls[1].result.error == "b must not be 0"
    assert [s.finish_reason for s in result.steps] == ["tool-calls", "stop"]
    assert result.usage is not None and result.usage.total_tokens
    types = frame_types(frames)
    assert types.count("tool-input-available") == 2 and "tool-output-error" in types
    assert "reasoning-delta" in types


# ------------------------------------------------------------------ LlamaIndex


def llama_tools() -> list[FunctionTool]:
    def forecast(city: str = "Paris") -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    def broken(x: int = 1) -> str:
        """A tool that fails."""
        raise ValueError("no luck")

    return [FunctionTool.from_defaults(forecast), FunctionTool.from_defaults(broken)]


# FunctionAgent's own construction trips pydantic's deprecation warnings (inspect.getmembers).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_llama_index_agent_tool_calls_and_results() -> None:
    """The mock calls every tool with its defaults, then answers "Tool calls complete."."""
    agent = FunctionAgent(llm=MockFunctionCallingLLM(), tools=llama_tools())
    run = agent.run(user_msg="weather?", memory=ChatMemoryBuffer.from_defaults())
    items = await aconvert(run.stream_events())
    await run

    calls = of(items, ToolCall)
    assert [(c.name, c.input) for c in calls] == [
        ("forecast", {"city": "Paris"}),
        ("broken", {"x": 1}),
    ]
    results = {r.name: r for r in of(items, ToolResult)}
    assert results["forecast"] == ToolResult(calls[0].id, "forecast", output="sunny in Paris")
    assert results["broken"].id == calls[1].id and "no luck" in str(results["broken"].error)
    assert of(items, StepFinish) == [StepFinish("tool-calls"), StepFinish("stop")]
    # each step's calls come before its end, and their results after it
    assert items.index(calls[1]) < items.index(StepFinish("tool-calls"))
    assert items.index(StepFinish("tool-calls")) < items.index(results["forecast"])
    assert text_of(items) == "Tool calls complete."


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_llama_index_agent_through_the_ai_sdk_stream() -> None:
    agent = FunctionAgent(llm=MockFunctionCallingLLM(), tools=llama_tools())

    async def handler(chat: Any) -> AsyncIterator[Any]:
        run = agent.run(user_msg="weather?", memory=ChatMemoryBuffer.from_defaults())
        async for event in run.stream_events():
            yield event
        await run

    frames, result = await through_ai_sdk(handler, "weather?")
    assert result.outcome == "done" and result.text == "Tool calls complete."
    assert [t.name for t in result.tool_calls] == ["forecast", "broken"]
    assert result.tool_calls[0].result is not None
    assert result.tool_calls[0].result.output == "sunny in Paris"
    assert [s.finish_reason for s in result.steps] == ["tool-calls", "stop"]
    types = frame_types(frames)
    assert types.count("tool-input-available") == 2
    assert "tool-output-available" in types and "tool-output-error" in types


def test_llama_index_thinking_delta_is_reasoning() -> None:
    from llama_index.core.agent.workflow import AgentStream

    event = AgentStream(delta="", response="", current_agent_name="a", thinking_delta="hmm")
    assert convert([event, AgentStream(delta="Hi", response="Hi", current_agent_name="a")]) == [
        Reasoning("hmm"),
        "Hi",
    ]


async def test_pydantic_ai_event_stream_returned_as_it_is(upstream: FakeUpstream) -> None:
    """``return agent.run_stream_events(...)``: rais enters it and streams its events."""
    agent = pydantic_agent(upstream)
    frames, result = await through_ai_sdk(
        lambda chat: agent.run_stream_events(chat.messages[-1]["content"]),
        '[tool:weather:{"city": "Rome"}] go',
    )
    assert result.outcome == "done" and result.text == "Results: sunny in Rome"
    assert [(t.name, t.input) for t in result.tool_calls] == [("weather", {"city": "Rome"})]
    assert "tool-output-available" in frame_types(frames)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_llama_index_agent_through_ag_ui() -> None:
    agent = FunctionAgent(llm=MockFunctionCallingLLM(), tools=llama_tools())

    async def handler(chat: Any) -> AsyncIterator[Any]:
        run = agent.run(user_msg="weather?", memory=ChatMemoryBuffer.from_defaults())
        async for event in run.stream_events():
            yield event
        await run

    frames, result = await through_ai_sdk(handler, "weather?", protocol="ag-ui")
    assert result.outcome == "done" and len(result.tool_calls) == 2
    types = frame_types(frames)
    assert types.count("TOOL_CALL_START") == types.count("TOOL_CALL_END") == 2
    assert types.count("TOOL_CALL_RESULT") == 2
    args = [f["delta"] for f in frames if f["type"] == "TOOL_CALL_ARGS"]
    assert [json.loads(a) for a in args] == [{"city": "Paris"}, {"x": 1}]
    text = "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Tool calls complete."


async def test_langchain_reasoning_through_ag_ui(upstream: FakeUpstream) -> None:
    llm = FakeOpenAIChat(base_url=upstream.base_url)
    frames, result = await through_ai_sdk(
        lambda chat: llm.astream([HumanMessage("[think:because][tokens:Blue.]")]),
        "why?",
        protocol="ag-ui",
    )
    assert result.outcome == "done" and result.text == "Blue." and result.reasoning == "because"
    reasoning = "".join(f["delta"] for f in frames if f["type"] == "REASONING_MESSAGE_CONTENT")
    text = "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")
    assert (reasoning, text) == ("because", "Blue.")


async def test_leaving_a_returned_pydantic_ai_event_stream_ends_the_run(
    upstream: FakeUpstream,
) -> None:
    from rais._chat import Turn
    from rais._pipeline import rais_events

    agent = pydantic_agent(upstream)
    cancelled = upstream.cancelled
    events = rais_events(agent.run_stream_events("[count:50][delay:0.1] go"), turn=Turn())
    async for event in events:
        if event.type == "text":
            break
    await events.aclose()
    assert await upstream.wait_cancelled_async(cancelled + 1)


async def test_pydantic_ai_bad_json_arguments(upstream: FakeUpstream) -> None:
    """Arguments that are not JSON: the call keeps them as a string, its result is the
    retry pydantic-ai asks the model for."""
    agent = pydantic_agent(upstream)
    async with agent.run_stream_events("[tool:weather:{city: Paris] go") as events:
        items = await aconvert(events)
    (call,) = of(items, ToolCall)
    assert call.name == "weather" and call.input == "{city: Paris"
    (result,) = of(items, ToolResult)
    assert result.id == call.id and result.error
    assert text_of(items).startswith("Results: ")


async def test_the_real_chat_openai_tool_calls_finish_and_usage(upstream: FakeUpstream) -> None:
    """langchain-openai's own ChatOpenAI (not the stand-in) against the fake: its chunks'
    tool_call_chunks, finish reason and usage map the same way."""
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="gpt-4o-mini", base_url=upstream.base_url, api_key=KEY, stream_usage=True
    ).bind_tools(OPENAI_TOOLS)
    question = '[tool:weather:{"city": "Paris"}][tool:divide:{"a": 1, "b": 0}] real'
    items = await aconvert(llm.astream([HumanMessage(question)]))
    calls = of(items, ToolCall)
    assert [(c.name, c.input) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": 0}),
    ]
    deltas = [d for d in of(items, ToolInputDelta) if d.id == calls[0].id]
    assert "".join(d.delta for d in deltas) == '{"city": "Paris"}'
    assert of(items, StepFinish) == [StepFinish("tool-calls")]
    (usage,) = of(items, Usage)
    assert usage.total_tokens and usage.completion_tokens
    answer = await aconvert(
        ChatOpenAI(model="gpt-4o-mini", base_url=upstream.base_url, api_key=KEY).astream(
            [HumanMessage("[tokens:a|b][finish:length]")]
        )
    )
    assert text_of(answer) == "ab" and of(answer, StepFinish) == [StepFinish("length")]
