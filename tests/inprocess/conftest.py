"""Every in-process test runs once per framework client (tests/inprocess/clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.inprocess.clients import Client, selected_clients

API_KEY = "sk-test-inprocess-7c1e93b0d2"

#: ``make_client(**endpoint_options)`` builds the framework's app and opens its client.
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(params=selected_clients(), ids=lambda cls: cls.name)
def client_class(request: pytest.FixtureRequest) -> type[Client]:
    cls: type[Client] = request.param
    return cls


@pytest.fixture
def openai_options(upstream: FakeUpstream) -> dict[str, Any]:
    """The endpoint's provider: the real openai SDK against the fake upstream."""
    return {
        "provider": "openai",
        "base_url": upstream.base_url,
        "api_key": API_KEY,
        "max_retries": 0,
    }


@pytest.fixture
async def make_client(
    client_class: type[Client], openai_options: dict[str, Any]
) -> AsyncIterator[MakeClient]:
    """Options default to the OpenAI provider against the fake and no heartbeats (the
    tests read whole bodies; heartbeats over time are the conformance suite's)."""
    opened: list[Client] = []

    async def make(**options: Any) -> Client:
        merged = {**openai_options, "heartbeat": None, **options}
        client = client_class(merged)
        await client.start()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    """The framework's app with the default endpoint (OpenAI against the fake)."""
    return await make_client()
