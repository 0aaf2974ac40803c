"""No snippet may rot: every code block in README.md and docs/ is run, compiled or checked.

A fenced ``python`` block runs as it is, in a fresh interpreter, unless the line before it
says otherwise:

- ``<!-- docs-test: compile -->``: it is compiled, not run (it names your app, your users,
  your database); its ``rais`` imports, ``rais.X`` names and the keyword options given to
  the adapters must still exist.
- ``<!-- docs-test: fragment -->``: lines from a handler's body (``return``, ``await``,
  ``yield``): compiled as the body of an ``async def``, with the same name checks.

A block whose only line is ``--8<-- "path"`` (pymdownx.snippets) is a file the site
includes: it must exist, and a test must name it. A ``bash`` block's commands must name
real files, modules, entry points and app objects. Any other code block (``js``) may only
include files. Links to files of this repository must point at files that exist.
``mkdocs build --strict`` (scripts/test.sh) checks the site's own links and anchors.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REPO_URL = "https://github.com/rais-dev/rais/blob/main/"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]

MARKER = re.compile(r"<!--\s*docs-test:\s*(\w+)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`]*)$")
SNIPPET = re.compile(r'^--8<--\s+"(?P<path>[^"]+)"$')
MODES = {"run", "compile", "fragment"}

#: The adapters' factories and response helpers: their keyword arguments are the
#: endpoint's options (rais.EndpointOptions) or their own parameters.
FACTORIES = {
    "rais.fastapi": ["rais_router", "rais_response"],
    "rais.starlette": ["rais_endpoint", "rais_websocket_endpoint", "rais_response"],
    "rais.django": ["rais_view", "rais_websocket", "rais_response"],
    "rais.flask": ["rais_blueprint", "rais_response"],
    "rais.quart": ["rais_blueprint", "rais_response"],
    "rais.litestar": ["rais_router", "rais_response"],
    "rais.aiohttp": ["rais_app", "rais_response"],
}

#: Commands a bash block may start with beside the project's own (checked further).
KNOWN_COMMANDS = {"pip", "curl", "ollama", "cd", "npm", "node", "export"}
SERVERS = {"uvicorn", "gunicorn", "hypercorn"}


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    mode: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path, text: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown page, each with the mode its marker gives."""
    lines = (page.read_text() if text is None else text).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        lang = opening["info"].strip().split(" ")[0].strip("{}.").lower()
        previous = next((line for line in reversed(lines[:i]) if line.strip()), "")
        marked = MARKER.search(previous)
        mode = marked[1] if marked else "run"
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"{page}:{i + 1}: a code block is never closed")
        found.append(Block(page, i + 1, lang, mode, "\n".join(body) + "\n"))
        i = j + 1
    return found


def included(block: Block) -> list[str] | None:
    """The files a block includes with pymdownx.snippets, or None if it has code of its own."""
    lines = [line.strip() for line in block.code.splitlines() if line.strip()]
    matches = [SNIPPET.match(line) for line in lines]
    if lines and all(matches):
        return [m["path"] for m in matches if m]
    return None


# --- Checks: each returns the problems it found (an empty list when all is well).


