"""The protocols' official JavaScript clients, run against a server URL from Python tests.

A server that only passes our own Python decoder could still be refused by the front ends
people use; these helpers drive the real ones. ``tests/js`` pins them (``package-lock.json``):

* ``run_ai_sdk_client``: the Vercel AI SDK's ``DefaultChatTransport`` + ``readUIMessageStream``
  (what ``useChat`` does), every raw chunk also checked against the chunk schema of the latest
  ``ai`` and of an older strict 6.x (``ai-strict``) that rejects unknown keys;
* ``run_ag_ui_client``: ``@ag-ui/client``'s ``HttpAgent.runAgent``, with its event verifier;
* ``build_usechat_page``: a React page using ``useChat`` from ``@ai-sdk/react``, for Chromium.

Each CLI prints one JSON object, described at the top of its ``.mjs`` file.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS_DIR / "node_modules"
#: Written after a good ``npm ci``; holds the lockfile's hash so a changed lock reinstalls.
STAMP = NODE_MODULES / ".rais-npm-ci"
#: Serialises installs between pytest-xdist workers sharing one ``node_modules``.
LOCK = Path(tempfile.gettempdir()) / "rais-tests-js-npm.lock"


def _lock_digest() -> str:
    return hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()


@functools.cache
def ensure_js_deps() -> Path:
    """``npm ci`` in tests/js unless this lockfile was already installed; returns node_modules.

    Skips only when npm itself is absent (a machine without Node cannot run these clients);
    any npm failure fails the test with npm's output, since a broken install is a real
    problem. The file lock keeps parallel workers from wiping each other's node_modules.
    """
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed: the official JS clients cannot run")
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = _lock_digest()
        if STAMP.is_file() and STAMP.read_text() == digest:
            return NODE_MODULES
        # ai 7 declares node>=22; what these clients use runs on Node 20, so do not let a
        # user's engine-strict setting refuse the install.
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--engine-strict=false"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci in {JS_DIR} failed ({proc.returncode}):\n{proc.stderr}")
        STAMP.write_text(digest)
    return NODE_MODULES


def _run_node(script: str, url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one client CLI; its stdout is one JSON object, anything else is a harness bug."""
    ensure_js_deps()
    node = shutil.which("node")
    assert node is not None
    try:
        proc = subprocess.run(
            [node, str(JS_DIR / script), url, json.dumps(payload)],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script} against {url} still running after {timeout}s:\n{exc.stderr!r}")
    if proc.returncode != 0:
        pytest.fail(f"{script} exited {proc.returncode}:\n{proc.stderr}")
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{script} printed no JSON:\n{proc.stdout}\n{proc.stderr}")
    return result


def run_ai_sdk_client(url: str, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """POST ``body`` (``{id, messages, trigger, messageId?}``) with the AI SDK's own transport.

    Returns ``{status, headers, request, body, chunks, invalid, comments, after_done,
    unterminated, message, error, errors, done}``: ``invalid`` lists ``{version, chunk, issue}``
    for each chunk that the ``latest`` or ``strict`` schema (or ``json``) refused; ``message``
    is the final UIMessage the SDK built; ``error`` the first error the SDK raised (an
    ``error`` chunk's text, a non-2xx body, a parse failure); ``body`` a non-2xx reply.
    """
    return _run_node("ai_sdk_client.mjs", url, body, timeout)


def run_ag_ui_client(url: str, run_input: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Run ``HttpAgent.runAgent`` seeded from a RunAgentInput; the agent builds the POST.

    Returns ``{status, headers, request, events, messages, state, result, error, run_error,
    warnings}``: ``events`` as the subscribers saw them, ``messages`` the agent's afterwards,
    ``error`` what made the run reject (a verifier or HTTP error), ``run_error`` a RUN_ERROR's
    message, ``warnings`` the client's console output (e.g. unknown fields it stripped).
    """
    return _run_node("ag_ui_client.mjs", url, run_input, timeout)


@functools.cache
def build_usechat_page() -> Path:
    """Bundle tests/js/usechat with esbuild into a fresh directory to serve; once a process.

    Open ``index.html?api=<chat endpoint URL>`` from a different origin than the endpoint,
    as a deployed front end would be.
    """
    ensure_js_deps()
    out = Path(tempfile.mkdtemp(prefix="rais-usechat-"))
    source = JS_DIR / "usechat"
    proc = subprocess.run(
        [
            str(NODE_MODULES / ".bin" / "esbuild"),
            str(source / "app.jsx"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=es2022",
            "--jsx=automatic",
            '--define:process.env.NODE_ENV="production"',
            "--log-level=warning",
            f"--outfile={out / 'app.js'}",
        ],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"esbuild of {source} failed ({proc.returncode}):\n{proc.stderr}")
    shutil.copy(source / "index.html", out / "index.html")
    return out
