"""Errors a user can act on: one line on stderr, a non-zero exit code, no traceback.

(Permission denied on a real port is in test_serial.py; no Bluetooth adapter and BLE
insole not found are in the BLE tests.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import plantar.cli as cli
from base.errors import ConfigError, DeviceError


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys, *argv: str) -> tuple[int, list[str]]:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("firmware_bridge.commands",))
    code = cli.main(["stream", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def assert_one_line(code: int, err: list[str], exit_code: int, *words: str) -> None:
    assert code == exit_code, err
    assert len(err) == 1, err
    assert err[0].startswith("plantar: error: ")
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err[0]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ttyACM0", ("malformed",)),
        ("usb:///dev/x", ("unknown transport scheme", "serial")),
        ("serial://", ("names no port",)),
        ("serial:///dev/ttyACM0?bauds=9600", ("unknown parameter",)),
        ("sim://?foot=middle", ("foot",)),
        ("sim://?rate=fast", ("rate",)),
        ("replay://", ("names nothing to replay",)),
        ("replay:///x.plantar-bytes?speed=-1", ("speed",)),
    ],
)
def test_malformed_url(monkeypatch, capsys, url: str, words: tuple[str, ...]) -> None:
    code, err = run_cli(monkeypatch, capsys, url, "sim://?foot=right")
    assert_one_line(code, err, ConfigError.exit_code, *words)


def test_absent_port(monkeypatch, capsys, tmp_path: Path) -> None:
    code, err = run_cli(monkeypatch, capsys, f"serial://{tmp_path}/ttyACM7", "sim://?foot=right")
    assert_one_line(code, err, DeviceError.exit_code, "not found", "ttyACM7")


def test_busy_port(monkeypatch, capsys) -> None:
    import serial

    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = serial.Serial(path, exclusive=True)  # another program has the port
    try:
        code, err = run_cli(monkeypatch, capsys, f"serial://{path}", "sim://?foot=right")
    finally:
        holder.close()
        os.close(master)
        os.close(slave)
    assert_one_line(code, err, DeviceError.exit_code, "busy", "60-plantar.rules")


def test_insole_not_found_on_a_silent_port(monkeypatch, capsys) -> None:
    master, slave = os.openpty()
    try:
        url = f"serial://{os.ttyname(slave)}?info_timeout=0.3"
        code, err = run_cli(monkeypatch, capsys, url, "sim://?foot=right")
    finally:
        os.close(master)
        os.close(slave)
    assert_one_line(code, err, DeviceError.exit_code, "no Plantar insole answers")


def test_replay_file_not_found(monkeypatch, capsys, tmp_path: Path) -> None:
    code, err = run_cli(
        monkeypatch, capsys, f"replay://{tmp_path}/left.plantar-bytes", "sim://?foot=right"
    )
    assert_one_line(code, err, DeviceError.exit_code, "not found")


def test_replay_of_a_file_that_is_not_a_capture(monkeypatch, capsys, tmp_path: Path) -> None:
    junk = tmp_path / "left.plantar-bytes"
    junk.write_bytes(b"hello world")
    code, err = run_cli(monkeypatch, capsys, f"replay://{junk}", "sim://?foot=right")
    assert_one_line(code, err, ConfigError.exit_code, "not a Plantar byte capture")


def test_feet_swapped(monkeypatch, capsys) -> None:
    code, err = run_cli(monkeypatch, capsys, "sim://?foot=right", "sim://?foot=left")
    assert_one_line(code, err, DeviceError.exit_code, "swap")


def test_bad_duration(monkeypatch, capsys) -> None:
    code, err = run_cli(
        monkeypatch, capsys, "sim://?foot=left", "sim://?foot=right", "--duration", "0"
    )
    assert_one_line(code, err, ConfigError.exit_code, "--duration")


def test_stream_json_summary(monkeypatch, capsys) -> None:
    import json

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("firmware_bridge.commands",))
    code = cli.main(
        [
            "stream",
            "sim://?foot=left&loss=0",
            "sim://?foot=right&loss=0",
            "--duration",
            "1.5",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    for foot in ("left", "right"):
        assert out["feet"][foot]["state"] == "closed"
        assert out["feet"][foot]["lost_frames"] == 0
    assert out["duration_s"] == pytest.approx(1.5, abs=0.3)


def test_status_line_is_one_line() -> None:
    from firmware_bridge.commands import format_status
    from firmware_bridge.insole_stream import InsoleStats
    from firmware_bridge.transport import LinkState

    stats = {
        "left": InsoleStats("left", "sim://", LinkState.STREAMING, frames=990, lost_frames=10),
        "right": InsoleStats("right", "sim://", LinkState.RECONNECTING),
    }
    line = format_status(stats, 3725.0)
    assert "\n" not in line and "\r" not in line
    assert "L streaming" in line and "loss  1.00%" in line and "R reconnecting" in line
    assert line.endswith("01:02:05")
