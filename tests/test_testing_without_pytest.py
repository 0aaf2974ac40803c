"""``rais.testing`` outside pytest, where pytest is not even installed (issue 20.8).

The child interpreter gets a meta path finder that refuses ``pytest`` and ``_pytest``, as
in an environment without them; it imports ``rais.testing``, serves a Flask app with
``serve()`` and runs ``assert_compliant`` on it, as docs/pytest-plugin.md says it can.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import sys

    class NoPytest:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("pytest", "_pytest"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoPytest())
    try:
        import pytest  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the blocker let pytest in")

    import urllib.error
    import urllib.request

    from flask import Flask
    from flask_cors import CORS

    import rais.testing
    from rais.flask import rais_blueprint

    app = Flask(__name__)
    CORS(app)
    app.register_blueprint(rais_blueprint(provider="offline"))

    with rais.testing.serve(app) as server:
        assert (server.interface, server.server) == ("wsgi", "wsgiref"), server
        report = rais.testing.assert_compliant(server.url + "/api/chat")
        try:
            urllib.request.urlopen(server.url + "/nothing-here")
        except urllib.error.HTTPError as error:
            assert error.code == 404, error
    print("level:", report.level)
    print("fixtures:", hasattr(rais.testing, "rais_server_fixture"))
    print("pytest imported:", any(m.split(".")[0] in ("pytest", "_pytest") for m in sys.modules))
    """
)


def test_rais_testing_imports_and_serves_without_pytest() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "fixtures: False" in lines and "pytest imported: False" in lines, result.stdout
    assert any(line.startswith("level: ") for line in lines), result.stdout
