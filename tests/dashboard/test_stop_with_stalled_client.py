"""A page that stops reading (a tablet asleep with its connection half open) must not hold
``plantar serve`` when it is told to stop: SIGTERM ends it and the recording is finalised.

The stalled client is a raw TCP socket that completes the WebSocket handshake on
``/ws/live`` and then never reads, so the server's send buffer fills and its sends wait.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

from dashboard.latency import stalled_websocket
from tests.dashboard.serve_process import start_serve

STOP_TIMEOUT_S = 90.0  # generous for a busy machine; without the fix it never exits


def _start(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    sims = ["--left", "sim://?foot=left", "--right", "sim://?foot=right"]
    return start_serve(tmp, ["--port", "0", "--record", *sims])


def _send_queue_bytes(client_port: int) -> int:
    """Unsent bytes in the server's socket to our client (tx_queue of /proc/net/tcp)."""
    queued = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == client_port:
                    queued = max(queued, int(fields[4].split(":")[0], 16))
    return queued


def _server_sends_stalled(client_port: int, timeout_s: float) -> bool:
    """True once the server's send queue to our client is full: non-empty and unchanged
    over three looks a second apart (the kernel buffer is full, the server's sends wait)."""
    t_end = time.monotonic() + timeout_s
    seen: list[int] = []
    while time.monotonic() < t_end:
        seen = [*seen[-2:], _send_queue_bytes(client_port)]
        if len(seen) == 3 and seen[0] > 0 and len(set(seen)) == 1:
            return True
        time.sleep(1.0)
    return False


def test_sigterm_ends_serve_with_a_client_that_stopped_reading(tmp_path: Path) -> None:
    proc, url = _start(tmp_path)
    stalled = None
    try:
        port = int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        stalled, answer = stalled_websocket(port, "/ws/live", offer_deflate=True)
        # the display messages go uncompressed (quantised already): deflate is declined
        assert b"permessage-deflate" not in answer.lower(), answer
        client_port = stalled.getsockname()[1]
        assert _server_sends_stalled(client_port, 120.0), "the send queue never filled"
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=STOP_TIMEOUT_S)
        stop_s = time.monotonic() - t_stop
        assert proc.returncode == 0
        # the cut page is said as what it is, not as uvicorn's ERROR
        stderr = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
        assert "closed the page connections still open 5 s after the stop" in stderr, stderr
        assert "timeout graceful shutdown exceeded" not in stderr, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if stalled is not None:
            stalled.close()
    sessions = [p for p in (tmp_path / "home" / "sessions").iterdir() if p.is_dir()]
    assert len(sessions) == 1
    summary = json.loads((sessions[0] / "session.json").read_text())
    assert summary["status"] == "finalised"
    assert summary["summary"]["complete"] is True
    assert (sessions[0] / "left.parquet").exists() and (sessions[0] / "right.parquet").exists()
    print(f"serve stopped {stop_s:.1f} s after SIGTERM")
