"""schemathesis against the dashboard's OpenAPI schema: no input gives a server error."""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from dashboard.app import create_app
from hardware.layout import load_layout
from live.hub import LiveHub
from tests.dashboard.conftest import FakeControl


def _build_app():
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="plantar-fuzz-")) / "sessions"
    sess = root / "20260101-120000-abcd"
    sess.mkdir(parents=True)
    (sess / "session.json").write_text(json.dumps({"id": sess.name, "status": "finalised"}))
    (sess / "left.parquet").write_bytes(b"x")
    layouts = {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}
    # the ASGI test client calls itself "testserver": a host name the guard must be told of
    return create_app(
        LiveHub(layouts), FakeControl(), sessions_root=root, allowed_hosts=("testserver",)
    )


schema = schemathesis.openapi.from_asgi("/openapi.json", _build_app())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