def check_python(block: Block) -> list[str]:
    if block.mode not in MODES:
        return [f"{block.where}: unknown docs-test mode {block.mode!r} (one of {sorted(MODES)})"]
    source = block.code
    if block.mode == "fragment":
        source = "async def _fragment():\n" + textwrap.indent(source, "    ")
    try:
        tree = ast.parse(source, filename=block.where)
        compile(tree, block.where, "exec")
    except SyntaxError as exc:
        return [f"{block.where}: does not compile ({block.mode}): {exc}"]
    problems = check_names(block, tree)
    if block.mode == "run" and not problems:
        ran = subprocess.run(
            [sys.executable, "-c", block.code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ran.returncode != 0:
            problems.append(f"{block.where}: failed when run:\n{ran.stderr[-3000:]}")
    return problems


def option_names() -> set[str]:
    import rais

    names = set(rais.EndpointOptions.__annotations__)
    for module, functions in FACTORIES.items():
        loaded = importlib.import_module(module)
        for function in functions:
            names |= set(inspect.signature(getattr(loaded, function)).parameters)
    return names


def check_names(block: Block, tree: ast.AST) -> list[str]:
    """What a block takes from rais exists, and the adapters accept the options it gives."""
    import rais

    problems: list[str] = []
    factories = {name for functions in FACTORIES.values() for name in functions}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rais":
            module = importlib.import_module(node.module or "rais")
            for alias in node.names:
                if not hasattr(module, alias.name):
                    problems.append(f"{block.where}: {node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rais":
                    try:
                        importlib.import_module(alias.name)
                    except ImportError:
                        problems.append(f"{block.where}: no module {alias.name}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "rais"
            and not hasattr(rais, node.attr)
        ):
            problems.append(f"{block.where}: rais has no {node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in factories
        ):
            unknown = {k.arg for k in node.keywords if k.arg} - option_names()
            if unknown:
                problems.append(f"{block.where}: {node.func.id}() has no option {unknown}")
    return problems


def _tests_text() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))


def check_includes(block: Block, paths: list[str], tests_text: str) -> list[str]:
    problems = []
    for path in paths:
        file = ROOT / path
        if not file.is_file():
            problems.append(f"{block.where}: includes {path}, which does not exist")
            continue
        if not path.startswith(("examples/", "integrations/", "docs/deploy/")):
            problems.append(f"{block.where}: includes {path}: only examples/ and integrations/")
        # A file the tests run is named by them (by its path, or its name, or as a module).
        stem = file.stem if file.suffix == ".py" else file.name
        parts = Path(path).parts
        names = {path, file.name, stem, ".".join(Path(path).with_suffix("").parts)}
        if len(parts) > 2:
            names.add(parts[1])  # examples/react-chat/src/... is run as "react-chat"
        if not any(name in tests_text for name in names):
            problems.append(f"{block.where}: includes {path}, which no test names")
        if file.suffix == ".py":
            try:
                compile(file.read_text(), path, "exec")
            except SyntaxError as exc:
                problems.append(f"{path}: does not compile: {exc}")
    return problems


def check_bash(block: Block) -> list[str]:
    problems: list[str] = []
    text = block.code.replace("\\\n", " ")
    for number, raw in enumerate(text.splitlines()):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(f"{block.where}+{number}: cannot split {line!r}: {exc}")
            continue
        command: list[str] = []
        for word in [*words, "&&"]:
            if word in {"&&", "||", "|", ";", "&"} or word.endswith(("&", ";")):
                last = word.rstrip("&;")
                if last and word not in {"&&", "||", "|", ";", "&"}:
                    command.append(last)
                problems += check_command(block, command)
                command = []
            else:
                command.append(word)
    return problems


def check_command(block: Block, words: list[str]) -> list[str]:
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words = words[1:]  # VAR=value before the command
    if not words:
        return []
    where = f"{block.where} ({' '.join(words)[:60]})"
    problems = [
        f"{where}: {word} does not exist"
        for word in words
        if re.fullmatch(r"(examples|integrations|scripts|bench|docs|tests|src)/[\w./-]+", word)
        and not (ROOT / word).exists()
    ]
    program = Path(words[0]).name
    if words[0].startswith(("scripts/", "./")):
        return problems  # checked above as a path
    if program == "rais":
        if len(words) > 1 and words[1] not in {"serve", "check"} and not words[1].startswith("-"):
            problems.append(f"{where}: rais has no command {words[1]}")
    elif re.fullmatch(r"python(3(\.\d+)?)?", program):
        if "-m" in words:
            module = words[words.index("-m") + 1]
            if module not in {"venv", "pip"} and importlib.util.find_spec(module) is None:
                problems.append(f"{where}: no module {module}")
    elif program in SERVERS:
        problems += check_app_target(where, words)
    elif program not in KNOWN_COMMANDS and program != "mkdocs":
        problems.append(f"{where}: unknown command {program} (add it to KNOWN_COMMANDS)")
    return problems


def check_app_target(where: str, words: list[str]) -> list[str]:
    """``module:attr`` given to a server names a real module of this repository and a name
    it defines (a placeholder like ``myapp:app`` is left alone)."""
    problems = []
    for word in words[1:]:
        found = re.fullmatch(r"([A-Za-z_][\w.]*):([A-Za-z_]\w*)", word)
        if not found or found[1].split(".")[0] not in {"examples", "integrations", "bench"}:
            continue
        file = ROOT / (found[1].replace(".", "/") + ".py")
        package = ROOT / found[1].replace(".", "/") / "__init__.py"
        source = file if file.is_file() else package if package.is_file() else None
        if source is None:
            problems.append(f"{where}: no module {found[1]}")
        elif not re.search(rf"^(def |async def |class )?{found[2]}\b", source.read_text(), re.M):
            problems.append(f"{where}: {found[1]} defines no {found[2]}")
    return problems


def check_links(page: Path, text: str | None = None) -> list[str]:
    """Links into this repository, by GitHub URL anywhere and by relative path in the
    README (mkdocs checks the docs' relative links itself)."""
    text = page.read_text() if text is None else text
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(REPO_URL):
            path = ROOT / target.removeprefix(REPO_URL).split("#")[0]
        elif page == ROOT / "README.md" and not re.match(r"[a-z]+:", target):
            path = ROOT / target.split("#")[0]
        else:
            continue
        if not path.exists():
            problems.append(f"{page.relative_to(ROOT)}: a link to {target}, which does not exist")
    return problems


def check_page(page: Path, text: str | None = None) -> list[str]:
    problems = check_links(page, text)
    tests_text = _tests_text()
    for block in blocks_of(page, text):
        paths = included(block)
        if paths is not None:
            problems += check_includes(block, paths, tests_text)
        elif block.lang in {"python", "py"}:
            problems += check_python(block)
        elif block.lang in {"bash", "sh", "shell", "console"}:
            problems += check_bash(block)
        elif block.lang in {"", "text"}:
            pass  # a diagram or output, not code
        else:
            problems.append(f"{block.where}: a {block.lang} block must include a tested file")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_is_run_or_checked(page: Path) -> None:
    problems = check_page(page)
    assert not problems, "\n".join(problems)


def test_the_readme_starts_with_the_two_commands() -> None:
    """The first two code blocks install and run the server, and run the tests (.ci/run)."""
    first, second = blocks_of(ROOT / "README.md")[:2]
    assert "pip install -e '.[all]' && .venv/bin/rais serve" in first.code
    assert second.code.strip().splitlines()[-1] == "scripts/test.sh"
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert len((ROOT / "README.md").read_text().splitlines()) <= 210


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        assert f" {page.relative_to(DOCS)}" in nav, f"{page} is not in mkdocs.yml's nav"


# --- The checks fail where they should.

BROKEN = """
```python
import rais
print(rais.no_such_name)
```

<!-- docs-test: compile -->
```python
from rais.fastapi import rais_router, not_a_router
app.include_router(rais_router(provider="openai", no_such_option=1))
```

<!-- docs-test: fragment -->
```python
return await (
```

```python
raise SystemExit(3)
```

```python
--8<-- "examples/no_such_example.py"
```

```bash
python examples/no_such_app.py
uvicorn examples.fastapi_app:no_such_app
rais frobnicate
nosuchcommand --flag
```

```js
console.log("not from an example")
```

[a link](examples/gone.py)
"""


def test_the_checks_catch_rot() -> None:
    problems = "\n".join(check_page(ROOT / "README.md", BROKEN))
    for expected in [
        "rais has no no_such_name",
        "rais.fastapi has no not_a_router",
        "no option {'no_such_option'}",
        "does not compile (fragment)",
        "failed when run",
        "examples/no_such_example.py, which does not exist",
        "examples/no_such_app.py does not exist",
        "examples.fastapi_app defines no no_such_app",
        "rais has no command frobnicate",
        "unknown command nosuchcommand",
        "a js block must include a tested file",
        "a link to examples/gone.py",
    ]:
        assert expected in problems, f"{expected!r} not reported:\n{problems}"


def test_the_pytest_plugin_page_shows_the_test_the_plugin_tests_run() -> None:
    """tests/test_testing_plugin.py runs docs/pytest-plugin.md's user test word for word."""
    source = (ROOT / "tests" / "test_testing_plugin.py").read_text()
    found = re.search(r'README_TEST = """\n(.*?)"""', source, re.S)
    assert found, "README_TEST not found in tests/test_testing_plugin.py"
    page = (DOCS / "pytest-plugin.md").read_text()
    for line in found[1].strip().splitlines():
        assert line in page, f"{line!r} is not on docs/pytest-plugin.md"
