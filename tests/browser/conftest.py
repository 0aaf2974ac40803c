"""Real-browser tests: Debian's headless Chromium driven by Playwright.

One browser for all of them, each server booted once. Fixtures are package-scoped:
while Playwright's sync API is open it keeps an asyncio loop running in this thread,
which would break later tests that call ``asyncio.run``. The chat page is served by
``rais serve`` on its own port and pointed at each adapter with ``?endpoint=``, so
every request is cross-origin, as from a real front end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, ServerSpec, selected_servers, start_server

CHROMIUM = os.environ.get("RAIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "sk-test-browser-7d1e5a90b3"
SERVER_ENV = {
    "OPENAI_API_KEY": API_KEY,
    "RAIS_HEARTBEAT": "0.25",
    "RAIS_MAX_RETRIES": "0",
    "QUART_RESPONSE_TIMEOUT": "1",
}
#: ``rais serve`` with no key: the offline provider, slow enough to catch mid-stream.
PAGE_SERVER = ServerSpec("rais-serve", "rais", ("{py}", "-m", "rais", "serve", "--port", "{port}"))
PAGE_ENV = {
    "OPENAI_API_KEY": "",
    "ANTHROPIC_API_KEY": "",
    "OPENAI_BASE_URL": "",
    "RAIS_OFFLINE_DELAY": "0.05",
}


@pytest.fixture(scope="package")
def browser() -> Iterator[BrowserContext]:
    """The system Chromium (never a downloaded one) with a fresh profile."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    profile = tempfile.mkdtemp(prefix="rais-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 960, "height": 640},
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="package")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="package")
def page_server() -> Iterator[RunningServer]:
    """The real ``rais serve`` command, offline, serving the chat page."""
    server = start_server(PAGE_SERVER, PAGE_ENV)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package", params=selected_servers(), ids=lambda spec: spec.id)
def adapter(request: pytest.FixtureRequest, upstream: FakeUpstream) -> Iterator[RunningServer]:
    server = start_server(request.param, {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url})
    try:
        yield server
    finally:
        server.stop()
