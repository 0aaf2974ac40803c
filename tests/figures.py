"""Figures the tests measure, printed after the run (pytest captures a passing test's
prints): ``tests/conftest.py`` prints them in the terminal summary."""

from __future__ import annotations

_LINES: list[str] = []


def report(line: str) -> None:
    """Print ``line`` in the run's "measured figures" section."""
    _LINES.append(line)


def lines() -> list[str]:
    return list(_LINES)
