"""The real ``useChat`` (``@ai-sdk/react`` with ``DefaultChatTransport``) in headless Chromium,
against every adapter's ``/api/ui`` (``protocol="auto"``), from another origin.

The page (tests/js/usechat) renders the hook's messages, status and error; it is bundled
with esbuild and served by a plain static server, like any static host.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import SERVER_ENV
from tests.fakes.upstreams import FakeUpstream
from tests.js_clients import build_usechat_page
from tests.redis_server import RedisServer, redis_server
from tests.servers import SERVERS_BY_ID, RunningServer, start_server

__all__ = ["redis_server"]  # the session fixture, used below

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


def test_use_chat_resumes_after_a_reload(
    page: Page, site: str, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    """``useChat({resume: true})``: a reload mid-answer GETs ``{api}/{chatId}/stream`` and the
    hook rebuilds the reply from its start, then follows it live to its end (memory store)."""
    chat_id = "chat-" + uuid.uuid4().hex[:8]
    api = quote(adapter.base_url + "/api/ui-resumable", safe="")
    url = f"{site}/index.html?api={api}&chat={chat_id}&resume=1"
    page.goto(url)
    page.wait_for_selector("#input")
    completed = upstream.completed
    send(page, "[count:40][delay:0.05] a long answer to resume")
    page.wait_for_function(
        "window.__chat.messages.at(-1).parts.some(p => p.text && p.text.includes('t3 '))",
        timeout=DEADLINE_MS,
    )
    page.reload()  # the answer goes on on the server meanwhile
    page.wait_for_selector("#input")
    page.wait_for_function(
        "window.__chat.messages.some(m => m.role === 'assistant')", timeout=DEADLINE_MS
    )
    assert wait_status(page, "ready", "error") == "ready", page.evaluate("window.__chat")
    assert answer(page) == "".join(f"t{i} " for i in range(40))
    assert upstream.wait_completed(completed + 1, timeout=20.0)
    assert upstream.completed == completed + 1  # one paid answer, read twice
    # Once it has ended, a reload finds nothing to resume: 204, and no message appears.
    with page.expect_response(lambda r: r.url.endswith(f"/{chat_id}/stream")) as resumed:
        page.reload()
    assert resumed.value.status == 204
    page.wait_for_function("window.__chat && window.__chat.status === 'ready'")
    assert page.evaluate("window.__chat.messages.length") == 0


@pytest.fixture(scope="module")
def redis_pair(
    upstream: FakeUpstream, redis_server: RedisServer
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two FastAPI processes sharing one Redis store, like two machines behind a balancer."""
    env = {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url, "RAIS_RESUME_URL": redis_server.url}
    spec = SERVERS_BY_ID["fastapi-uvicorn"]
    servers = [start_server(spec, env), start_server(spec, env)]
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def test_use_chat_resumes_on_another_process_through_redis(
    page: Page, site: str, redis_pair: tuple[RunningServer, RunningServer]
) -> None:
    """The reload lands on the other process: the reply comes from Redis, live to its end."""
    first, second = redis_pair
    chat_id = "chat-" + uuid.uuid4().hex[:8]

    def url(server: RunningServer) -> str:
        api = quote(server.base_url + "/api/ui", safe="")
        return f"{site}/index.html?api={api}&chat={chat_id}&resume=1"

    page.goto(url(first))
    page.wait_for_selector("#input")
    send(page, "[count:40][delay:0.05] across machines")
    page.wait_for_function(
        "window.__chat.messages.at(-1).parts.some(p => p.text && p.text.includes('t3 '))",
        timeout=DEADLINE_MS,
    )
    with page.expect_response(lambda r: r.url.endswith(f"/{chat_id}/stream")) as resumed:
        page.goto(url(second))
    assert resumed.value.status == 200
    assert resumed.value.url.startswith(second.base_url)
    assert wait_status(page, "ready", "error") == "ready", page.evaluate("window.__chat")
    assert answer(page) == "".join(f"t{i} " for i in range(40))
