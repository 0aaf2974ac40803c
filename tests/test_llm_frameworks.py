"""LangChain, LlamaIndex and pydantic-ai streams go through rais as those frameworks make them.

Every test uses the real package and its own offline model (GenericFakeChatModel,
MockLLM, TestModel / FunctionModel). ``rais._chunks`` is tested directly, and each
framework's stream is also taken end to end through the public pipeline with
:func:`through_rais`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from llama_index.core import Document, SummaryIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatResponse, CompletionResponse
from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.workflow import Event as WorkflowEvent
from llama_index.core.workflow import StopEvent
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from rais._chat import Turn
from rais._chunks import Usage, chunk_item, source_of
from rais._events import Event
from rais._pipeline import rais_events

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ through the pipeline


@dataclass
class Streamed:
    events: list[Event]
    usage: Usage | None

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(event.data) for event in self.events]

    @property
    def texts(self) -> list[str]:
        return [p["text"] for p in self.payloads if p["type"] == "text"]

    @property
    def text(self) -> str:
        return "".join(self.texts)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]


async def through_rais(source: Any) -> Streamed:
    """The whole stream as a handler returns it, through the public pipeline, and the
    usage the pipeline recorded."""
    turn = Turn()
    events = [event async for event in rais_events(source, turn=turn)]
    return Streamed(events, turn.usage)


def assert_done(streamed: Streamed) -> None:
    assert streamed.types[-1] == "done", streamed.payloads
    assert streamed.types.count("done") == 1
    assert "error" not in streamed.types
    assert all(text for text in streamed.texts), "no empty text events"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"rais_example_{name}", ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


# ------------------------------------------------------------------ rais stays light


def test_importing_rais_imports_no_llm_framework() -> None:
    code = (
        "import sys, rais, rais._chunks, rais._pipeline\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'langchain', 'llama_index', 'pydantic_ai'))\n"
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ LangChain: chunk_item


def test_langchain_string_content_is_the_text() -> None:
    assert chunk_item(AIMessageChunk(content="Hello")) == "Hello"
    assert chunk_item(AIMessageChunk(content="")) is None


def test_langchain_content_blocks_keep_only_text() -> None:
    chunk = AIMessageChunk(
        content=[
            {"type": "text", "text": "The sky ", "index": 0},
            "is ",
            {"type": "tool_use", "id": "t1", "name": "search", "input": {}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text-plain", "text": "an attached file", "mime_type": "text/plain"},
            {"type": "text", "text": "blue"},
        ]
    )
    assert chunk_item(chunk) == "The sky is blue"


def test_langchain_tool_call_fragment_sends_nothing() -> None:
    chunk = AIMessageChunk(
        content="",
        tool_call_chunks=[{"name": "search", "args": '{"q": ', "id": "c1", "index": 0}],
    )
    assert chunk_item(chunk) is None
    only_tools = AIMessageChunk(
        content=[{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]
    )
    assert chunk_item(only_tools) is None


def test_langchain_usage_metadata_is_usage() -> None:
    usage = {"input_tokens": 12, "output_tokens": 0, "total_tokens": 12}
    assert chunk_item(AIMessageChunk(content="", usage_metadata=usage)) == Usage(12, 0, 12)
    # Text and usage on one chunk: both are kept.
    both = AIMessageChunk(
        content="Hi", usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    )
    assert chunk_item(both) == ("Hi", Usage(3, 1, 4))


def test_usage_adds_up_like_langchain_merges_chunks() -> None:
    """Anthropic through LangChain: prompt tokens on the first chunk, completion on the last."""
    first = AIMessageChunk(
        content="", usage_metadata={"input_tokens": 20, "output_tokens": 0, "total_tokens": 20}
    )
    middle = AIMessageChunk(content="Because of Rayleigh scattering.")
    last = AIMessageChunk(
        content="", usage_metadata={"input_tokens": 0, "output_tokens": 7, "total_tokens": 7}
    )
    reports = [chunk_item(c) for c in (first, middle, last)]
    usages = [r for r in reports if isinstance(r, Usage)]
    assert usages[0] + usages[1] == Usage(20, 7, 27)
    merged = (first + middle + last).usage_metadata
    assert merged is not None
    assert (merged["input_tokens"], merged["output_tokens"], merged["total_tokens"]) == (20, 7, 27)


def test_usage_none_means_not_reported() -> None:
    assert Usage(5, None, None) + Usage(None, 3, None) == Usage(5, 3, None)
    assert Usage() + Usage() == Usage(None, None, None)


def test_langchain_whole_message_and_generation_chunk() -> None:
    assert chunk_item(AIMessage(content="All at once")) == "All at once"
    assert chunk_item(ChatGenerationChunk(message=AIMessageChunk(content="wrapped"))) == "wrapped"
    single = AIMessage(content="one")
    assert source_of(single) == (single,)  # a message is a pydantic model: not its fields


# ------------------------------------------------------------------ LangChain: end to end


async def test_langchain_astream_of_the_fake_chat_model() -> None:
    answer = "The sky is blue because air scatters blue light most."
    model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))
    streamed = await through_rais(model.astream(QUESTION))
    assert_done(streamed)
    assert streamed.text == answer
    assert len(streamed.texts) > 5, "streamed token by token, not as one event"
    assert streamed.usage is None


async def test_langchain_sync_stream_of_the_fake_chat_model() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("Short and sync")]))
    streamed = await through_rais(model.stream(QUESTION))
    assert_done(streamed)
    assert streamed.texts == ["Short", " ", "and", " ", "sync"]


async def test_langchain_chain_with_str_output_parser() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("Parsed into strings")]))
    chain = ChatPromptTemplate.from_messages([("user", "{question}")]) | model | StrOutputParser()
    streamed = await through_rais(chain.astream({"question": "Why?"}))
    assert_done(streamed)
    assert streamed.text == "Parsed into strings"


class BlocksChatModel(BaseChatModel):
    """A chat model streaming the way Anthropic's integration does: content blocks,
    a tool-call fragment, and usage split over the first and last chunks."""

    @property
    def _llm_type(self) -> str:
        return "rais-test-blocks"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="unused"))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        chunks = [
            AIMessageChunk(
                content=[],
                usage_metadata={"input_tokens": 9, "output_tokens": 0, "total_tokens": 9},
            ),
            AIMessageChunk(content=[{"type": "text", "text": "Rayleigh ", "index": 0}]),
            AIMessageChunk(content=[{"type": "text", "text": "scattering.", "index": 0}]),
            AIMessageChunk(
                content=[{"type": "tool_use", "id": "t1", "name": "cite", "input": {}, "index": 1}],
                tool_call_chunks=[{"name": "cite", "args": "{}", "id": "t1", "index": 1}],
            ),
            AIMessageChunk(
                content=[],
                usage_metadata={"input_tokens": 0, "output_tokens": 4, "total_tokens": 4},
            ),
        ]
        for chunk in chunks:
            yield ChatGenerationChunk(message=chunk)


async def test_langchain_content_blocks_and_usage_through_astream() -> None:
    model = BlocksChatModel()
    streamed = await through_rais(model.astream([HumanMessage("Why is the sky blue?")]))
    assert_done(streamed)
    assert streamed.texts == ["Rayleigh ", "scattering."]
    assert streamed.usage == Usage(9, 4, 13)
    # The same total LangChain itself computes by merging the stream.
    merged: Any = None
    async for chunk in model.astream([HumanMessage("again")]):
        merged = chunk if merged is None else merged + chunk
    assert merged.usage_metadata["total_tokens"] == 13


# ------------------------------------------------------------------ LlamaIndex: chunk_item


def test_llama_index_sends_the_delta_never_the_cumulative_text() -> None:
    chat = ChatResponse(message=ChatMessage(role="assistant", content="Hello wor"), delta="wor")
    assert chunk_item(chat) == "wor"
    no_delta = ChatResponse(message=ChatMessage(role="assistant", content="Hello wor"))
    assert chunk_item(no_delta) is None
    assert chunk_item(CompletionResponse(text="Hello wor", delta="wor")) == "wor"
    assert chunk_item(CompletionResponse(text="Hello wor")) is None
    assert chunk_item(CompletionResponse(text="", delta="")) is None


async def test_llama_index_streaming_responses_are_unwrapped() -> None:
    sync_response = StreamingResponse(response_gen=iter(["a", "b"]))
    assert list(source_of(sync_response)) == ["a", "b"]  # type: ignore[call-overload]

    drained = StreamingResponse(response_gen=iter(["a", "b"]))
    assert str(drained) == "ab"
    assert list(source_of(drained)) == ["ab"]  # type: ignore[call-overload]

    async def tokens() -> AsyncIterator[str]:
        yield "c"
        yield "d"

    async_response = AsyncStreamingResponse(response_gen=tokens())
    unwrapped = source_of(async_response)
    assert isinstance(unwrapped, AsyncIterable)
    assert [t async for t in unwrapped] == ["c", "d"]


def test_source_of_leaves_everything_else_alone() -> None:
    items = ["x"]
    generator = (t for t in items)
    for source in (items, generator, "text", {"type": "text", "text": "x"}):
        assert source_of(source) is source


# ------------------------------------------------------------------ LlamaIndex: end to end


async def test_llama_index_mock_llm_stream_chat() -> None:
    llm = MockLLM()
    messages = [ChatMessage(role="user", content="Hi there")]
    expected = "".join(r.delta or "" for r in llm.stream_chat(messages))
    streamed = await through_rais(llm.stream_chat(messages))
    assert_done(streamed)
    assert streamed.text == expected
    assert "Hi there" in streamed.text
    # Each delta once: the cumulative .message.content was not re-sent.
    assert streamed.text.count("Hi there") == 1


async def test_llama_index_mock_llm_astream_chat_is_awaited() -> None:
    llm = MockLLM()
    streamed = await through_rais(llm.astream_chat([ChatMessage(role="user", content="async hi")]))
    assert_done(streamed)
    assert streamed.text.count("async hi") == 1


async def test_llama_index_mock_llm_stream_complete() -> None:
    llm = MockLLM(max_tokens=4)
    streamed = await through_rais(llm.stream_complete("ignored"))
    assert_done(streamed)
    assert streamed.texts == ["text ", "text ", "text ", "text"]
    streamed = await through_rais(MockLLM(max_tokens=2).astream_complete("x"))
    assert streamed.text == "text text"


@pytest.fixture(scope="module")
def query_engine() -> Any:
    documents = [Document(text="Rayleigh scattering makes the sky blue.")]
    return SummaryIndex.from_documents(documents).as_query_engine(streaming=True, llm=MockLLM())


async def test_llama_index_query_engine_streaming_response(query_engine: Any) -> None:
    response = query_engine.query("Why is the sky blue?")
    assert isinstance(response, StreamingResponse)
    streamed = await through_rais(response)
    assert_done(streamed)
    # MockLLM answers with the prompt it got: the retrieved context and the question.
    assert "Rayleigh scattering makes the sky blue." in streamed.text
    assert "Why is the sky blue?" in streamed.text
    assert len(streamed.texts) > 1


async def test_llama_index_query_engine_async_streaming_response(query_engine: Any) -> None:
    response = await query_engine.aquery("Why is the sky blue?")
    assert isinstance(response, AsyncStreamingResponse)
    streamed = await through_rais(response)
    assert_done(streamed)
    assert "Rayleigh scattering makes the sky blue." in streamed.text
    assert len(streamed.texts) > 1


async def test_llama_index_chat_engine_streams_sync_and_async() -> None:
    engine = SimpleChatEngine.from_defaults(llm=MockLLM())
    streamed = await through_rais(engine.stream_chat("sync question"))
    assert_done(streamed)
    assert streamed.text.count("sync question") == 1
    streamed = await through_rais(engine.astream_chat("async question"))
    assert_done(streamed)
    assert streamed.text.count("async question") == 1


# FunctionAgent's own construction trips pydantic's deprecation warnings (inspect.getmembers).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_llama_index_agent_workflow_events() -> None:
    """``agent.run(...).stream_events()``: the AgentStream deltas, none of the other events."""
    agent = FunctionAgent(llm=MockFunctionCallingLLM(), tools=[], system_prompt="Be brief.")
    # A plain in-memory buffer: the default memory keeps an aiosqlite thread past the test.
    run = agent.run(user_msg="Why is the sky blue?", memory=ChatMemoryBuffer.from_defaults())
    streamed = await through_rais(run.stream_events())
    assert_done(streamed)
    assert streamed.text == "Why is the sky blue?"  # the mock echoes the question, once
    assert str(await run) == "Why is the sky blue?"


def test_llama_index_workflow_events_without_text() -> None:
    class Progress(WorkflowEvent):
        percent: int

    class Token(WorkflowEvent):
        delta: str

    assert chunk_item(StopEvent(result="done")) is None
    assert chunk_item(Token(delta="tok")) == "tok"
    with pytest.raises(TypeError, match="give your own workflow event a 'delta'"):
        chunk_item(Progress(percent=50))


# ------------------------------------------------------------------ pydantic-ai


def test_pydantic_ai_usage_is_usage() -> None:
    from pydantic_ai.usage import RunUsage

    assert chunk_item(RunUsage(input_tokens=50, output_tokens=3)) == Usage(50, 3, 53)


async def test_pydantic_ai_test_model_stream_text_and_usage() -> None:
    agent = Agent(TestModel(custom_output_text="Blue light scatters more"))
    seen: dict[str, Any] = {}

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[Any]:
        async with agent.run_stream(messages[-1]["content"]) as result:
            async for text in result.stream_text(delta=True, debounce_by=None):
                yield text
            seen["usage"] = result.usage
            yield result.usage

    streamed = await through_rais(handler(QUESTION))
    assert_done(streamed)
    assert streamed.text == "Blue light scatters more"
    reported = seen["usage"]
    assert reported.output_tokens > 0
    assert streamed.usage == Usage(
        reported.input_tokens,
        reported.output_tokens,
        reported.input_tokens + reported.output_tokens,
    )


async def test_pydantic_ai_function_model_streams_each_delta() -> None:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for token in ["Ray", "leigh", " scat", "tering"]:
            yield token
            await asyncio.sleep(0.01)  # a model between tokens: nothing is batched up

    agent = Agent(FunctionModel(stream_function=stream))

    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[Any]:
        async with agent.run_stream(messages[-1]["content"]) as result:
            async for text in result.stream_text(delta=True, debounce_by=None):
                yield text
            yield result.usage

    streamed = await through_rais(handler(QUESTION))
    assert_done(streamed)
    assert streamed.texts == ["Ray", "leigh", " scat", "tering"]
    assert streamed.usage is not None and streamed.usage.completion_tokens


async def test_pydantic_ai_model_failure_is_one_error_event() -> None:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield "partial "
        raise RuntimeError("model exploded")

    agent = Agent(FunctionModel(stream_function=stream))

    async def handler() -> AsyncIterator[Any]:
        async with agent.run_stream("hi") as result:
            async for text in result.stream_text(delta=True, debounce_by=None):
                yield text

    streamed = await through_rais(handler())
    assert streamed.texts == ["partial "]
    assert streamed.types[-1] == "error"
    assert streamed.types.count("error") == 1


# ------------------------------------------------------------------ a client that leaves


async def test_leaving_early_ends_the_pydantic_ai_run() -> None:
    """The browser closed the tab: the pipeline closes the handler, which leaves
    ``run_stream`` and stops the model's stream."""
    closed = asyncio.Event()

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        try:
            for i in range(10_000):
                yield f"t{i} "
                await asyncio.sleep(0)
        finally:
            closed.set()

    agent = Agent(FunctionModel(stream_function=stream))

    async def handler() -> AsyncIterator[Any]:
        async with agent.run_stream("hi") as result:
            async for text in result.stream_text(delta=True, debounce_by=None):
                yield text

    events = rais_events(handler())
    first = await anext(events)
    assert first.type == "text"
    await events.aclose()
    await asyncio.wait_for(closed.wait(), 10)


