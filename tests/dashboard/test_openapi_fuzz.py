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


class _FakeControl:
    """Session control that accepts everything (the real one records to disk)."""

    def __init__(self) -> None:
        self.meta: dict = {}
        self.recording = False

    def start_recording(self, meta: dict) -> dict:
        from live.control import ControlError

        if self.recording:
            raise ControlError("already recording")
        self.meta.update(meta)
        self.recording = True
        return {"state": "recording"}

    def stop_recording(self) -> dict:
        from live.control import ControlError

        if not self.recording:
            raise ControlError("not recording")
        self.recording = False
        return {"state": "stopped"}

    def update_meta(self, meta: dict) -> dict:
        self.meta.update(meta)
        return {"meta": self.meta}

    def session_info(self) -> dict:
        return {
            "meta": self.meta,
            "recording": {"state": "recording" if self.recording else "idle"},
        }


def _build_app():
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="plantar-fuzz-")) / "sessions"
    sess = root / "20260101-120000-abcd"
    sess.mkdir(parents=True)
    (sess / "session.json").write_text(json.dumps({"id": sess.name, "status": "finalised"}))
    (sess / "left.parquet").write_bytes(b"x")
    layouts = {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}
    return create_app(LiveHub(layouts), _FakeControl(), sessions_root=root)


schema = schemathesis.openapi.from_asgi("/openapi.json", _build_app())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
