"""Every tier: the figures the tests measured, after the run (see tests/figures.py)."""

from __future__ import annotations

from typing import Any

from tests import figures


def pytest_terminal_summary(terminalreporter: Any) -> None:
    measured = figures.lines()
    if measured:
        terminalreporter.section("measured figures")
        for line in measured:
            terminalreporter.write_line(line)
