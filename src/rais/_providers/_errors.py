"""Translate provider SDK exceptions into safe, user-facing :class:`UpstreamError`."""

from __future__ import annotations

from typing import Any

from .._errors import RaisError, UpstreamError
from ._common import retry_after

_BY_STATUS = {
    400: "The model provider rejected the request",
    401: "The model provider rejected the API key",
    403: "The API key is not allowed to use this model",
    404: "The model provider does not know this model",
    408: "The model provider timed out",
    413: "The conversation is too long for the model provider",
    422: "The model provider rejected the request",
    429: "The model provider is rate limiting requests; try again shortly",
    500: "The model provider had an internal error",
    502: "The model provider is unavailable",
    503: "The model provider is overloaded; try again shortly",
    529: "The model provider is overloaded; try again shortly",
}


#: Packages whose exceptions are a model provider (or its HTTP client) failing.
_SDK_PACKAGES = frozenset({"openai", "anthropic", "httpx", "httpcore", "groq", "mistralai"})


def as_upstream_error(exc: BaseException) -> BaseException:
    """An SDK exception raised in a custom handler gets the providers' treatment: an
    :class:`UpstreamError` with its HTTP status (429 keeps ``Retry-After``) and a safe
    message that says what kind of failure it was. Anything else is returned as is."""
    if isinstance(exc, RaisError):
        return exc
    package = type(exc).__module__.partition(".")[0]
    if package not in _SDK_PACKAGES or not isinstance(exc, Exception):
        return exc
    mapped = upstream_error(exc, package)
    mapped.__cause__ = exc
    return mapped


def upstream_error(exc: Exception, provider: str) -> UpstreamError:
    """Map an SDK exception to a status and a message that never echoes what it got."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if isinstance(status, int):
        message = _BY_STATUS.get(status) or f"The model provider failed (HTTP {status})"
        # 4xx statuses are the client's to see (429 keeps Retry-After); 5xx become 502.
        answer = status if status in (400, 401, 403, 404, 413, 422, 429) else 502
        return UpstreamError(
            f"{message} ({provider}, HTTP {status}).", status=answer, retry_after=retry_after(exc)
        )
    if "Timeout" in name:
        return UpstreamError(f"The model provider timed out ({provider}).", status=504)
    if "Connection" in name:
        return UpstreamError(f"Could not reach the model provider ({provider}).", status=502)
    detail = _error_type(exc)
    suffix = f": {detail}" if detail else ""
    return UpstreamError(f"The model provider failed mid-stream ({provider}{suffix}).", status=502)


def _error_type(exc: Any) -> str | None:
    """The provider's machine-readable error type (e.g. ``overloaded_error``), never its text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            kind = inner.get("type") or inner.get("code")
            if isinstance(kind, str) and kind.replace("_", "").isalnum() and len(kind) < 60:
                return kind
    return None
