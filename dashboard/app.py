"""The FastAPI application: live page, its two websockets, recording control, sessions.

Routes (``/docs`` has the OpenAPI description):

* ``GET /`` the live page; ``/static/*`` its JS and CSS (shipped in the package).
* ``GET /api/health``, ``GET /api/layout`` (foot geometry for drawing), ``GET /api/status``.
* ``GET /api/session``, ``PUT /api/session``: the one session state (athlete, shoe, sock,
  speed, incline, notes), shared by every page (each change goes out on ``/ws/events``);
  ``POST /api/recording/start``, ``POST /api/recording/stop`` act on it;
  ``POST /api/marker`` stamps the runner's "hot spot felt now" into the recording.
* ``GET /api/sessions``, ``GET /api/sessions/{id}``, ``GET /api/sessions/{id}/files``,
  ``GET /api/sessions/{id}/files/{name}``: recorded sessions, read-only. Ids and file
  names are checked against a strict pattern and must resolve inside the sessions
  directory (no path traversal, no hidden files, no symlinks out).
* ``WS /ws/live`` binary display messages (:mod:`live.display_wire`), ``WS /ws/events``
  JSON events (steps, alerts, gauges, links, recording; ``{"type": "ping"}`` → pong).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from base.version import __version__
from dashboard.security import OriginGuard, TokenMiddleware
from live.control import ControlError, SessionControl
from live.hub import LiveHub

STATIC_DIR = Path(__file__).resolve().parent / "static"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
_NAME_RE = re.compile(NAME_PATTERN)
FILE_SUFFIXES = (".parquet", ".json", ".jsonl", ".arrows", ".csv")


class SessionMetaIn(BaseModel):
    """Conditions of the session, entered on the page (all optional)."""

    athlete: str | None = Field(None, max_length=100)
    shoe: str | None = Field(None, max_length=100)
    sock: str | None = Field(None, max_length=100)
    treadmill_speed_kmh: float | None = Field(None, ge=0.0, le=40.0)
    treadmill_incline_pct: float | None = Field(None, ge=-10.0, le=40.0)
    notes: str | None = Field(None, max_length=2000)

    def given(self) -> dict[str, Any]:
        """Only the fields the request set."""
        return self.model_dump(exclude_unset=True)


#: What the marker button and the space key stamp into the recording.
DEFAULT_MARKER_LABEL = "hot spot felt now"


class MarkerIn(BaseModel):
    """A runner's marker: what they felt, now."""

    label: str = Field(DEFAULT_MARKER_LABEL, min_length=1, max_length=200)


def _check_name(value: str, what: str) -> str:
    if not _NAME_RE.fullmatch(value) or ".." in value:
        raise HTTPException(404, f"no such {what}")
    return value


def _inside(root: Path, *parts: str) -> Path:
    """``root/parts`` resolved; 404 unless it stays inside ``root``."""
    base = root.resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base) or target == base:
        raise HTTPException(404, "not found")
    return target


