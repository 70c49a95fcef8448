"""LAN mode needs the token everywhere; session and file endpoints refuse path traversal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from dashboard.server import resolve_token
from live.hub import LiveHub

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def session_tree(tmp_path: Path) -> Path:
    """A sessions root with one session, a secret file beside it and a symlink out."""
    root = tmp_path / "sessions"
    sess = root / "20260101-120000-abcd"
    sess.mkdir(parents=True)
    (sess / "session.json").write_text(json.dumps({"id": sess.name, "status": "finalised"}))
    (sess / "left.parquet").write_bytes(b"PAR1 not really")
    (sess / ".lock").write_text("")
    (tmp_path / "secret.json").write_text('{"secret": "outside"}')
    (sess / "escape.json").symlink_to(tmp_path / "secret.json")
    (root / "linked").symlink_to(tmp_path)
    return root


def _app(layouts, root: Path, token: str | None):
    # the ASGI test client calls itself "testserver": a host name the guard must be told of
    return create_app(
        LiveHub(layouts), None, token=token, sessions_root=root, allowed_hosts=("testserver",)
    )


def test_loopback_needs_no_token_and_lan_generates_one() -> None:
    assert resolve_token("127.0.0.1", None) is None
    assert resolve_token("::1", None) is None
    lan = resolve_token("0.0.0.0", None)
    assert lan and len(lan) >= 16
    assert resolve_token("0.0.0.0", None) != lan
    assert resolve_token("127.0.0.1", "given-token-1234") == "given-token-1234"


ROUTES = [
    "/",
    "/static/live.js",
    "/docs",
    "/openapi.json",
    "/api/health",
    "/api/layout",
    "/api/status",
    "/api/sessions",
    "/api/sessions/20260101-120000-abcd",
    "/api/sessions/20260101-120000-abcd/files/left.parquet",
]


def test_lan_mode_refuses_everything_without_the_token(layouts, session_tree) -> None:
    with TestClient(_app(layouts, session_tree, TOKEN)) as client:
        for route in ROUTES:
            assert client.get(route).status_code == 401, route
            assert client.get(route, params={"token": "wrong-token-123"}).status_code == 401
            assert client.get(route, headers={"Authorization": "Bearer nope"}).status_code == 401
            client.cookies.set("plantar_token", "nope")
            assert client.get(route).status_code == 401
            client.cookies.clear()
        assert client.post("/api/recording/start").status_code == 401
        assert client.put("/api/session", json={"shoe": "x"}).status_code == 401
        for ws_route in ("/ws/live", "/ws/events"):
            with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(ws_route):
                pass
            assert info.value.code == 1008


def test_lan_mode_with_the_token(layouts, session_tree) -> None:
    with TestClient(_app(layouts, session_tree, TOKEN)) as client:
        page = client.get("/", params={"token": TOKEN})
        assert page.status_code == 200 and 'id="btn-start"' in page.text  # the live page
        assert "plantar_token" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        # the cookie now lets the page's own requests and websockets in
        assert client.get("/api/layout").status_code == 200
        with client.websocket_connect("/ws/events") as ws:
            assert ws.receive_json()["type"] == "snapshot"
        client.cookies.clear()
        assert client.get("/api/layout").status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/sessions", headers=bearer).json()[0]["id"] == "20260101-120000-abcd"
        with client.websocket_connect(f"/ws/live?token={TOKEN}"):
            pass


def test_loopback_mode_is_open(layouts, session_tree) -> None:
    with TestClient(_app(layouts, session_tree, None)) as client:
        assert client.get("/api/health").json()["ok"] is True
        assert client.get("/static/live.js").status_code == 200
        geo = client.get("/api/layout").json()
        assert set(geo["feet"]) == {"left", "right"} and geo["kpa_max"] > 0
        # no live insoles: recording control is refused cleanly
        assert client.post("/api/recording/start", json={}).status_code == 409


TRAVERSALS = [
    "/api/sessions/..",
    "/api/sessions/..%2F..%2Fetc",
    "/api/sessions/%2e%2e",
    "/api/sessions/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/sessions/....%2F....%2F",
    "/api/sessions/linked",
    "/api/sessions/linked/files/secret.json",
    "/api/sessions/..%5C..%5Csecret.json",
    "/api/sessions/20260101-120000-abcd/files/..%2F..%2Fsecret.json",
    "/api/sessions/20260101-120000-abcd/files/%2e%2e%2f%2e%2e%2fsecret.json",
    "/api/sessions/20260101-120000-abcd/files/escape.json",
    "/api/sessions/20260101-120000-abcd/files/.lock",
    "/api/sessions/20260101-120000-abcd/files/session.json%00.parquet",
    "/api/sessions/20260101-120000-abcd/files/%2e%2e",
    "/api/sessions/20260101-120000-abcd/files/%2Fetc%2Fpasswd",
    "/api/sessions/20260101-120000-abcd/files/..%252F..%252Fsecret.json",
    "/api/sessions/20260101-120000-abcd/../../secret.json",
    "/static/..%2F..%2Fapp.py",
    "/static/../app.py",
]


@pytest.mark.parametrize("route", TRAVERSALS)
def test_path_traversal_is_refused(layouts, session_tree, route: str) -> None:
    with TestClient(_app(layouts, session_tree, None)) as client:
        r = client.get(route)
        assert r.status_code in (404, 422), (route, r.status_code)
        assert "outside" not in r.text and "root:" not in r.text and "import" not in r.text


def test_session_files_are_served(layouts, session_tree) -> None:
    with TestClient(_app(layouts, session_tree, None)) as client:
        files = client.get("/api/sessions/20260101-120000-abcd/files").json()
        assert {f["name"] for f in files} == {"left.parquet", "session.json"}
        r = client.get("/api/sessions/20260101-120000-abcd/files/left.parquet")
        assert r.status_code == 200 and r.content == b"PAR1 not really"
        assert client.get("/api/sessions/20260101-120000-abcd").json()["status"] == "finalised"
        assert client.get("/api/sessions/20260101-999999-ffff").status_code == 404


FOREIGN = {"host": "evil.example:8000"}


@pytest.mark.parametrize("token", [None, TOKEN])
def test_a_foreign_host_name_is_refused_everywhere(layouts, session_tree, token) -> None:
    """DNS rebinding: a page on evil.example whose name now points here sends that Host."""
    auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    with TestClient(_app(layouts, session_tree, token)) as client:
        for route in ROUTES:
            r = client.get(route, headers={**FOREIGN, **auth})
            assert r.status_code == (401 if token and not auth else 403), route
        for method, route in (("POST", "/api/recording/start"), ("PUT", "/api/session")):
            r = client.request(method, route, json={}, headers={**FOREIGN, **auth})
            assert r.status_code == 403
        for ws_route in ("/ws/live", "/ws/events"):
            with (
                pytest.raises(WebSocketDisconnect) as info,
                client.websocket_connect(ws_route, headers={**FOREIGN, **auth}),
            ):
                pass
            assert info.value.code == 1008
        # the machine's own names and IP literals are fine
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "192.168.1.20:8000"):
            assert client.get("/api/health", headers={"host": host, **auth}).status_code == 200


def _control_app(layouts, root: Path):
    from tests.dashboard.conftest import FakeControl

    control = FakeControl()
    app = create_app(LiveHub(layouts), control, sessions_root=root, allowed_hosts=("testserver",))
    return app, control


def test_writes_need_json_and_this_origin(layouts, session_tree) -> None:
    app, control = _control_app(layouts, session_tree)
    own = {"origin": "http://testserver"}
    with TestClient(app) as client:
        # an empty cross-site form POST (what any web page can send)
        form = {"content-type": "application/x-www-form-urlencoded"}
        for headers in (form, {**form, **own}, {}, {"content-type": "text/plain"}):
            assert client.post("/api/recording/stop", headers=headers).status_code == 415
        # another origin, or an opaque one, even with JSON
        for origin in ("http://evil.example", "http://testserver:9999", "null"):
            r = client.post("/api/recording/start", json={}, headers={"origin": origin})
            assert r.status_code == 403, origin
            with (
                pytest.raises(WebSocketDisconnect) as info,
                client.websocket_connect("/ws/events", headers={"origin": origin}),
            ):
                pass
            assert info.value.code == 1008
        r = client.post("/api/recording/start", json={}, headers={"sec-fetch-site": "cross-site"})
        assert r.status_code == 403
        assert control.calls == []
        # the page itself (same origin), and tools that send no Origin, get through
        assert client.post("/api/recording/start", json={}, headers=own).status_code == 200
        assert client.put("/api/session", json={"shoe": "a"}, headers=own).status_code == 200
        assert client.post("/api/recording/stop", json={}).status_code == 200
        with client.websocket_connect("/ws/events", headers=own) as ws:
            assert ws.receive_json()["type"] == "snapshot"
        assert control.calls == ["start", "update", "stop"]
