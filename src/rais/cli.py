"""The ``rais`` command line: ``rais serve`` runs a RAIS chat server with a chat page.

Each command is a function that adds its subparser and sets ``run`` (see
:data:`COMMANDS`), so a new command is one function plus one line. Web frameworks are
imported only when a command runs, so ``rais --help`` stays instant.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from ._providers import DEFAULT_MODELS, PROVIDERS
from .check import add_check_command

if TYPE_CHECKING:
    from typing import TypeAlias

    from .server import ServeSettings

    #: What a command function receives: ``commands.add_parser(name, ...)``.
    Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

__all__ = ["COMMANDS", "ProviderChoice", "build_parser", "choose_provider", "main"]

SERVE_EPILOG = """\
The provider comes from the environment unless --provider is given:
  OPENAI_BASE_URL     an OpenAI-compatible server (Ollama, vLLM, LM Studio, ...)
  ANTHROPIC_API_KEY   Anthropic (default model claude-sonnet-4-6)
  OPENAI_API_KEY      OpenAI (default model gpt-4o-mini)
  none of them        the offline demo provider: canned answers, no key, no network

examples:
  rais serve                                     offline demo on http://127.0.0.1:8000
  OPENAI_API_KEY=sk-... rais serve --model gpt-4o
  rais serve --provider anthropic --system "Answer in one sentence."
  OPENAI_BASE_URL=http://localhost:11434/v1 rais serve --model llama3.2
  rais serve --port 9000 --allow-origin http://localhost:3000

