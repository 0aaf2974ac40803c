"""One conformance suite, parametrized over every integration under its production server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

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


#: Where each server's /api/app endpoints append their on_finish results (JSON lines).
FINISH_LOGS = Path(tempfile.mkdtemp(prefix="rais-finish-"))


def finish_log(server: RunningServer) -> Path:
    """The on_finish log of a server started by the ``server`` fixture."""
    return FINISH_LOGS / f"{server.spec.id}.jsonl"


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="session")
def anthropic_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("anthropic") as fake:
        yield fake


@pytest.fixture(scope="session", params=selected_servers(), ids=lambda spec: spec.id)
def server(
    request: pytest.FixtureRequest, upstream: FakeUpstream, anthropic_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    env = {
        **SERVER_ENV,
        "OPENAI_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "RAIS_FINISH_LOG": str(FINISH_LOGS / f"{request.param.id}.jsonl"),
    }
    running = start_server(request.param, env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http
