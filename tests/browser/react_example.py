"""Build examples/react-chat the way a user does (``npm ci && npm run build``), once per run."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REACT_EXAMPLE = ROOT / "examples" / "react-chat"


def run_npm(*args: str, timeout: float) -> None:
    npm = shutil.which("npm")
    if npm is None:  # CI installs node; only a machine without it skips
        pytest.skip("npm is not installed")
    result = subprocess.run(
        [npm, *args],
        cwd=REACT_EXAMPLE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


@functools.cache
def _build() -> Path:
    out = Path(tempfile.mkdtemp(prefix="rais-react-chat-"))
    run_npm("ci", "--no-audit", "--no-fund", timeout=300)
    run_npm("run", "build", "--", "--outDir", str(out), "--emptyOutDir", timeout=120)
    return out


def build_react_example() -> Path:
    """The built site's directory (index.html + assets/), built at most once per process."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    return _build()
