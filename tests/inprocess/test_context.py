"""A handler runs in one context from its first step to its last, on every adapter: a
``contextvars`` value set before the first chunk is there after it, and a token made
before a ``yield`` resets after it (what OpenTelemetry's ``start_as_current_span`` does
across a handler's ``yield``s), whether the first chunk came while the response was held
for it (``first_event_wait``) or after, and in a resumable stream's generation too."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import AsyncIterator

import pytest

from rais import Chat
from tests.inprocess.clients import Client
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import ask

pytestmark = pytest.mark.timeout(60)

WSGI = ("flask", "django-wsgi")
CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("rais_test_current", default="-")


@pytest.mark.parametrize("resume", [False, True], ids=["streamed", "resumable"])
@pytest.mark.parametrize(
    ("first_delay", "wait"),
    [
        pytest.param(0.01, 3.0, id="first-chunk-while-held"),
        pytest.param(0.3, 0.05, id="first-chunk-after-the-hold"),
    ],
)
async def test_a_handler_keeps_its_context_across_yields(
    make_client: MakeClient,
    client_class: type[Client],
    first_delay: float,
    wait: float,
    resume: bool,
    request: pytest.FixtureRequest,
) -> None:
    if (resume or client_class.name in WSGI) and sys.version_info < (3, 11):
        # The WSGI bridge, and a resumable generation, run a stream's tasks in one context
        # with create_task(context=), new in 3.11: on 3.10 each task has a copy of it.
        request.applymarker(pytest.mark.xfail(strict=True, reason="create_task(context=)"))

    async def handler(chat: Chat) -> AsyncIterator[str]:
        token = CURRENT.set(str(chat.extra["user"]))
        await asyncio.sleep(first_delay)  # the upstream's first token
        yield "hello "
        await asyncio.sleep(0.01)
        yield f"{CURRENT.get()} "
        CURRENT.reset(token)  # ValueError if this step ran in another context
        yield f"reset to {CURRENT.get()}"

    client = await make_client(handler=handler, first_event_wait=wait, resume=resume)
    received = await client.post(json=ask("hi", user="ada"))
    assert received.status == 200, received.body
    assert received.types == ["text", "text", "text", "done"], received.body
    assert received.text == "hello ada reset to -"


@pytest.mark.parametrize("resume", [False, True], ids=["streamed", "resumable"])
async def test_a_provider_stream_whose_first_token_comes_after_the_hold(
    make_client: MakeClient, resume: bool
) -> None:
    """The OpenAI SDK reads its response under an anyio cancel scope, which must exit in
    the task it was entered in: a step the hold leaves waiting goes on in the request's
    task, and a resumable generation's first step runs in its own task from the start
    (begun in the request's and finished in another, it failed)."""
    client = await make_client(resume=resume, first_event_wait=0.05)
    received = await client.post(json=ask("[count:2][delay:0.3]"))
    assert received.status == 200, received.body
    assert received.types == ["text", "text", "done"], received.body
