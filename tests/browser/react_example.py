"""Build the Vite examples the way a user does (``npm ci && npm run build``), once per run."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_npm(*args: str, timeout: float, cwd: Path = EXAMPLES / "react-chat") -> None:
    npm = shutil.which("npm")
    if npm is None:  # CI installs node; only a machine without it skips
        pytest.skip("npm is not installed")
    result = subprocess.run(
        [npm, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


@functools.cache
def _build(name: str) -> Path:
    out = Path(tempfile.mkdtemp(prefix=f"rais-{name}-"))
    where = EXAMPLES / name
    run_npm("ci", "--no-audit", "--no-fund", timeout=300, cwd=where)
    run_npm("run", "build", "--", "--outDir", str(out), "--emptyOutDir", timeout=120, cwd=where)
    return out


def build_vite_example(name: str) -> Path:
    """examples/<name> built: the site's directory (index.html + assets/), once per process."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    return _build(name)


def build_react_example() -> Path:
    """examples/react-chat (``useRaisChat``, the RAIS v1 hook) built."""
    return build_vite_example("react-chat")
