"""App callbacks run on rais's own thread pools (issue 19.2), on every framework's client.

A sync ``on_finish`` that blocks (a sync database driver under load) used to hold one of
asyncio's default executor threads (6 on a 2-CPU machine), where the SDKs' DNS lookups
queue: a dozen slow callbacks stalled every new upstream call. Now such callbacks only
delay the streams that wait on them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from rais import Chat, StreamResult
from tests.inprocess.clients import Client
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import DEADLINE, ask, wait_until

pytestmark = pytest.mark.timeout(90)

#: More blocked callbacks than asyncio's default executor has threads here.
BLOCKED = 12


async def test_slow_sync_callbacks_starve_neither_dns_nor_new_chats(
    make_client: MakeClient, client_class: type[Client]
) -> None:
    release = threading.Event()
    names: dict[str, set[str]] = {"configure": set(), "owner": set(), "on_finish": set()}
    blocked: list[str] = []

    def configure(chat: Chat) -> None:
        names["configure"].add(threading.current_thread().name)

    def owner(chat: Chat) -> str:
        names["owner"].add(threading.current_thread().name)
        return "ada"

    def on_finish(result: StreamResult) -> None:
        names["on_finish"].add(threading.current_thread().name)
        if result.chat is not None and result.chat.extra.get("tag") == "slow":
            blocked.append(threading.current_thread().name)
            release.wait(DEADLINE * 3)

    options: dict[str, Any] = {"configure": configure, "on_finish": on_finish}
    client = await make_client(**options, on_finish_timeout=0.05)
    resumable = await make_client(**options, resume=True, owner=owner, on_finish_timeout=0.05)
    try:
        for _ in range(BLOCKED):
            slow = await client.post(json=ask("[count:1]", tag="slow"))
            assert slow.types == ["text", "done"], slow.body
        await wait_until(lambda: len(blocked) == BLOCKED, "every slow on_finish to block")

        loop = asyncio.get_running_loop()
        found = await asyncio.wait_for(loop.getaddrinfo("localhost", 80), DEADLINE)
        assert found  # the loop's default executor (DNS) is free

        fresh = await client.post(json=ask("[count:2]", tag="fresh"))
        assert fresh.types == ["text", "text", "done"], fresh.body
        again = await resumable.post(json=ask("[count:2]", tag="fresh"))
        assert again.types == ["text", "text", "done"], again.body
        await wait_until(lambda: bool(names["owner"]), "owner to run")
    finally:
        release.set()
    # Under WSGI a sync configure runs in the request's own thread (Flask's g works there).
    configure_prefix = "" if client_class.wsgi else "rais-callback"
    for kind, prefix in (
        ("configure", configure_prefix),
        ("owner", "rais-callback"),
        ("on_finish", "rais-on-finish"),
    ):
        assert names[kind] and all(name.startswith(prefix) for name in names[kind]), (kind, names)
