"""The built-in chat page in Chromium, against every adapter under its production server.

The page comes from ``rais serve`` on one port and calls the adapter on another
(``?endpoint=``), so each test also proves CORS and the preflight in a real browser.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page

from tests.browser.chat import ChatPage
from tests.browser.conftest import API_KEY
from tests.fakes.upstreams import FakeUpstream
from tests.servers import ROOT, RunningServer

SCREENSHOT = ROOT / "docs" / "chat-page.png"


def open_chat(page: Page, page_server: RunningServer, adapter: RunningServer) -> ChatPage:
    url = f"{page_server.base_url}/?endpoint={quote(adapter.url, safe='')}"
    chat = ChatPage(page).open(url)
    assert page.locator("#endpoint").text_content() == "POST " + adapter.url
    return chat


def test_answer_streams_in_and_history_is_sent(
    page: Page, page_server: RunningServer, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    chat = open_chat(page, page_server, adapter)
    chat.watch_growth()
    assert chat.ask("[count:25][delay:0.02] count for me") == "done"
    assert chat.answer() == "".join(f"t{i} " for i in range(25))
    steps = chat.growth()
    assert len(steps) >= 5, f"the answer arrived in {len(steps)} step(s): {steps}"
    assert chat.errors() == []

    assert chat.ask("[tokens:second|answer] and again") == "done"
    assert chat.answers() == ["".join(f"t{i} " for i in range(25)), "secondanswer"]
    sent = upstream.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == "".join(f"t{i} " for i in range(25))
    assert sent[2]["content"] == "[tokens:second|answer] and again"


def test_stop_aborts_and_cancels_the_upstream_call(
    page: Page, page_server: RunningServer, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    chat = open_chat(page, page_server, adapter)
    before = upstream.cancelled
    chat.send("[count:400][delay:0.05] a long answer")
    chat.wait_answer_contains("t3 ")
    chat.stop()
    assert chat.wait_outcome() == "stopped"
    assert upstream.wait_cancelled(before + 1, timeout=5.0), adapter.log()[-2000:]
    partial = chat.answer()
    assert partial.startswith("t0 t1 t2 t3 ") and "t399" not in partial
    assert page.locator(".message.assistant.stopped").count() == 1
    assert page.locator("#send").is_enabled() and page.locator("#stop").is_disabled()


def test_upstream_error_mid_stream_is_shown(
    page: Page, page_server: RunningServer, adapter: RunningServer
) -> None:
    chat = open_chat(page, page_server, adapter)
    assert chat.ask("[fault:error_mid] go") == "error"
    errors = chat.errors()
    assert len(errors) == 1 and errors[0].strip()
    assert API_KEY not in page.content()
    assert chat.answer()  # the tokens before the failure stay on screen


def test_http_error_is_shown_and_the_turn_is_not_resent(
    page: Page, page_server: RunningServer, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    chat = open_chat(page, page_server, adapter)
    assert chat.ask("[fault:429] too fast") == "http-error"
    errors = chat.errors()
    assert len(errors) == 1 and errors[0].startswith("HTTP 429: ")
    assert "rate" in errors[0].lower()
    assert page.locator("#input").input_value() == "[fault:429] too fast"  # given back

    assert chat.ask("[tokens:ok] fine now") == "done"
    sent = upstream.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["[tokens:ok] fine now"]


def test_new_chat_mid_stream_starts_an_empty_conversation(
    page: Page, page_server: RunningServer, adapter: RunningServer, upstream: FakeUpstream
) -> None:
    chat = open_chat(page, page_server, adapter)
    assert chat.ask("[tokens:first] one") == "done"
    before = upstream.cancelled
    chat.send("[count:400][delay:0.05] two")
    chat.wait_answer_contains("t1 ")
    page.click("#clear")
    assert upstream.wait_cancelled(before + 1, timeout=5.0), adapter.log()[-2000:]
    page.fill("#input", "")
    assert chat.ask("[tokens:fresh] three") == "done"
    assert chat.answers() == ["fresh"]
    sent = upstream.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["[tokens:fresh] three"]


def test_offline_page_screenshot_mid_stream(page: Page, page_server: RunningServer) -> None:
    """``rais serve`` with no key: its own page, its own endpoint, the offline provider."""
    chat = ChatPage(page).open(page_server.base_url + "/")
    assert page.locator("#provider").text_content() == "offline demo provider"
    assert chat.ask("What is RAIS?") == "done"
    assert "offline demo provider" in chat.answer()

    chat.send("Does it work with Django under WSGI?")
    chat.wait_answer_contains("This answer")
    assert page.locator("body").get_attribute("data-state") == "streaming"
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), animations="disabled", caret="hide")
    chat.stop()
    assert chat.wait_outcome() == "stopped"
    assert Path(SCREENSHOT).stat().st_size > 10_000
