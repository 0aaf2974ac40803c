"""The docs' hand-written route and custom_generator.py's rais routes pass ``rais check``.

(The seed docs' verbatim ``StreamingResponse`` route stays as the docs show it; it sends
no ``Cache-Control`` header, so it is not held to any level.)
"""

from __future__ import annotations

import pytest

from rais.testing import rais_check
from tests.test_examples import example

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize(
    ("path", "level"), [("/api/rais", "recommended"), ("/api/view", "recommended")]
)
def test_custom_generator_routes_pass_rais_check(path: str, level: str) -> None:
    with example("custom_generator.py") as (base, _, _):
        report = rais_check(base + path, require=level)
        assert report.passed, report.table()