class EndlessChatModel(BaseChatModel):
    """Streams until it is closed, and says when it was."""

    closed: bool = False

    @property
    def _llm_type(self) -> str:
        return "rais-test-endless"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="unused"))])

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            for i in range(10_000):
                yield ChatGenerationChunk(message=AIMessageChunk(content=f"t{i} "))
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_leaving_early_closes_the_langchain_stream() -> None:
    model = EndlessChatModel()
    events = rais_events(model.astream([HumanMessage("hi")]))
    assert (await anext(events)).type == "text"
    await events.aclose()
    assert model.closed


# ------------------------------------------------------------------ unknown objects


def test_unknown_objects_raise_a_helpful_type_error() -> None:
    class Custom:
        pass

    with pytest.raises(TypeError, match=r"Custom.*expected text \(str\).*LangChain"):
        chunk_item(Custom())
    with pytest.raises(TypeError, match="return the streaming response from the handler"):
        chunk_item(StreamingResponse(response_gen=iter(["x"])))
    with pytest.raises(TypeError, match="stream_text"):
        chunk_item(Agent(TestModel()))


async def test_unknown_item_ends_the_stream_with_an_error_event() -> None:
    streamed = await through_rais([AIMessageChunk(content="ok"), object()])
    assert streamed.texts == ["ok"]
    assert streamed.types[-1] == "error"


# ------------------------------------------------------------------ the examples' handlers


async def test_langchain_example_handler() -> None:
    streamed = await through_rais(load_example("langchain_app").handler(QUESTION))
    assert_done(streamed)
    assert streamed.text == "You asked: Why is the sky blue?"


async def test_llamaindex_example_handlers() -> None:
    example = load_example("llamaindex_app")
    streamed = await through_rais(example.chat(QUESTION))
    assert_done(streamed)
    assert streamed.text.count("Why is the sky blue?") == 1
    streamed = await through_rais(example.ask(QUESTION))
    assert_done(streamed)
    assert "rais streams LLM answers" in streamed.text


async def test_pydantic_ai_example_handler() -> None:
    example = load_example("pydantic_ai_app")
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        *QUESTION,
    ]
    streamed = await through_rais(example.handler(conversation))
    assert_done(streamed)
    assert streamed.text == "You asked: Why is the sky blue?"
    assert streamed.texts[:2] == ["You", " asked:"]
    assert streamed.usage is not None and streamed.usage.total_tokens
