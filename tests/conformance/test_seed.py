"""The seed docs' own examples keep working: stream_response in a StreamingResponse,
and the hand-written generator of rais_event strings (verbatim and through rais)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.conftest import API_KEY, SERVER_ENV
from tests.conformance.sse import chat
from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, ServerSpec, start_server


def uvicorn(module: str) -> ServerSpec:
    return ServerSpec(
        module, "fastapi", ("{py}", "-m", "uvicorn", f"{module}:app", "--port", "{port}")
    )


@pytest.fixture(scope="module")
def seed_server(upstream: FakeUpstream) -> Iterator[RunningServer]:
    server = start_server(
        uvicorn("integrations.seed_fastapi"), {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def custom_server() -> Iterator[RunningServer]:
    server = start_server(uvicorn("integrations.seed_custom"), SERVER_ENV)
    yield server
    server.stop()


def test_seed_fastapi_example_streams_from_openai(
    seed_server: RunningServer, client: httpx.Client, upstream: FakeUpstream
) -> None:
    received = chat(client, seed_server.url, "[tokens:Hi|, |there 👋]")
    assert received.status == 200
    assert received.headers["content-type"].startswith("text/event-stream")
    assert received.headers["cache-control"] == "no-cache"
    assert received.types == ["text", "text", "text", "done"]
    assert received.text == "Hi, there 👋"
    assert upstream.requests[-1].json["model"] == "gpt-4o-mini"
    for block in received.raw.decode().split("\n\n")[:-1]:
        assert block.startswith("data: ")
        json.loads(block[6:])


def test_seed_fastapi_example_reports_upstream_errors_as_one_event(
    seed_server: RunningServer, client: httpx.Client
) -> None:
    received = chat(client, seed_server.url, "[fault:401]")
    assert received.status == 200  # the seed example has already started its response
    assert received.types == ["error"]
    assert API_KEY.encode() not in received.raw


def test_seed_custom_generator_verbatim(custom_server: RunningServer, client: httpx.Client) -> None:
    received = chat(client, custom_server.url, "one two three")
    assert received.types == ["text", "text", "text", "done"]
    assert received.text == "echo 0: one echo 1: two echo 2: three "
    # The documented rais_event() output, byte for byte.
    assert received.raw.startswith(b'data: {"type": "text", "text": "echo 0: one "}\n\n')


def test_seed_custom_generator_through_rais_router(
    custom_server: RunningServer, client: httpx.Client
) -> None:
    received = chat(client, custom_server.base_url + "/api/handler", "one two")
    assert received.types == ["text", "text", "done"]
    assert received.ids == ["1", "2", "3"]
    assert received.raw.startswith(b'id: 1\ndata: {"type":"text","text":"echo 0: one "}\n\n')