Open the address it prints for the chat page; point the page at another server
with ?endpoint=URL. Each stream logs one line (outcome, tokens, time to first
token, duration); message content is never logged.
"""


@dataclass(frozen=True)
class ProviderChoice:
    """The provider to serve, the base URL to reach it at, and why it was picked."""

    provider: str
    base_url: str | None
    reason: str


def choose_provider(
    requested: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ProviderChoice:
    """Pick the provider: the flag, else the environment, else the offline demo."""
    env = os.environ if env is None else env
    env_base = env.get("OPENAI_BASE_URL") or None
    if requested:
        openai_base = (base_url or env_base) if requested == "openai" else base_url
        return ProviderChoice(requested, openai_base, "--provider")
    if base_url:
        return ProviderChoice("openai", base_url, "--base-url (an OpenAI-compatible server)")
    if env_base:
        return ProviderChoice("openai", env_base, "OPENAI_BASE_URL (an OpenAI-compatible server)")
    if env.get("ANTHROPIC_API_KEY"):
        return ProviderChoice("anthropic", None, "ANTHROPIC_API_KEY is set")
    if env.get("OPENAI_API_KEY"):
        return ProviderChoice("openai", None, "OPENAI_API_KEY is set")
    return ProviderChoice("offline", None, "no API key is set")


# -- rais serve ------------------------------------------------------------------------


def add_serve_command(commands: Commands) -> None:
    parser = commands.add_parser(
        "serve",
        help="run a RAIS chat server with a built-in chat page",
        description=(
            "Serve a RAIS v1 endpoint at /api/chat and a chat page at /,\n"
            "with CORS open for local development."
        ),
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="where answers come from (default: picked from the environment, see below)",
    )
    model.add_argument(
        "--model",
        metavar="NAME",
        help="model name (default: gpt-4o-mini for openai, claude-sonnet-4-6 for anthropic)",
    )
    model.add_argument(
        "--system", metavar="PROMPT", help="system prompt put before every conversation"
    )
    model.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible server to call (default: $OPENAI_BASE_URL)",
    )
    model.add_argument(
        "--protocol",
        choices=("auto", "rais", "ai-sdk", "ag-ui"),
        default="auto",
        help="the chat UI's wire protocol; auto answers RAIS v1 (useAIChat), the AI SDK's "
        "useChat and AG-UI clients, each by its request (default: %(default)s)",
    )
    model.add_argument(
        "--resume",
        metavar="STORE",
        help="resumable streams: memory:// or a redis:// URL (default: off)",
    )
    http = parser.add_argument_group("server")
    http.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    http.add_argument("--port", type=int, default=8000, help="port to bind (default: %(default)s)")
    http.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        help="origin allowed to call the endpoint from a browser; repeat or comma-separate "
        "(default: * — any origin, for local development)",
    )
    http.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes (default: %(default)s)",
    )
    http.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="log level (default: %(default)s)",
    )
    http.add_argument(
        "--access-log",
        action="store_true",
        help="also log every HTTP request (the per-stream line is always logged at info)",
    )
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"rais serve needs {' and '.join(missing)}: pip install 'rais[serve]'",
            file=sys.stderr,
        )
        return 1
    import uvicorn

    from .server import SETTINGS_VARIABLE, ServeSettings

    choice = choose_provider(args.provider, args.base_url)
    origins = tuple(
        origin.strip()
        for value in (args.allow_origin or ["*"])
        for origin in value.split(",")
        if origin.strip()
    ) or ("*",)
    settings = ServeSettings(
        provider=choice.provider,
        model=args.model,
        system=args.system,
        base_url=choice.base_url,
        allow_origins=origins,
        protocol=args.protocol,
        resume=args.resume,
    )
    print_banner(settings, choice, host=args.host, port=args.port, workers=args.workers)
    # Workers are separate processes that import the app by name: hand them the settings.
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    uvicorn.run(
        "rais.server:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=log_config(args.log_level),
        log_level=args.log_level,
        access_log=args.access_log,
        # An open stream would otherwise hold Ctrl+C until the answer ends.
        timeout_graceful_shutdown=3,
    )
    return 0


def print_banner(
    settings: ServeSettings,
    choice: ProviderChoice,
    *,
    host: str,
    port: int,
    workers: int,
    out: TextIO | None = None,
) -> None:
    """Say what is served where, and loudly when it is the offline demo."""
    out = out or sys.stderr
    shown_host = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown_host = "127.0.0.1"
    base = f"http://{shown_host}:{port}"
    model = settings.model or DEFAULT_MODELS.get(settings.provider, "")
    lines = [
        f"rais {__version__} — RAIS v1 chat server",
        f"  chat page   {base}/",
        f"  endpoint    POST {base}{settings.path}",
        f"  provider    {settings.provider} ({choice.reason})",
    ]
    if settings.provider != "offline":
        lines.append(f"  model       {model}")
    if settings.base_url:
        lines.append(f"  base URL    {_without_credentials(settings.base_url)}")
    if settings.system:
        lines.append(f"  system      {len(settings.system)} characters")
    origins = ", ".join(settings.allow_origins)
    lines.append(f"  CORS        {'* (any origin)' if origins == '*' else origins}")
    if workers > 1:
        lines.append(f"  workers     {workers}")
    if settings.provider == "offline":
        lines += [
            "",
            "  OFFLINE DEMO: no API key found, so answers are canned text from rais's",
            "  offline provider. Set OPENAI_API_KEY or ANTHROPIC_API_KEY (or OPENAI_BASE_URL",
            "  for a local OpenAI-compatible server) to stream from a real model.",
        ]
    elif settings.provider in ("openai", "anthropic") and not importlib.util.find_spec(
        settings.provider
    ):
        lines += [
            "",
            f"  WARNING: the {settings.provider} package is not installed; every chat will "
            f"fail. pip install 'rais[{settings.provider}]'",
        ]
    print("\n".join(lines) + "\n", file=out, flush=True)


def log_config(level: str) -> dict[str, Any]:
    """Uvicorn's logging, plus the ``rais`` loggers (one ``rais.access`` line per stream)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["rais"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _without_credentials(url: str) -> str:
    """A URL fit to print: any ``user:password@`` is dropped."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


# -- the command line ------------------------------------------------------------------

#: Functions that each add one subcommand (its parser sets ``run``). Add new ones here.
COMMANDS: list[Callable[[Commands], None]] = [add_serve_command, add_check_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rais",
        description="Stream LLM answers to browser chat UIs over the RAIS v1 protocol.",
        epilog="Run 'rais COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"rais {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rais`` script and ``python -m rais``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
