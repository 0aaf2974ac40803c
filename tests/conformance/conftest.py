"""One conformance suite, parametrized over every integration under its production server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, selected_servers, start_server

API_KEY = "sk-test-conformance-4f9a2c71e8"
SERVER_ENV = {
    "OPENAI_API_KEY": API_KEY,
    "RAIS_HEARTBEAT": "0.25",
    "RAIS_MAX_RETRIES": "0",
    "QUART_RESPONSE_TIMEOUT": "1",
}


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="session", params=selected_servers(), ids=lambda spec: spec.id)
def server(request: pytest.FixtureRequest, upstream: FakeUpstream) -> Iterator[RunningServer]:
    running = start_server(request.param, {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http
