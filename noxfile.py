"""Sessions: lint, types, tests (core), the version matrix, conformance (one framework), bench.

Run ``nox -l`` to list them. The version matrix is what CI runs (scripts/test.sh):

    nox -s matrix                                  # the oldest pins on 3.10, the newest on 3.13
    nox -s "matrix(python='3.10', cell='oldest')"  # one cell: one venv, both test tiers once
    RAIS_MATRIX_FULL=1 nox -s matrix               # every cell on both Pythons

A cell is one venv holding the oldest (or newest) supported release of every framework at
once, so the suite runs once per venv instead of once per framework; a framework whose pins
cannot share that venv gets a cell of its own (see ``OWN_CELL``). For one framework alone:

    nox -s "conformance-3.12(framework='django', versions='oldest')"

``RAIS_FRAMEWORKS=django,flask nox -s matrix`` runs only those frameworks' part of each cell;
``RAIS_MATRIX_NEWEST=latest nox -s matrix`` drops the newest pins and takes whatever PyPI has,
to see whether FRAMEWORKS needs a bump.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "types", "tests-3.11", "matrix"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# What CI runs the matrix on: the oldest and newest supported Python (3.11 runs the full suite).
MATRIX_PYTHONS = ["3.10", "3.13"]

# The oldest and newest supported release of each framework and of the server its integration
# runs under in production, and (``needs``, unpinned) what else the integration app imports.
# Pins are release series (``==X.Y.*``); where the newest series has dropped an old Python, an
# environment marker gives that Python the last series that supports it. To add a framework
# (litestar, aiohttp, ...): one entry here, named as its ServerSpec's ``framework`` in
# tests/servers.py (the matrix refuses to run while a served framework has no entry).
FRAMEWORKS: dict[str, dict[str, list[str]]] = {
    "fastapi": {
        "oldest": ["fastapi==0.110.*", "uvicorn==0.29.*"],
        "newest": [
            "fastapi==0.165.*; python_version >= '3.11'",
            "fastapi==0.162.*; python_version < '3.11'",
            "uvicorn==0.54.*",
        ],
        "needs": [],
    },
    "starlette": {
        "oldest": ["starlette==0.37.*", "uvicorn==0.29.*"],
        "newest": [
            "starlette==1.10.*; python_version >= '3.11'",
            "starlette==1.7.*; python_version < '3.11'",
            "uvicorn==0.54.*",
        ],
        "needs": [],
    },
    "django": {
        "oldest": ["django==4.2.*", "uvicorn==0.29.*"],
        "newest": [
            "django==6.1.*; python_version >= '3.12'",
            "django==5.2.*; python_version < '3.12'",
            "uvicorn==0.54.*",
        ],
        "needs": ["gunicorn", "channels", "django-cors-headers"],
    },
    "flask": {
        "oldest": ["flask==2.3.*", "werkzeug==2.3.*"],
        "newest": ["flask==3.1.*", "werkzeug==3.1.*"],
        "needs": ["gunicorn", "flask-cors"],
    },
    "quart": {
        "oldest": ["quart==0.19.*", "hypercorn==0.16.*"],
        "newest": [
            "quart==0.23.*; python_version >= '3.13'",
            "quart==0.22.*; python_version >= '3.11' and python_version < '3.13'",
            "quart==0.20.*; python_version < '3.11'",
            "hypercorn==0.18.*",
        ],
        "needs": ["quart-cors"],
    },
    "litestar": {
        # 2.1 and 2.2 cannot start on Python 3.12+ (their logging queue_listener), 2.0 also
        # sends two Content-Types on a stream.
        # Its test client (the in-process tier) passes httpx's ``app=``, gone in httpx 0.28.
        "oldest": ["litestar==2.3.*", "uvicorn==0.29.*", "httpx==0.27.*"],
        "newest": ["litestar==2.25.*", "uvicorn==0.54.*"],
        "needs": [],
    },
    "aiohttp": {
        # 3.9 answers every request 500 with the yarl releases it allows (yarl>=1.13 rejects
        # the Host it builds).
        "oldest": ["aiohttp==3.10.*"],
        "newest": ["aiohttp==3.14.*"],
        "needs": ["gunicorn"],
    },
}
assert all(set(entry) == {"oldest", "newest", "needs"} for entry in FRAMEWORKS.values())

# Pins that cannot share a venv with the other frameworks' pins at the same end of the range.
OWN_CELL = {
    ("quart", "oldest"): "Quart 0.19 is built on Flask 3 / Werkzeug 3; the Flask cell pins 2.3",
}

# What the conformance suite itself needs, besides the frameworks (rais comes in editable).
SUITE = [
    "-e",
    ".[openai,anthropic,client,redis]",
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pytest-timeout>=2.3",
    "httpx>=0.27",
    "psutil>=5.9",
    "ag-ui-protocol>=0.1.10",  # the AG-UI events' official models (tests/inprocess/test_codecs)
]


def cells() -> dict[str, tuple[str, list[str]]]:
    """Cell name -> (oldest|newest, frameworks): 'oldest', 'oldest-quart', 'newest', ..."""
    result: dict[str, tuple[str, list[str]]] = {}
    for end in ("oldest", "newest"):
        shared = [name for name in FRAMEWORKS if (name, end) not in OWN_CELL]
        result[end] = (end, shared)
        for name in FRAMEWORKS:
            if (name, end) in OWN_CELL:
                result[f"{end}-{name}"] = (end, [name])
    return result


CELLS = cells()


def project(requirement: str) -> str:
    """``'fastapi==0.165.*; python_version >= "3.11"'`` -> ``'fastapi'``."""
    return requirement.split(";")[0].split("=")[0].strip()


def requirements(framework: str, end: str) -> list[str]:
    entry = FRAMEWORKS[framework]
    pinned = entry[end]
    if end == "newest" and os.environ.get("RAIS_MATRIX_NEWEST") == "latest":
        pinned = sorted({project(req) for req in pinned})
    return [*pinned, *entry["needs"]]


SHOW_VERSIONS = """
import sys, importlib.metadata as m
print("versions: Python", sys.version.split()[0], *(f"{p}=={m.version(p)}" for p in sys.argv[1:]))
"""


def floor_mismatches() -> list[str]:
    """Where pyproject's ``name>=X.Y`` floor of a framework extra is not the oldest pin here."""
    import tomllib  # the noxfile runs on 3.11+ (nox's own venv)

    root = Path(__file__).resolve().parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    oldest = {
        project(req): req.split("==")[1].removesuffix(".*")
        for entry in FRAMEWORKS.values()
        for req in entry["oldest"]
    }
    wrong = []
    for name in FRAMEWORKS:
        for req in extras.get(name, []):
            package, _, floor = req.partition(">=")
            if oldest.get(package) != floor:
                wrong.append(f"[{name}] {req} but the oldest pin is {oldest.get(package)}")
    return wrong


