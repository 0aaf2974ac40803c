"""The old-code anchor: rais as it was at a git revision, served by the same bench apps.

``python -m bench`` measures rais's per-token (and burst) throughput against the code
before the protocol work (``bde0007`` by default, ``--anchor REF``) in the same run: the
revision's ``src/`` is extracted with ``git archive`` into a temporary directory (the
repository is only read: no worktree, no checkout), and a second server process of the
same bench app is started with that ``src`` first on ``PYTHONPATH``, ahead of the
editable install's path, so it imports the old ``rais``. :func:`imported_from` checks
that, with the same environment, before any number is taken.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.servers import PY, ROOT

#: The previous main: the code before the wire protocols (``protocol=``).
DEFAULT_REF = "bde0007"


@dataclass(frozen=True)
class OldTree:
    ref: str
    commit: str
    src: Path  #: the extracted ``src`` directory (holds ``rais/``)

    @property
    def env(self) -> dict[str, str]:
        """What a server needs to import this tree's rais (``start_server`` puts the
        repository root in front, which holds no ``rais`` package)."""
        return {"PYTHONPATH": str(self.src)}


@contextlib.contextmanager
def old_tree(ref: str = DEFAULT_REF) -> Iterator[OldTree]:
    """``ref``'s ``src/`` in a temporary directory, removed afterwards."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    where = Path(tempfile.mkdtemp(prefix=f"rais-anchor-{commit[:7]}-"))
    try:
        archive = where / "src.tar"
        with archive.open("wb") as out:
            subprocess.run(["git", "archive", commit, "src"], cwd=ROOT, stdout=out, check=True)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # 3.12, and 3.10.12+ / 3.11.4+
                tar.extractall(where, filter="data")
            else:  # pragma: no cover - our own repository's archive
                tar.extractall(where)
        archive.unlink()
        if not (where / "src" / "rais" / "__init__.py").is_file():
            raise RuntimeError(f"{ref} has no src/rais")
        yield OldTree(ref, commit, where / "src")
    finally:
        shutil.rmtree(where, ignore_errors=True)


def imported_from(env: Mapping[str, str]) -> str:
    """``rais.__file__`` in a fresh interpreter started as the bench starts its servers
    (``tests.servers.start_server``: same cwd, the repository root first on the path)."""
    merged = {**os.environ, **env}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), merged.get("PYTHONPATH")]))
    out = subprocess.run(
        [PY, "-c", "import rais; print(rais.__file__)"],
        cwd=ROOT,
        env=merged,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def check(tree: OldTree) -> str:
    """Fail unless a server started with ``tree.env`` imports the old tree's rais."""
    found = imported_from(tree.env)
    if not Path(found).resolve().is_relative_to(tree.src.resolve()):
        raise RuntimeError(f"the anchor's servers would import {found}, not {tree.src}")
    return found
