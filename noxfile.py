"""Sessions: lint, types, tests (core), conformance (Python x framework versions), bench.

Run ``nox -l`` to list them; ``nox -s "conformance-3.12(framework='django', versions='oldest')"``
runs one cell of the matrix.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "types", "tests", "conformance"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# Oldest and newest supported release of each framework (with what it needs to run).
FRAMEWORK_VERSIONS = {
    "fastapi": {
        "oldest": ["fastapi==0.110.*", "uvicorn==0.29.*"],
        "newest": ["fastapi", "uvicorn"],
    },
    "starlette": {
        "oldest": ["starlette==0.37.*", "uvicorn==0.29.*"],
        "newest": ["starlette", "uvicorn"],
    },
    "django": {"oldest": ["django==4.2.*"], "newest": ["django"]},
    "flask": {
        "oldest": ["flask==2.3.*", "werkzeug==2.3.*", "flask-cors==4.*"],
        "newest": ["flask"],
    },
    "quart": {"oldest": ["quart==0.19.*", "hypercorn==0.16.*"], "newest": ["quart", "hypercorn"]},
}


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "integrations", "examples", "bench")
    session.run("ruff", "format", "--check", "src")


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The core's unit tests and provider tests against the fake upstreams."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "-q",
        "tests",
        "--ignore=tests/conformance",
        "--ignore=tests/browser",
        *session.posargs,
    )


@nox.session(python=PYTHONS)
@nox.parametrize("versions", ["oldest", "newest"])
@nox.parametrize("framework", list(FRAMEWORK_VERSIONS))
def conformance(session: nox.Session, framework: str, versions: str) -> None:
    """The shared conformance suite against one framework at one end of its supported range."""
    session.install("-e", ".[test]")
    session.install(*FRAMEWORK_VERSIONS[framework][versions])
    session.run("python", "-m", "pip", "freeze", silent=False)
    session.run(
        "pytest", "-q", "tests/conformance", env={"RAIS_FRAMEWORKS": framework}, *session.posargs
    )


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmarks (``-- --quick`` for a short run); see bench/README.md."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", *session.posargs)
