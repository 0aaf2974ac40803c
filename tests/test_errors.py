"""Unit tests of what an error may say to a client: redact() and safe_message()."""

from __future__ import annotations

import traceback

import pytest

from rais import RaisError, UpstreamError
from rais._errors import GENERIC_MESSAGE, MAX_MESSAGE, redact, safe_message

SECRETS_IN_TEXT = [
    ("openai key", "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.", "sk-proj-AbCdEf"),
    ("anthropic key", "invalid x-api-key: sk-ant-api03-QWERTYuiop_0987-zz", "QWERTYuiop"),
    ("bearer", "sent Authorization: Bearer abc.def.ghi-123 upstream", "abc.def.ghi-123"),
    ("bearer lower", "header was bearer zzTOKENzz", "zzTOKENzz"),
    ("api_key=", "url had ?api_key=9f8e7d6c5b4a and failed", "9f8e7d6c5b4a"),
    ("password:", "password: hunter2hunter2", "hunter2hunter2"),
    ("url creds", "could not reach https://alice:s3cr3tpw@llm.internal:8443/v1", "s3cr3tpw"),
    ("url user", "could not reach https://alice:s3cr3tpw@llm.internal:8443/v1", "alice"),
    ("redis url", "redis://default:p4ssw0rd@cache:6379/0 refused", "p4ssw0rd"),
    ("posix path", 'File "/srv/app/secret_module.py", line 12', "/srv/app"),
    ("home path", "config read from ~/.config/rais/keys.toml failed", ".config/rais"),
    ("relative", "see ./deploy/prod/settings.py", "deploy/prod"),
    ("windows", r"cannot open C:\Users\bob\AppData\keys.json now", r"Users\bob"),
    ("unc", r"share \\fileserver\private\keys.txt unreachable", "fileserver"),
    ("jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sgn", "eyJzdWIiOiIxMjM0"),
    ("github token", "push failed for ghp_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c"),
]


@pytest.mark.parametrize(("text", "leak"), [(t, leak) for _, t, leak in SECRETS_IN_TEXT])
def test_redact_removes_secret_shaped_strings(text: str, leak: str) -> None:
    out = redact(text)
    assert leak not in out
    assert "[redacted]" in out


def test_redact_keeps_ordinary_text() -> None:
    text = "The model provider is rate limiting requests; try again shortly (openai, HTTP 429)."
    assert redact(text) == text


def test_redact_keeps_the_scheme_and_host_of_a_url_with_credentials() -> None:
    out = redact("could not reach https://alice:pw12345@example.com/v1")
    assert out.startswith("could not reach https://")
    assert "example.com" in out


def test_redact_known_secret_values() -> None:
    secret = "plain-words-not-key-shaped"
    assert secret not in redact(f"the value was {secret}!", secrets=[secret])
    # None and very short values are ignored rather than blanking the message
    assert redact("abc", secrets=[None, "", "b"]) == "abc"


def test_redact_environment_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "totally-custom-value-0042"
    monkeypatch.setenv("MY_SERVICE_API_KEY", value)
    assert value not in redact(f"upstream echoed {value} back")


def test_safe_message_of_plain_exceptions_is_generic() -> None:
    exc = ValueError("db password=hunter22 at /opt/app/db.py")
    assert safe_message(exc) == GENERIC_MESSAGE
    assert safe_message(KeyError("sk-live-abcdefghijk")) == GENERIC_MESSAGE


def test_safe_message_of_rais_error_passes_through() -> None:
    assert safe_message(RaisError("The model is busy, retry later.")) == (
        "The model is busy, retry later."
    )


def test_safe_message_of_rais_error_is_redacted() -> None:
    message = safe_message(
        UpstreamError("rejected key sk-abcdefghijklmnop from /home/me/app/keys.py"),
        secrets=["unused-secret"],
    )
    assert "sk-abcdefghijklmnop" not in message
    assert "/home/me" not in message
    assert message.startswith("rejected key ")


def test_safe_message_redacts_given_secrets() -> None:
    assert "s3cret-value" not in safe_message(RaisError("it was s3cret-value"), ["s3cret-value"])


def test_safe_message_is_one_line_and_bounded() -> None:
    message = safe_message(RaisError("first line\nsecond\tline\r\n" + "x" * 1000))
    assert "\n" not in message and "\r" not in message and "\t" not in message
    assert message.startswith("first line second line ")
    assert len(message) <= MAX_MESSAGE


def test_safe_message_never_carries_a_traceback() -> None:
    try:
        raise ValueError("inner")
    except ValueError:
        text = traceback.format_exc()
    message = safe_message(RaisError(f"wrapped: {text}"))
    assert "Traceback" not in message
    assert message == GENERIC_MESSAGE


def test_safe_message_of_empty_rais_error_is_generic() -> None:
    assert safe_message(RaisError("")) == GENERIC_MESSAGE
    assert safe_message(RaisError("   \n ")) == GENERIC_MESSAGE


def test_error_status_and_retry_after() -> None:
    assert RaisError("x").status == 500
    assert RaisError("x", status=418).status == 418
    upstream = UpstreamError("slow down", status=429, retry_after="7")
    assert isinstance(upstream, RaisError)
    assert upstream.status == 429
    assert upstream.retry_after == "7"
    assert UpstreamError("down").status == 502
    assert UpstreamError("down").retry_after is None
