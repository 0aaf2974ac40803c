"""The real ``useChat`` (``@ai-sdk/react`` with ``DefaultChatTransport``) in headless Chromium,
against every adapter's ``/api/ui`` (``protocol="auto"``), from another origin.

The page (tests/js/usechat) renders the hook's messages, status and error; it is bundled
with esbuild and served by a plain static server, like any static host.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.fakes.upstreams import FakeUpstream
from tests.js_clients import build_usechat_page
from tests.servers import RunningServer

#: A bound for what takes a second on an idle machine.
DEADLINE_MS = 20_000


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=build_usechat_page())
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_chat(page: Page, site: str, adapter: RunningServer) -> Page:
    api = quote(adapter.base_url + "/api/ui", safe="")
    page.goto(f"{site}/index.html?api={api}")
    page.wait_for_selector("#input")
    return page


def send(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.click("#send")


def wait_status(page: Page, *statuses: str) -> str:
    page.wait_for_function(
        "(s) => window.__chat && s.includes(window.__chat.status)",
        arg=list(statuses),
        timeout=DEADLINE_MS,
    )
    return str(page.evaluate("window.__chat.status"))


def answer(page: Page) -> str:
    return str(
        page.evaluate(
            """() => window.__chat.messages.filter(m => m.role === 'assistant').map(
                m => m.parts.filter(p => p.type === 'text').map(p => p.text).join('')).join('|')"""
        )
    )


def test_use_chat_streams_and_stops(
    page: Page, site: str, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    open_chat(page, site, adapter)
    send(page, "[count:20][delay:0.02] hello from useChat")
    page.wait_for_function("window.__chat.status === 'streaming'", timeout=DEADLINE_MS)
    assert wait_status(page, "ready", "error") == "ready", page.evaluate("window.__chat")
    assert answer(page) == "".join(f"t{i} " for i in range(20))
    shown = page.locator('#messages li[data-role="assistant"] [data-part-type="text"]')
    assert shown.inner_text() == "".join(f"t{i} " for i in range(20)).strip()
    usage = page.evaluate("window.__chat.messages.at(-1).metadata.usage")
    assert usage["outputTokens"] == 20

    before = upstream.cancelled
    send(page, "[count:400][delay:0.05] a long one")
    page.wait_for_function(
        "window.__chat.messages.at(-1).parts.some(p => p.text && p.text.includes('t3 '))",
        timeout=DEADLINE_MS,
    )
    page.click("#stop")
    assert wait_status(page, "ready", "error") == "ready"
    assert upstream.wait_cancelled(before + 1, timeout=20.0), adapter.log()[-2000:]
    # The next turn carries the whole history, the stopped answer included, as text.
    send(page, "[count:2] and again")
    assert wait_status(page, "ready", "error") == "ready"
    sent = upstream.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    assert sent[3]["content"].startswith("t0 t1 t2 t3 ")


def test_use_chat_shows_errors_mid_stream_and_refusals(
    page: Page, site: str, adapter: RunningServer
) -> None:
    open_chat(page, site, adapter)
    send(page, "[fault:error_mid] fail half way")
    assert wait_status(page, "ready", "error") == "error"
    error = page.inner_text("#error")
    assert error and "sk-" not in error
    assert answer(page)  # the tokens before the failure stay on screen

    open_chat(page, site, adapter)
    send(page, "[fault:429] refused")
    assert wait_status(page, "ready", "error") == "error"
    assert "upstream_error" in page.inner_text("#error")
