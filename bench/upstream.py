"""``python -m bench.upstream``: the fake OpenAI upstream in a process of its own.

The end-to-end benchmark runs it apart from the load generator so that neither slows
the other through one GIL; it prints its base URL and serves until stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.fdlimit import raise_fd_limit
from tests.fakes.upstreams import FakeUpstream
from tests.servers import PY, ROOT


def main() -> None:
    raise_fd_limit(4096)
    with FakeUpstream("openai") as upstream:
        upstream.default_tokens = ["tok "]
        print(upstream.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin (or exits)


@contextmanager
def upstream_process() -> Iterator[str]:
    """Start the fake in a child process; yields its base URL."""
    process = subprocess.Popen(
        [PY, "-m", "bench.upstream"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the fake upstream did not start (said {url!r})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