def create_app(
    hub: LiveHub,
    control: SessionControl | None = None,
    *,
    token: str | None = None,
    sessions_root: Path | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> FastAPI:
    """Build the dashboard application.

    Parameters
    ----------
    hub : the live hub (its display loop runs on the server's event loop).
    control : the live pipeline; None when no insoles are connected (review only).
    token : access token; when set every route requires it (LAN mode).
    sessions_root : sessions directory (default :func:`base.paths.sessions_dir`).
    allowed_hosts : host names the dashboard answers to besides IP addresses, localhost
        and this machine's name (:class:`~dashboard.security.OriginGuard`).
    """

    def root() -> Path:
        if sessions_root is not None:
            return sessions_root
        from base import paths

        return paths.sessions_dir()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="Plantar dashboard",
        version=__version__,
        description="Live plantar pressure and shear of both feet; recording control.",
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from dashboard.review_routes import make_review_router

    app.include_router(make_review_router(sessions_root))
    from dashboard.pairing_routes import register_pairing_routes  # /pair: issue 17

    register_pairing_routes(app)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        """Liveness and version."""
        return {"ok": True, "version": __version__, "live": control is not None}

    @app.get("/api/layout")
    async def layout() -> dict[str, Any]:
        """Geometry of both feet for drawing: outline, grid, shear sites, colour scale."""
        return hub.geometry()

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        """Links, metrics, gauges, alerts, recording state and client counters."""
        return hub.status()

    def _control() -> SessionControl:
        if control is None:
            raise HTTPException(
                409, "no live insoles: start plantar demo, or plantar serve --left/--right"
            )
        return control

    async def _call(fn: Any, *args: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await run_in_threadpool(fn, *args)
        except ControlError as err:
            raise HTTPException(409, str(err)) from None
        return result

    @app.get("/api/session")
    async def session_info() -> dict[str, Any]:
        """The live session's conditions and recording state."""
        return await _call(_control().session_info)

    @app.put("/api/session")
    async def update_session(meta: SessionMetaIn) -> dict[str, Any]:
        """Set shoe / sock / speed ... for the session being or about to be recorded."""
        return await _call(_control().update_meta, meta.given())

    @app.post("/api/recording/start")
    async def start_recording(meta: SessionMetaIn | None = None) -> dict[str, Any]:
        """Start recording both insoles (409 when already recording)."""
        return await _call(_control().start_recording, meta.given() if meta else {})

    @app.post("/api/recording/stop")
    async def stop_recording() -> dict[str, Any]:
        """Stop and finalise the recording (409 when not recording)."""
        return await _call(_control().stop_recording)

    @app.post("/api/marker")
    async def add_marker(marker: MarkerIn | None = None) -> dict[str, Any]:
        """Stamp a marker into the recording (409 when not recording)."""
        label = marker.label if marker else DEFAULT_MARKER_LABEL
        return await _call(_control().add_marker, label)

    @app.get("/api/sessions")
    async def sessions() -> list[dict[str, Any]]:
        """Recorded sessions, oldest first (from each session's ``session.json``)."""
        from store.session import list_session_dirs, read_session_json

        def load() -> list[dict[str, Any]]:
            out = []
            for d in list_session_dirs(root()):
                try:
                    data = read_session_json(d)
                except (OSError, ValueError):
                    continue
                meta = data.get("meta") or {}
                out.append(
                    {
                        "id": d.name,
                        "status": data.get("status"),
                        "athlete": meta.get("athlete"),
                        "shoe": meta.get("shoe"),
                        "sock": meta.get("sock"),
                        "treadmill_speed_kmh": meta.get("treadmill_speed_kmh"),
                        "started_at": meta.get("started_at"),
                    }
                )
            return out

        return await run_in_threadpool(load)

    SessionId = PathParam(..., pattern=NAME_PATTERN, max_length=100)
    FileName = PathParam(..., pattern=NAME_PATTERN, max_length=100)

    def _session_dir(session_id: str) -> Path:
        directory = _inside(root(), _check_name(session_id, "session"))
        if not (directory / "session.json").is_file():
            raise HTTPException(404, "no such session")
        return directory

    @app.get("/api/sessions/{session_id}")
    async def session_detail(session_id: str = SessionId) -> dict[str, Any]:
        """``session.json`` of one session."""
        directory = _session_dir(session_id)
        try:
            data: dict[str, Any] = json.loads((directory / "session.json").read_text("utf-8"))
        except (OSError, ValueError):
            raise HTTPException(404, "session unreadable") from None
        return data

    @app.get("/api/sessions/{session_id}/files")
    async def session_files(session_id: str = SessionId) -> list[dict[str, Any]]:
        """Downloadable files of one session."""
        directory = _session_dir(session_id)
        return [
            {"name": p.name, "bytes": p.stat().st_size}
            for p in sorted(directory.iterdir())
            if p.is_file()
            and not p.is_symlink()
            and _NAME_RE.fullmatch(p.name)
            and p.suffix in FILE_SUFFIXES
        ]

    @app.get("/api/sessions/{session_id}/files/{name}", response_class=FileResponse)
    async def session_file(session_id: str = SessionId, name: str = FileName) -> FileResponse:
        """One file of a session (Parquet, JSON, Arrow streams, CSV)."""
        directory = _session_dir(session_id)
        _check_name(name, "file")
        path = directory / name
        if path.is_symlink() or not path.is_file() or path.suffix not in FILE_SUFFIXES:
            raise HTTPException(404, "no such file")
        _inside(directory, name)
        return FileResponse(path, filename=name)

    @app.websocket("/ws/live")
    async def ws_live(ws: WebSocket) -> None:
        await ws.accept()
        client = hub.add_display_client()

        async def pump() -> None:
            while True:
                await ws.send_bytes(await client.take())

        try:
            await _until_closed(ws, pump(), None)
        finally:
            hub.remove_display_client(client)

    @app.websocket("/ws/events")
    async def ws_events(ws: WebSocket) -> None:
        await ws.accept()
        client = hub.add_event_client()

        async def pump() -> None:
            while True:
                while not client.queue and not client.overflowed:
                    client.ready.clear()
                    await client.ready.wait()
                if client.overflowed:
                    await ws.close(code=1013, reason="event queue overflow: reconnect")
                    return
                await ws.send_text(json.dumps(client.queue.popleft(), allow_nan=False))

        async def on_message(text: str) -> None:
            try:
                msg = json.loads(text)
            except ValueError:
                return
            if isinstance(msg, dict) and msg.get("type") == "ping":
                client.offer(
                    {
                        "type": "pong",
                        "t_client_ms": msg.get("t_client_ms"),
                        "t_server_ms": time.time() * 1000.0,
                    }
                )
            elif isinstance(msg, dict) and msg.get("type") == "latency":
                hub.note_client_latency(msg)

        try:
            await _until_closed(ws, pump(), on_message)
        finally:
            hub.remove_event_client(client)

    app.add_middleware(OriginGuard, extra_hosts=tuple(allowed_hosts))
    if token:  # added last, so it runs first: without the token nothing else is answered
        app.add_middleware(TokenMiddleware, token=token)
    return app


async def _until_closed(ws: WebSocket, pump: Any, on_message: Any) -> None:
    """Run ``pump`` until it ends or the client goes away (reading what it sends)."""

    async def reader() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if on_message is not None and message.get("text") is not None:
                await on_message(message["text"])

    tasks = [asyncio.create_task(pump), asyncio.create_task(reader())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
