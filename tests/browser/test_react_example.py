"""examples/react-chat, built with npm and served statically, against a real adapter."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.browser.chat import ChatPage
from tests.browser.conftest import SERVER_ENV
from tests.browser.react_example import build_react_example
from tests.fakes.upstreams import FakeUpstream
from tests.servers import SERVERS_BY_ID, RunningServer, start_server


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def react_site() -> Iterator[str]:
    """The production build on a plain static file server, like any static host."""
    site: Path = build_react_example()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def fastapi_server(upstream: FakeUpstream) -> Iterator[RunningServer]:
    spec = SERVERS_BY_ID["fastapi-uvicorn"]
    server = start_server(spec, {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url})
    try:
        yield server
    finally:
        server.stop()


def open_react(page: Page, site: str, server: RunningServer) -> ChatPage:
    chat = ChatPage(
        page,
        root=".app",
        input='input[aria-label="Message"]',
        stop_button='button:text("Stop")',
    )
    return chat.open(f"{site}/?endpoint={quote(server.url, safe='')}")


def test_react_chat_streams_stops_and_shows_errors(
    page: Page, react_site: str, fastapi_server: RunningServer, upstream: FakeUpstream
) -> None:
    chat = open_react(page, react_site, fastapi_server)
    chat.watch_growth()
    assert chat.ask("[count:20][delay:0.02] hello from React") == "done"
    assert chat.answer() == "".join(f"t{i} " for i in range(20))
    assert len(chat.growth()) >= 5

    before = upstream.cancelled
    chat.send("[count:400][delay:0.05] a long one")
    chat.wait_answer_contains("t3 ")
    chat.stop()
    assert chat.wait_outcome() == "stopped"
    assert upstream.wait_cancelled(before + 1, timeout=5.0), fastapi_server.log()[-2000:]
    sent = upstream.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]

    assert chat.ask("[fault:error_mid] and now") == "error"
    assert len(chat.errors()) == 1 and chat.errors()[0].strip()
