"""examples/usechat-react (the AI SDK's ``useChat``, built with Vite) against the FastAPI and
Django examples, which serve ``protocol="auto"``: the page streams an answer and can stop it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.browser.react_example import build_vite_example
from tests.fakes.upstreams import FakeUpstream
from tests.test_examples import FRAMEWORK_EXAMPLES, example


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def usechat_site() -> Iterator[str]:
    site = build_vite_example("usechat-react")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("framework", ["fastapi", "django"])
def test_usechat_example_against_the_framework_example(
    page: Page, usechat_site: str, upstream: FakeUpstream, framework: str
) -> None:
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "sk-test-usechat-example"}
    with example(*FRAMEWORK_EXAMPLES[framework], env=env) as (base, _, log):
        page.goto(f"{usechat_site}/?api={quote(base + '/api/chat', safe='')}")
        page.fill('input[aria-label="Message"]', "[count:12][delay:0.02] hello")
        page.click('button:text("Send")')
        page.wait_for_selector(
            ".app[data-status='ready'] .message.assistant, .app[data-status='error']"
        )
        assert page.get_attribute(".app", "data-status") == "ready", page.inner_text(".app")
        answer = page.inner_text('.message[data-role="assistant"]')
        assert answer == "".join(f"t{i} " for i in range(12)).strip(), log.read_text()

        before = upstream.cancelled
        page.fill('input[aria-label="Message"]', "[count:400][delay:0.05] a long one")
        page.click('button:text("Send")')
        page.wait_for_function(
            "document.querySelectorAll('.message.assistant')[1]?.innerText.includes('t3 ')"
        )
        page.click('button:text("Stop")')
        page.wait_for_selector(".app[data-status='ready']")
        assert upstream.wait_cancelled(before + 1, timeout=20.0), log.read_text()[-2000:]


@pytest.mark.parametrize("framework", ["fastapi", "django"])
def test_usechat_example_shows_reasoning_tools_and_the_answer(
    page: Page, usechat_site: str, upstream: FakeUpstream, framework: str
) -> None:
    """The examples' weather and calculator tools: the page shows the model's reasoning,
    each call with its input, the weather's output and the calculator's error (1/0 fails
    on purpose), then the answer the model wrote from those results."""
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "sk-test-usechat-example"}
    prompt = (
        "[think:The user wants two things.]"
        '[tool:get_weather:{"city":"Paris"}][tool:calculate:{"expression":"1/0"}] go'
    )
    with example(*FRAMEWORK_EXAMPLES[framework], env=env) as (base, _, log):
        page.goto(f"{usechat_site}/?api={quote(base + '/api/chat', safe='')}")
        page.fill('input[aria-label="Message"]', prompt)
        page.click('button:text("Send")')
        page.wait_for_selector(
            ".app[data-status='ready'] .message.assistant .text, .app[data-status='error']"
        )
        assert page.get_attribute(".app", "data-status") == "ready", page.inner_text(".app")
        assistant = '.message[data-role="assistant"]'
        assert (page.text_content(f"{assistant} .reasoning >> nth=0") or "").endswith(
            "The user wants two things."
        ), log.read_text()[-2000:]
        weather = f'{assistant} .tool[data-tool="get_weather"]'
        assert page.get_attribute(weather, "data-state") == "output-available"
        assert page.inner_text(f"{weather} .tool-input") == 'get_weather({"city":"Paris"})'
        output = page.inner_text(f"{weather} .tool-output")
        assert '"temperature":18' in output and '"sky":"cloudy"' in output
        calculator = f'{assistant} .tool[data-tool="calculate"]'
        assert page.get_attribute(calculator, "data-state") == "output-error"
        error = page.inner_text(f"{calculator} .tool-error")
        assert error == "ZeroDivisionError: division by zero"
        answer = page.inner_text(f"{assistant} .text")
        assert answer.startswith("Results:") and "cloudy" in answer, answer
        # the parts come in the order they streamed: reasoning, the tools, then the answer
        order = page.eval_on_selector_all(
            f"{assistant} > *", "nodes => nodes.map(n => n.className)"
        )
        # (the fake model thinks again before its answer: it reads the same directives)
        assert order == ["reasoning", "tool", "tool", "reasoning", "text"], order
