"""``rais serve``: the real command on a loopback port, its page, endpoint, CORS and logs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rais.cli import build_parser, choose_provider, log_config, main, print_banner
from rais.server import STATIC_DIR, ServeSettings
from tests.conformance.sse import chat
from tests.fakes.upstreams import FakeUpstream
from tests.servers import ROOT, RunningServer, ServerSpec, start_server

NO_KEYS = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENAI_BASE_URL": ""}
RAIS_SCRIPT = Path(sys.executable).with_name("rais")


def serve_spec(*flags: str) -> ServerSpec:
    return ServerSpec(
        "rais-serve", "rais", ("{py}", "-m", "rais", "serve", "--port", "{port}", *flags)
    )


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield http


@pytest.fixture(scope="module")
def offline() -> Iterator[RunningServer]:
    server = start_server(serve_spec(), {**NO_KEYS, "RAIS_OFFLINE_DELAY": "0"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


def wait_for_log(server: RunningServer, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, server.log())
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r} in:\n{server.log()}")


# -- the command line ------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rais", *args], capture_output=True, text=True, timeout=30
    )


def test_help_reads_like_a_cli() -> None:
    top = subprocess.run([RAIS_SCRIPT, "--help"], capture_output=True, text=True, timeout=30)
    assert top.returncode == 0
    assert "serve" in top.stdout and "RAIS v1" in top.stdout
    serve = run_cli("serve", "--help")
    assert serve.returncode == 0
    for flag in ("--provider", "--model", "--system", "--base-url", "--host", "--port"):
        assert flag in serve.stdout
    for flag in ("--allow-origin", "--workers", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
        assert flag in serve.stdout
    assert run_cli("--version").stdout.strip() == "rais 0.1.0"


def test_no_command_prints_help_and_fails() -> None:
    bare = run_cli()
    assert bare.returncode == 2
    assert "serve" in bare.stderr


def test_bad_flags_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--provider", "nope"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])


def test_the_cli_imports_no_web_framework() -> None:
    code = (
        "import sys, rais, rais.cli; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'fastapi', 'django', 'flask', 'quart',"
        " 'openai', 'anthropic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_commands_are_subparsers() -> None:
    args = build_parser().parse_args(["serve", "--port", "9001", "--allow-origin", "http://a.test"])
    assert args.port == 9001 and args.allow_origin == ["http://a.test"] and callable(args.run)


@pytest.mark.parametrize(
    ("env", "flag", "provider", "base_url"),
    [
        ({}, None, "offline", None),
        ({"OPENAI_API_KEY": ""}, None, "offline", None),
        ({"OPENAI_API_KEY": "sk-o"}, None, "openai", None),
        ({"ANTHROPIC_API_KEY": "sk-a"}, None, "anthropic", None),
        ({"ANTHROPIC_API_KEY": "sk-a", "OPENAI_API_KEY": "sk-o"}, None, "anthropic", None),
        ({"OPENAI_BASE_URL": "http://h/v1"}, None, "openai", "http://h/v1"),
        (
            {"OPENAI_BASE_URL": "http://h/v1", "ANTHROPIC_API_KEY": "k"},
            None,
            "openai",
            "http://h/v1",
        ),
        ({"OPENAI_API_KEY": "sk-o"}, "offline", "offline", None),
        ({"OPENAI_BASE_URL": "http://h/v1"}, "openai", "openai", "http://h/v1"),
        ({"OPENAI_BASE_URL": "http://h/v1"}, "anthropic", "anthropic", None),
    ],
)
def test_provider_from_flag_then_environment(
    env: dict[str, str], flag: str | None, provider: str, base_url: str | None
) -> None:
    choice = choose_provider(flag, None, env)
    assert (choice.provider, choice.base_url) == (provider, base_url)
    assert choice.reason


def test_banner_names_the_demo_and_hides_credentials() -> None:
    out = io.StringIO()
    print_banner(
        ServeSettings(),
        choose_provider(None, None, {}),
        host="0.0.0.0",
        port=8000,
        workers=1,
        out=out,
    )
    assert "http://127.0.0.1:8000/" in out.getvalue() and "OFFLINE DEMO" in out.getvalue()
    out = io.StringIO()
    settings = ServeSettings(provider="openai", base_url="https://user:s3cret@llm.test/v1")
    print_banner(
        settings,
        choose_provider("openai", settings.base_url, {}),
        host="127.0.0.1",
        port=8000,
        workers=2,
        out=out,
    )
    text = out.getvalue()
    assert "s3cret" not in text and "https://llm.test/v1" in text
    assert "gpt-4o-mini" in text and "OFFLINE" not in text


def test_log_config_shows_the_rais_loggers() -> None:
    config = log_config("info")
    assert config["loggers"]["rais"]["level"] == "INFO"
    assert config["loggers"]["rais"]["handlers"] == ["default"]


def test_settings_travel_to_workers_as_json() -> None:
    settings = ServeSettings("openai", "m", "Be brief.", "http://h/v1", ("http://a.test",))
    assert ServeSettings.from_json(settings.to_json()) == settings


def test_the_wheel_ships_the_chat_page(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("rais-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in STATIC_DIR.iterdir():
        assert f"rais/static/{path.name}" in names
    assert {"rais/cli.py", "rais/server.py", "rais/__main__.py"} <= names


# -- rais serve, offline ---------------------------------------------------------------


def test_offline_banner_page_and_endpoint(offline: RunningServer, client: httpx.Client) -> None:
    wait_for_log(offline, "Uvicorn running")
    banner = offline.log()
    assert "provider    offline (no API key is set)" in banner
    assert "OFFLINE DEMO" in banner
    assert f"chat page   http://127.0.0.1:{offline.port}/" in banner

    page = client.get(offline.base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<meta name="rais-provider" content="offline">' in page.text
    assert '<meta name="rais-endpoint" content="/api/chat">' in page.text
    for asset in ("chat.js", "chat.css"):
        response = client.get(f"{offline.base_url}/static/{asset}")
        assert response.status_code == 200, asset

    received = chat(client, offline.url, "hello offline")
    assert received.status == 200
    assert received.types[-1] == "done"
    assert received.text.startswith("You said: “hello offline”.")


def test_the_page_loads_nothing_from_other_hosts() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "@import" not in text and "cdn" not in text.lower(), path.name


def test_one_log_line_per_stream_without_content(
    offline: RunningServer, client: httpx.Client
) -> None:
    secret = "zebra-7731-private"
    before = offline.log().count("stream done")
    received = chat(client, offline.url, f"my words: {secret}")
    assert received.types[-1] == "done"
    tokens = received.types.count("text")
    line = wait_for_log(
        offline, r"stream done status=200 chunks=(\d+) tokens=(\d+) ttft=(\S+) duration=(\S+)"
    )
    assert offline.log().count("stream done") == before + 1
    lines = re.findall(r"stream done status=200 chunks=(\d+)", offline.log())
    assert int(lines[-1]) == tokens
    assert line.group(3).endswith("s") and line.group(4).endswith("s")
    assert secret not in offline.log()
    assert "POST /api/chat" not in offline.log()  # no second line per request by default


def test_cors_is_open_by_default(offline: RunningServer, client: httpx.Client) -> None:
    preflight = client.options(
        offline.url,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_bad_requests_get_json_errors(offline: RunningServer, client: httpx.Client) -> None:
    response = client.post(offline.url, json={"messages": "nope"})
    assert response.status_code == 422
    assert response.json()["error"]["message"]
    assert client.get(offline.url).status_code == 405


# -- rais serve, other settings --------------------------------------------------------


def test_openai_compatible_base_url_model_and_system(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    env = {**NO_KEYS, "OPENAI_BASE_URL": upstream.base_url, "RAIS_MAX_RETRIES": "0"}
    spec = serve_spec("--model", "local-llama", "--system", "Be brief.")
    server = start_server(spec, env)
    try:
        wait_for_log(server, "Uvicorn running")
        assert "provider    openai (OPENAI_BASE_URL" in server.log()
        assert "model       local-llama" in server.log()
        received = chat(client, server.url, "[tokens:from|fake] hi")
        assert received.text == "fromfake" and received.types[-1] == "done"
        sent = upstream.requests[-1].json
        assert sent["model"] == "local-llama"
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}

        refused = chat(client, server.url, "[fault:429]")
        assert refused.status == 429
        wait_for_log(server, r"stream refused status=429 chunks=0 tokens=- ttft=- duration=\S+s")
    finally:
        server.stop()


def test_allowed_origins_and_workers(client: httpx.Client) -> None:
    spec = serve_spec("--allow-origin", "http://good.test,http://also.test", "--workers", "2")
    server = start_server(spec, {**NO_KEYS, "RAIS_OFFLINE_DELAY": "0"})
    try:
        wait_for_log(server, "Uvicorn running")
        assert "CORS        http://good.test, http://also.test" in server.log()
        assert "workers     2" in server.log()

        def preflight(origin: str) -> httpx.Response:
            return client.options(
                server.url,
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )

        assert preflight("http://good.test").headers["access-control-allow-origin"] == (
            "http://good.test"
        )
        assert "access-control-allow-origin" not in preflight("http://evil.test").headers
        for _ in range(3):
            assert chat(client, server.url, "hi").types[-1] == "done"
    finally:
        assert server.stop() in (0, -15)
