"""The hooks of every integration's ``/api/app`` endpoints: a real app's options, made visible.

The conformance suite (tests/conformance/test_app_hooks.py) drives them over real
servers: ``configure`` and ``handler(chat)`` put an extra body field (``tag``) and a
request header (``X-App-Tag``) into the upstream request and the answer, ``owner``
binds resumable streams to ``X-App-User``, and ``on_finish`` appends each
:class:`rais.StreamResult` as one JSON line to the file named by ``RAIS_FINISH_LOG``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from examples.weather_tools import calculate, get_weather
from rais import Chat, StreamResult

TAG_HEADER = "X-App-Tag"
USER_HEADER = "X-App-User"

#: The tools of every integration's ``/api/ui`` endpoints (the examples' weather and
#: calculator): the official clients read their calls and results in the conformance suite.
TOOLS = [get_weather, calculate]

_lock = threading.Lock()  # one line at a time, from worker threads and the loop alike


def configure(chat: Chat) -> dict[str, Any]:
    """Remember the header for ``on_finish`` (the request may be gone by then) and send
    both values upstream in the system prompt, where the fake records them."""
    chat.state["tag"] = chat.extra.get("tag")
    chat.state["header"] = chat.headers.get(TAG_HEADER)
    chat.state["user"] = chat.headers.get(USER_HEADER)
    return {"system": f"tag={chat.state['tag']} header={chat.state['header']}"}


async def handler(chat: Chat) -> AsyncIterator[Any]:
    """Open the answer with what this handler saw, then stream the endpoint's provider."""
    chat.state["request"] = type(chat.request).__name__  # the framework's own request object
    yield f"[tag={chat.extra.get('tag')} header={chat.headers.get(TAG_HEADER)}] "
    async for chunk in chat.stream():
        yield chunk


def owner(chat: Chat) -> str | None:
    """Who may resume a stream: the user the (pretend) auth layer put in a header."""
    value = chat.headers.get(USER_HEADER)
    return None if value is None else str(value)


def record(endpoint: str, result: StreamResult) -> dict[str, Any]:
    """One JSON-able line per stream: everything the suite checks."""
    state = result.chat.state if result.chat is not None else {}
    return {
        "endpoint": endpoint,
        "outcome": result.outcome,
        "text": result.text,
        "error": result.error,
        "status": result.status,
        "chunks": result.chunks,
        "ttft": result.ttft,
        "duration": result.duration,
        "usage": None if result.usage is None else dataclasses.asdict(result.usage),
        "model": result.model,
        "tag": state.get("tag"),
        "header": state.get("header"),
        "user": state.get("user"),
        "request": state.get("request"),
        "stream_id": result.stream_id,
        "pid": os.getpid(),
    }


def append(line: dict[str, Any]) -> None:
    path = os.environ.get("RAIS_FINISH_LOG")
    if not path:
        return
    with _lock, open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


def sync_on_finish(endpoint: str) -> Callable[[StreamResult], None]:
    """For WSGI apps (Flask, Django): rais runs it in a worker thread."""

    def on_finish(result: StreamResult) -> None:
        append(record(endpoint, result))

    return on_finish


def async_on_finish(endpoint: str) -> Callable[[StreamResult], Awaitable[None]]:
    """For async apps: where a real app awaits its async database; one short local
    append needs no thread (and at interpreter exit no new thread may start)."""

    async def on_finish(result: StreamResult) -> None:
        append(record(endpoint, result))

    return on_finish


def options(endpoint: str, *, sync: bool = False, **extra: Any) -> dict[str, Any]:
    """The options of one ``/api/app`` endpoint (``endpoint`` names it in the log)."""
    finish = sync_on_finish(endpoint) if sync else async_on_finish(endpoint)
    return {
        "provider": "openai",
        "handler": handler,
        "configure": configure,
        "owner": owner,
        "on_finish": finish,
        "resume": None,
        **extra,
    }
