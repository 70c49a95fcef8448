"""End-to-end measurements of the live path: latency, a stalled client, memory.

:func:`measure_live` runs the whole demo pipeline in this process (two simulated insoles
on pseudo-terminals, each in its own process → :class:`firmware_bridge.bridge.Bridge` →
recorder, analysis, hub → uvicorn on loopback) with a websocket client in a separate
process, and optionally clients that connect and then never read ("stalled"). It reports

* latency from *bridge receive* (arrival of the chunk that completed the newest frame in
  a display message, ``Chunk.t_host_ns``) to *websocket client receive*, per message;
* display messages per second at the reading client;
* the recording: frames handed to the recorder, written, refused (must be 0);
* this process's resident memory sampled once a second (it must stay flat).

``benchmarks/bench_latency.py`` is the command-line front end; ``plantar bench`` may call
:func:`measure_live` directly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

_CLIENT = r"""
import json, sys, time
from websockets.sync.client import connect
from live.display_wire import decode_display
url, duration = sys.argv[1], float(sys.argv[2])
lat, build, n, t_end = [], [], 0, time.monotonic() + duration
with connect(url, max_size=None, open_timeout=10) as ws:
    print("ready", flush=True)
    while time.monotonic() < t_end:
        try:
            data = ws.recv(timeout=max(t_end - time.monotonic(), 0.01))
        except TimeoutError:
            break
        now_ms = time.time() * 1000.0
        msg = decode_display(data)
        recv = [f["t_recv_ms"] for f in msg["feet"] if f["has_data"]]
        if recv:
            lat.append(now_ms - max(recv))
            build.append(msg["t_send_ms"] - max(recv))
        n += 1
print(json.dumps({"latency_ms": lat, "build_ms": build, "messages": n}), flush=True)
"""


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def stalled_websocket(
    port: int, path: str, offer_deflate: bool = False
) -> tuple[socket.socket, bytes]:
    """Open a websocket on loopback (handshake only) and never read from it again; returns
    the socket and the server's handshake answer. ``offer_deflate`` offers
    permessage-deflate, as browsers do."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills sooner
    sock.connect(("127.0.0.1", port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    deflate = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if offer_deflate else ""
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{deflate}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("stalled client: server closed during the handshake")
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(f"stalled client: handshake refused: {head[:80]!r}")
    return sock, head


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    a = np.asarray(values)
    return {
        "n": int(a.size),
        "p50": round(float(np.percentile(a, 50)), 2),
        "p95": round(float(np.percentile(a, 95)), 2),
        "p99": round(float(np.percentile(a, 99)), 2),
        "max": round(float(a.max()), 2),
    }


def measure_live(
    duration_s: float = 20.0,
    *,
    rate_hz: float = 200.0,
    stalled_clients: int = 0,
    record: bool = True,
    warmup_s: float = 6.0,
    sessions_root: Path | None = None,
) -> dict[str, Any]:
    """Run the live pipeline for ``warmup_s + duration_s`` and measure it.

    Parameters
    ----------
    duration_s : measured time (s), after ``warmup_s`` (start-up, and the first ~5 s of
        provisional clock times while the clock models settle).
    rate_hz : sampling rate of each simulated insole (Hz).
    stalled_clients : websocket clients (display and event channel each) that connect and
        never read.
    record : record the session (to ``sessions_root`` or a temporary directory).
    """
    from dashboard.server import live_runtime
    from hardware.sim.pty_process import spawn_pair
    from live.runtime import RuntimeOptions

    tmp = tempfile.TemporaryDirectory(prefix="plantar-bench-")
    if sessions_root is None:
        sessions_root = Path(tmp.name) / "sessions"
    links = {f: Path(tmp.name) / f"plantar-{f}" for f in ("left", "right")}
    urls = {foot: f"serial://{link}" for foot, link in links.items()}
    options = RuntimeOptions(port=0, sessions_root=sessions_root)
    runtime = live_runtime(options, urls=urls, meta={"source": "benchmark"})  # numba warm-up
    # then each insole in its own process, as real insoles are their own devices (their
    # pacing shares no GIL with the measured process); started after the warm-up, so that
    # they do not stream into a buffer nobody reads
    total_s = warmup_s + duration_s + 60.0
    devices = spawn_pair(
        Path(tmp.name), rate_hz=rate_hz, seed=7, pregenerate_s=total_s if total_s <= 180 else 0
    ).values()
    server = threading.Thread(target=runtime.serve, name="plantar-bench-server", daemon=True)
    stalled: list[socket.socket] = []
    client = None
    rss: list[float] = []
    try:
        runtime.start(record=record)
        server.start()
        port = runtime.server.port
        _wait_listening(port)
        time.sleep(warmup_s)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_repo()), *sys.path]))
        client = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, f"ws://127.0.0.1:{port}/ws/live", str(duration_s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert client.stdout is not None
        client.stdout.readline()  # "ready"
        for _ in range(stalled_clients):
            stalled.append(stalled_websocket(port, "/ws/live")[0])
            stalled.append(stalled_websocket(port, "/ws/events")[0])
        t_end = time.monotonic() + duration_s
        while time.monotonic() < t_end:
            rss.append(_rss_mb())
            time.sleep(1.0)
        out, err = client.communicate(timeout=30)
        if client.returncode != 0:
            raise RuntimeError(f"latency client failed: {err.strip()[-300:]}")
        result = json.loads(out.strip().splitlines()[-1])
        hub_status = runtime.hub.status()
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        for s in stalled:
            s.close()
        runtime.server.stop()
        server.join(timeout=120)  # the loop ends only after the bridge stopped (busy machines)
        runtime.close()
        for device in devices:
            assert device.stdin is not None
            device.stdin.close()
            device.wait(timeout=30)
    rec = runtime.final_recording or {}
    bridge_stats = runtime.bridge.stats() if runtime.bridge is not None else {}
    half = len(rss) // 2
    report = {
        "duration_s": duration_s,
        "rate_hz_per_insole": rate_hz,
        "stalled_clients": stalled_clients,
        "latency_ms": _percentiles(result["latency_ms"]),
        "bridge_receive_to_message_built_ms": _percentiles(result["build_ms"]),
        "display_messages_per_s": round(result["messages"] / duration_s, 1),
        "display_messages_built": hub_status["messages_built"],
        "display_messages_replaced": hub_status["display_replaced"],
        "display_clients_at_end": hub_status["display_clients"],
        "recording": {
            "session_id": rec.get("session_id"),
            "frames_written": rec.get("frames_written"),
            "frames_dropped_by_recorder": rec.get("frames_dropped"),
            "frames_lost_on_link": rec.get("frames_lost_link"),
        },
        "bridge_frames": {f: s["frames"] for f, s in bridge_stats.items()},
        "rss_mb": {
            "first": round(rss[0], 1) if rss else None,
            "last": round(rss[-1], 1) if rss else None,
            "max": round(max(rss), 1) if rss else None,
            "growth_second_half": round(rss[-1] - rss[half], 2) if len(rss) > 2 else None,
        },
    }
    tmp.cleanup()
    return report


def _repo() -> Path:
    return Path(__file__).resolve().parents[1]


def _wait_listening(port: int, timeout_s: float = 10.0) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dashboard did not listen on port {port}")