def run_conformance(session: nox.Session, frameworks: list[str], end: str) -> None:
    """One venv: the suite's needs plus every framework's pins in one resolve, then one run
    of the in-process tier and the conformance suite."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tests.servers import SERVERS  # what the suite boots, so nothing is left out

    unknown = sorted({spec.framework for spec in SERVERS} - set(FRAMEWORKS))
    if unknown and not os.environ.get("RAIS_FRAMEWORKS"):
        session.error(f"tests/servers.py serves {unknown}; add them to FRAMEWORKS in noxfile.py")
    if wrong := floor_mismatches():  # the oldest pins are what pyproject promises
        session.error("pyproject.toml and FRAMEWORKS disagree: " + "; ".join(wrong))
    wanted = [req for name in frameworks for req in requirements(name, end)]
    session.install(*SUITE, *wanted)
    pinned = [project(req) for name in frameworks for req in FRAMEWORKS[name][end]]
    session.run("python", "-c", SHOW_VERSIONS, *dict.fromkeys(pinned), silent=False)
    # Both tiers: the framework's own test client in-process, and its server over sockets.
    args = ["-p", "no:cacheprovider", "tests/inprocess", "tests/conformance"]
    if "fastapi" not in frameworks:  # the seed docs' examples are FastAPI apps
        args.append("--ignore=tests/conformance/test_seed.py")
    # The official JavaScript clients read every server once, in the 3.11 run; here the
    # same protocols are checked on the wire (tests/conformance/test_chat_uis.py).
    args.append("--ignore=tests/conformance/test_js_clients.py")
    # Lean cells: what depends on a framework's version (routes, flushing, disconnects) runs
    # here; the slow whole-answer and cross-process resume checks of the new protocols run
    # once, in the 3.11 suite.
    args += ["-k", "not test_whole_answer_with_heartbeats and not test_ai_sdk_resume_on_another"]
    env = {"RAIS_FRAMEWORKS": ",".join(frameworks)}
    session.run("pytest", "-q", *args, *session.posargs, env=env)


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


def matrix_cells() -> list[tuple[str, str]]:
    """(Python, cell) pairs: the oldest releases on the oldest Python and the newest on the
    newest (the ends users run together; CI time), or every pair with RAIS_MATRIX_FULL=1."""
    oldest, newest = MATRIX_PYTHONS[0], MATRIX_PYTHONS[-1]
    if os.environ.get("RAIS_MATRIX_FULL") == "1":
        return [(python, cell) for python in MATRIX_PYTHONS for cell in CELLS]
    return [(oldest if CELLS[cell][0] == "oldest" else newest, cell) for cell in CELLS]


@nox.session
@nox.parametrize(("python", "cell"), matrix_cells())
def matrix(session: nox.Session, cell: str) -> None:
    """The conformance suite once, in one venv with all of a cell's frameworks at one end."""
    end, frameworks = CELLS[cell]
    only = {name.strip() for name in os.environ.get("RAIS_FRAMEWORKS", "").split(",") if name}
    if only:  # RAIS_FRAMEWORKS=django,flask nox -s matrix: a part of each cell
        frameworks = [name for name in frameworks if name in only]
        if not frameworks:
            session.skip(f"RAIS_FRAMEWORKS={os.environ['RAIS_FRAMEWORKS']} leaves nothing here")
    run_conformance(session, frameworks, end)


@nox.session(python=PYTHONS)
@nox.parametrize("versions", ["oldest", "newest"])
@nox.parametrize("framework", list(FRAMEWORKS))
def conformance(session: nox.Session, framework: str, versions: str) -> None:
    """The conformance suite against one framework at one end of its supported range."""
    run_conformance(session, [framework], versions)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmarks (``-- --quick`` for a short run); see bench/README.md."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", *session.posargs)
