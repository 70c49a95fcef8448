"""``plantar run`` with no insoles configured (a fresh Pi): it serves the pairing page.

The real ``plantar run`` process; without a Bluetooth adapter here, a scan from the page
answers with the one-line "no Bluetooth adapter" advice instead of hanging or crashing,
and the service keeps running. (Pairing itself, press and save, over the virtual radio:
``tests/dashboard/test_pairing.py`` and ``test_browser_pairing.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.ops.test_run_waits_for_insoles import _free_port

REPO = Path(__file__).resolve().parents[2]


def _get(url: str, data: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            body = res.read()
            return res.status, json.loads(body) if "json" in res.headers["content-type"] else body
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_run_without_insoles_serves_the_pairing_page(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "plantar.toml"
    config.write_text(f'# a fresh Pi\n[dashboard]\nhost = "127.0.0.1"\nport = {port}\n')
    env = dict(os.environ, PLANTAR_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"  # no BlueZ, for sure
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "run", "--config", str(config),
         "--duration", "300", "--log-format", "logfmt"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(f"{base}/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "run did not serve"
            time.sleep(0.2)
        code, page = _get(f"{base}/pair")
        assert code == 200 and b"Scan for insoles" in page
        code, state = _get(f"{base}/api/pairing")
        assert code == 200 and state["state"] == "idle" and state["radio"] == "bluez"
        code, status = _get(f"{base}/api/status")
        assert status["recording"].get("waiting") is True  # nothing to record yet
        code, err = _get(f"{base}/api/pairing/scan", b"{}")
        assert code == 409 and "no Bluetooth adapter found" in err["detail"]
        assert "\n" not in err["detail"]
        assert _get(f"{base}/api/health")[0] == 200  # still serving
        proc.send_signal(signal.SIGTERM)
        _out, log = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log
    assert f"no insoles configured: pair them at {base}/pair" in log
    assert config.read_text().startswith("# a fresh Pi")  # nothing saved without a pair
