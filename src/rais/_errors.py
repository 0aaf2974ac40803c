"""Errors and the one place that decides what an error may say to a client.

Anything that reaches a browser goes through :func:`safe_message`: known secrets,
key-shaped strings, bearer tokens, credentials in URLs, file paths and tracebacks
are removed. The full exception is logged server-side instead.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

__all__ = [
    "RaisError",
    "RedactingFilter",
    "UpstreamError",
    "redact",
    "redacted_traceback",
    "safe_message",
]

GENERIC_MESSAGE = "The response failed because of an internal error."
MAX_MESSAGE = 300


class RaisError(Exception):
    """An error whose message is meant for the user (still redacted before sending).

    Raise it from a handler to show a specific message; any other exception is
    reported as a generic internal error.
    """

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else GENERIC_MESSAGE


class UpstreamError(RaisError):
    """The LLM provider failed; ``status`` is the HTTP status to answer with, if any."""

    def __init__(self, message: str, *, status: int = 502, retry_after: str | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


_KEEP_LABEL = r"\g<1>\g<2>[redacted]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # provider and generic API keys: sk-..., sk-ant-..., gsk_..., xai-..., hf_..., AWS
    (re.compile(r"\b(?:sk|pk|rk|gsk|xai|hf|ghp|gho|glpat)[-_][A-Za-z0-9_\-]{6,}"), "[redacted]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[redacted]"),
    # "api_key=...", "password: ...": whatever follows the separator
    (
        re.compile(
            r"(?i)\b(bearer|basic|token|api[-_ ]?key|x-api-key|password|secret)"
            r"(\s*[:=]\s*[\"']?)[^\s\"',;]{4,}"
        ),
        _KEEP_LABEL,
    ),
    # "Bearer <credential>": the word after an auth scheme is always the secret
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]{8,}"), _KEEP_LABEL),
    # "token abc123...": a following word only when it looks like a credential
    (
        re.compile(r"(?i)\b(token|api[-_ ]?key|x-api-key)(\s+)(?=[^\s\"',;]*\d)[^\s\"',;]{8,}"),
        _KEEP_LABEL,
    ),
    (re.compile(r"(?i)([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@"), r"\g<1>[redacted]@"),
    (re.compile(r"(?:[A-Za-z]:\\|\\\\)[^\s\"']+"), "[redacted]"),  # Windows paths
    (re.compile(r"(?<![\w:/.])(?:~|\.{1,2})?/(?:[\w.\-]+/)+[\w.\-]*"), "[redacted]"),  # POSIX
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*"), "[redacted]"),
]
_SECRET_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)")


def _environment_secrets() -> list[str]:
    return [
        value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 8
    ]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets from ``text``: exact known values first, then secret-shaped strings."""
    for secret in (*secrets, *_environment_secrets()):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def safe_message(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """The message a client may see for ``exc``: one redacted line, never a traceback."""
    if not isinstance(exc, RaisError):
        return GENERIC_MESSAGE
    message = exc.message
    if "Traceback (most recent call last)" in message:
        return GENERIC_MESSAGE
    line = " ".join(message.split())
    line = redact(line, secrets)
    if len(line) > MAX_MESSAGE:
        line = line[: MAX_MESSAGE - 1] + "…"
    return line or GENERIC_MESSAGE


def redacted_traceback(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """``exc``'s traceback for the server log, with every exception message redacted.

    SDK errors quote what they were sent (an upstream may echo the API key in a 401),
    so messages are redacted like client-facing ones; frame lines (file, line, code)
    keep their paths, losing only known secret values (a key written into the code).
    """
    import traceback  # only when something failed

    secrets = tuple(secrets)
    known = [s for s in (*secrets, *_environment_secrets()) if s and len(s) >= 4]

    def frame(chunk: str) -> str:
        for secret in known:
            chunk = chunk.replace(secret, "[redacted]")
        return chunk

    chunks = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(
        frame(chunk) if chunk.startswith('  File "') else redact(chunk, secrets) for chunk in chunks
    ).rstrip()


class RedactingFilter(logging.Filter):
    """Pre-render a record's exception with :func:`redacted_traceback` (as ``exc_text``).

    Formatters print ``exc_text`` instead of formatting ``exc_info`` again, so log
    lines carry the redacted traceback while handlers that want the exception object
    still get it. A caller that knows more secrets passes its own rendering as
    ``extra={"rais_exc_text": redacted_traceback(exc, secrets)}``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = getattr(record, "rais_exc_text", None)
            record.exc_text = text or redacted_traceback(record.exc_info[1])
        return True
