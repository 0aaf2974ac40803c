"""``rais check`` (through its pytest fixture) against every integration: at least Recommended."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rais.check import Report
from tests.servers import RunningServer


def test_every_integration_passes_the_compliance_check(
    server: RunningServer, rais_check: Callable[..., Report]
) -> None:
    report = rais_check(
        server.url,
        prompt="[count:20][delay:0.05]",  # a 1 s answer: tokens visibly arrive spread out
        long_prompt="[count:1000][delay:0.02]",  # still going when the checker aborts
        timeout=10,
    )
    assert report.passed, report.table()
    assert report.level in ("Recommended", "Full"), report.table()
    skipped = [r.name for r in report.results if r.passed is None]
    assert not skipped, report.table()  # every check was judged, none waved through


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_every_integration_passes_the_ui_protocol_checks(
    server: RunningServer, rais_check: Callable[..., Report], protocol: str
) -> None:
    """``rais check --protocol`` on each integration's ``protocol="auto"`` endpoint."""
    report = rais_check(
        server.base_url + "/api/ui",
        prompt="[count:20][delay:0.05]",
        long_prompt="[count:1000][delay:0.02]",
        timeout=10,
        protocol=protocol,
    )
    assert report.passed, report.table()
    assert report.level in ("Recommended", "Full"), report.table()
    skipped = [r.name for r in report.results if r.passed is None]
    assert not skipped, report.table()
