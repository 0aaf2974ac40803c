"""Run the RAIS compliance checks in your own test suite.

This module is also a pytest plugin (registered under the ``pytest11`` entry point,
so installing rais is enough) that provides the ``rais_check`` fixture::

    def test_my_endpoint_speaks_rais(live_server_url, rais_check):
        report = rais_check(live_server_url + "/api/chat")
        assert report.passed, report.table()
        assert report.level in ("Recommended", "Full")

The endpoint must be served over a real socket (uvicorn, gunicorn, Django's live
server, ...): buffering and disconnects only show up there. The checks are the
same ones ``rais check URL`` runs, from :mod:`rais.check` (needs httpx).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .check import Report

__all__ = ["assert_compliant", "rais_check"]


def rais_check(url: str, **options: Any) -> Report:
    """Run every check against ``url``; see :func:`rais.check.run_checks` for ``options``."""
    from .check import run_checks

    return run_checks(url, **options)


def assert_compliant(url: str, level: str = "recommended", **options: Any) -> Report:
    """Fail with the whole report table unless ``url`` reaches ``level``."""
    report = rais_check(url, require=level, **options)
    if not report.passed:
        raise AssertionError("RAIS compliance check failed\n" + report.table())
    return report


@pytest.fixture(name="rais_check")
def rais_check_fixture() -> Callable[..., Report]:
    """``rais_check(url, **options)`` returns a :class:`~rais.check.Report`."""
    return rais_check
