"""Drive a chat page as a person would: type, press Enter, watch, press Stop.

Both the built-in page and the React example mark the conversation state on an element
(``data-state`` streaming/idle, ``data-outcome`` done/error/stopped/...), which is what
the helpers wait on; messages carry ``data-role``.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page

# Records every distinct length the last answer passes through, to tell streaming
# (many steps) from a body that was buffered and arrived at once (one step).
WATCH_GROWTH = """(selector) => {
  window.__lengths = [];
  const record = () => {
    const answers = document.querySelectorAll(selector);
    const last = answers[answers.length - 1];
    const length = last ? last.textContent.length : 0;
    if (length && window.__lengths.at(-1) !== length) window.__lengths.push(length);
  };
  new MutationObserver(record).observe(document.body,
    {childList: true, subtree: true, characterData: true});
}"""


@dataclass
class ChatPage:
    page: Page
    #: The element carrying data-state / data-outcome.
    root: str = "body"
    input: str = "#input"
    stop_button: str = "#stop"
    answer_selector: str = '[data-role="assistant"]'
    error_selector: str = '[data-role="error"], [role="alert"]'

    def open(self, url: str) -> ChatPage:
        self.page.goto(url)
        self.page.wait_for_selector(self.root + '[data-state="idle"]')
        return self

    def send(self, text: str) -> None:
        self.page.evaluate(
            "(root) => document.querySelector(root).removeAttribute('data-outcome')", self.root
        )
        self.page.fill(self.input, text)
        self.page.press(self.input, "Enter")
        self.page.wait_for_function(
            "(root) => document.querySelector(root).dataset.state === 'streaming'"
            " || document.querySelector(root).dataset.outcome",
            arg=self.root,
        )

    def wait_outcome(self) -> str:
        """Wait for the answer to end; return how (done, error, stopped, http-error, ...)."""
        handle = self.page.wait_for_function(
            """(root) => {
                const el = document.querySelector(root);
                return el.dataset.state === 'idle' && el.dataset.outcome;
            }""",
            arg=self.root,
        )
        return str(handle.json_value())

    def ask(self, text: str) -> str:
        self.send(text)
        return self.wait_outcome()

    def answers(self) -> list[str]:
        return self.page.locator(self.answer_selector).all_text_contents()

    def answer(self) -> str:
        answers = self.answers()
        return answers[-1] if answers else ""

    def errors(self) -> list[str]:
        return self.page.locator(self.error_selector).all_text_contents()

    def wait_answer_contains(self, text: str) -> None:
        self.page.wait_for_function(
            """([selector, text]) => {
                const answers = document.querySelectorAll(selector);
                return answers.length && answers[answers.length - 1].textContent.includes(text);
            }""",
            arg=[self.answer_selector, text],
        )

    def stop(self) -> None:
        self.page.click(self.stop_button)

    def watch_growth(self) -> None:
        self.page.evaluate(WATCH_GROWTH, self.answer_selector)

    def growth(self) -> list[int]:
        return list(self.page.evaluate("window.__lengths"))
