"""Every example starts the way examples/README.md says, and streams a chat over a real socket.

Provider-backed examples talk to a fake OpenAI upstream (``OPENAI_BASE_URL``); the
React example is built with npm exactly as a user would.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.react_example import build_react_example
from tests.conformance.sse import Received, chat
from tests.fakes.upstreams import FakeUpstream
from tests.servers import ROOT, free_port, wait_for_port

API_KEY = "sk-test-examples-0c1d2e3f"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http


@contextlib.contextmanager
def example(
    script: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run ``python examples/<script> [args]`` with ``PORT`` set; yield its base URL."""
    port = free_port()
    merged = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), merged.get("PYTHONPATH")]))
    argv = [sys.executable, f"examples/{script}", *(a.format(port=port) for a in args)]
    log_path = Path(tempfile.mkstemp(prefix=f"rais-example-{script}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=merged, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError):
            pytest.fail(f"{script} did not start:\n{log_path.read_text(errors='replace')}")
        yield f"http://127.0.0.1:{port}", process, log_path
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def assert_answer(received: Received, text: str) -> None:
    assert received.status == 200, received.raw[:500]
    assert received.headers["content-type"].startswith("text/event-stream")
    assert received.text == text
    assert received.types[-1] == "done"


FRAMEWORK_EXAMPLES = {
    "fastapi": ("fastapi_app.py",),
    "starlette": ("starlette_app.py",),
    "django": ("django_app.py", "runserver", "127.0.0.1:{port}", "--noreload"),
    "flask": ("flask_app.py",),
    "quart": ("quart_app.py",),
}


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_EXAMPLES))
def test_framework_example_streams_from_openai(
    framework: str, upstream: FakeUpstream, client: httpx.Client
) -> None:
    script, *args = FRAMEWORK_EXAMPLES[framework]
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY}
    with example(script, *args, env=env) as (base, _, log):
        received = chat(client, base + "/api/chat", f"[tokens:Hi|, {framework}|!] hello")
        assert_answer(received, f"Hi, {framework}!")
        assert upstream.requests[-1].api_key == API_KEY
        # The browser's preflight: every example opens CORS for local development.
        preflight = client.options(
            base + "/api/chat",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code in (200, 204), log.read_text()
        allowed = preflight.headers.get("access-control-allow-origin")
        assert allowed in ("*", "http://localhost:3000")


@pytest.mark.parametrize("script", ["flask_app.py", "quart_app.py"])
def test_hand_written_view_with_rais_response(script: str, client: httpx.Client) -> None:
    with example(script) as (base, _, _):
        received = chat(client, base + "/api/shout", "make it loud")
        assert_answer(received, "MAKE IT LOUD ")
        assert all(event_id is not None for event_id in received.ids)


def test_custom_generator_both_ways(client: httpx.Client) -> None:
    with example("custom_generator.py") as (base, _, _):
        verbatim = chat(client, base + "/api/chat", "one two three")
        assert_answer(verbatim, "Backwards: three two one ")
        assert verbatim.ids == [None] * len(verbatim.events)  # the docs' generator, as written
        wrapped = chat(client, base + "/api/rais", "one two three")
        assert_answer(wrapped, "Backwards: three two one ")
        assert wrapped.ids == [str(n) for n in range(1, len(wrapped.events) + 1)]


def test_openai_compatible_server_via_base_url(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": ""}
    with example("openai_compatible.py", env=env) as (base, _, _):
        received = chat(client, base + "/api/chat", "[tokens:local|model] hi")
        assert_answer(received, "localmodel")
    sent = upstream.requests[-1].json
    assert sent["model"] == "llama3.2"
    assert sent["temperature"] == 0.2
    assert sent["messages"][0] == {"role": "system", "content": "You are a concise assistant."}


def test_react_example_builds() -> None:
    site = build_react_example()
    index = (site / "index.html").read_text()
    assert '<div id="root">' in index
    scripts = list((site / "assets").glob("*.js"))
    assert scripts, "vite emitted no JavaScript"
    bundle = "".join(path.read_text() for path in scripts)
    for needle in ("AbortController", "getReader", "data: "):
        assert needle in bundle
