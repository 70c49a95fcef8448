"""Structured logs (journald native protocol, logfmt) and ``plantar doctor``'s checks."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
from pathlib import Path

import pytest

from plantar import doctor_command as doctor
from plantar.cli import main
from plantar.run_command import insole_urls
from plantar.service_logging import (
    JournalHandler,
    LogfmtFormatter,
    encode_journal,
    under_journald,
)

DATA = Path(__file__).resolve().parent / "data"


# --- logging -----------------------------------------------------------------------------


def _parse_journal(datagram: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    i = 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            fields[key.decode()] = value.decode()
            i = nl + 1
        else:  # binary-safe form: KEY\n<u64 length><data>\n
            (n,) = struct.unpack("<Q", datagram[nl + 1 : nl + 9])
            fields[line.decode()] = datagram[nl + 9 : nl + 9 + n].decode()
            i = nl + 9 + n + 1
    return fields


def test_journal_encoding_handles_newlines() -> None:
    data = encode_journal([("MESSAGE", "two\nlines"), ("PRIORITY", "6")])
    assert _parse_journal(data) == {"MESSAGE": "two\nlines", "PRIORITY": "6"}


def test_journal_handler_sends_structured_fields(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    handler = JournalHandler(path)
    logger = logging.getLogger("plantar.test.journal")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "recovered session %s", "X", extra={"fields": {"session_id": "X", "lost_at_end_s": 0.4}}
        )
        fields = _parse_journal(server.recv(65536))
    finally:
        logger.removeHandler(handler)
        handler.close()
        server.close()
    assert fields["MESSAGE"] == "recovered session X"
    assert fields["PRIORITY"] == "4"
    assert fields["SYSLOG_IDENTIFIER"] == "plantar"
    assert fields["PLANTAR_SESSION_ID"] == "X"
    assert fields["PLANTAR_LOST_AT_END_S"] == "0.4"


def test_logfmt_line_is_one_line_of_pairs() -> None:
    record = logging.LogRecord("plantar.run", logging.INFO, __file__, 1, 'say "hi"\n', (), None)
    record.fields = {"session_id": "a b", "frames": 3}
    line = LogfmtFormatter(with_time=False).format(record)
    assert line == (r'level=info logger=plantar.run msg="say \"hi\"\n" session_id="a b" frames=3')


def test_under_journald_needs_matching_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    st = os.fstat(sys.stderr.fileno())
    assert under_journald({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert not under_journald({"JOURNAL_STREAM": "1:2"})
    assert not under_journald({})


def test_sim_urls_get_their_foot() -> None:
    from plantar.config import load_config

    urls = insole_urls(load_config(DATA / "sim.toml", env={}))
    assert urls["left"] == "sim://?seed=1&rate=200&foot=left&layout=plantar-ref"
    assert urls["right"].endswith("&foot=right&layout=plantar-ref")


# --- doctor ------------------------------------------------------------------------------


def test_python_check_fails_clearly_on_32_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.struct, "calcsize", lambda fmt: 4)
    monkeypatch.setattr(doctor.platform, "machine", lambda: "armv7l")
    check = doctor.check_python()
    assert check.status == doctor.FAIL
    assert "32-bit" in check.detail and "armv7l" in check.detail and "numba" in check.detail
    assert "64-bit" in check.fix


def test_python_check_spots_32_bit_userland_on_64_bit_kernel(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(doctor.struct, "calcsize", lambda fmt: 4)
    monkeypatch.setattr(doctor.platform, "machine", lambda: "aarch64")
    check = doctor.check_python()
    assert check.status == doctor.FAIL and "32-bit user space" in check.detail


def test_python_check_passes_here() -> None:
    assert doctor.check_python().status == doctor.OK


def test_storage_hours_and_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plantar.config import config_from_dict

    cfg = config_from_dict(
        {
            "insoles": {"left": {"url": "sim://"}, "right": {"url": "sim://?seed=2"}},
            "storage": {"dir": str(tmp_path), "min_free_hours": 5.0},
        },
        env={},
    )
    per_hour, feet, _ = doctor.recording_rate(cfg)
    assert feet == 2 and 0.3e9 < per_hour < 3e9  # 2 x 200 Hz x 256 sensels, about 0.6 GB/h
    usage = doctor.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        doctor.shutil,
        "disk_usage",
        lambda p: usage._replace(free=int(per_hour * doctor.FINALISE_FACTOR * 2)),
    )
    check = doctor.check_storage(cfg)
    assert check.status == doctor.FAIL and "2.0 h of recording" in check.detail and check.fix


def test_bluetooth_missing_adapter_blocks(tmp_path: Path) -> None:
    from plantar.config import config_from_dict

    cfg = config_from_dict({"insoles": {"left": {"url": "Plantar-L"}}}, env={})
    (tmp_path / "class/bluetooth").mkdir(parents=True)
    (check,) = doctor.check_bluetooth(cfg, sys_root=tmp_path)
    assert check.status == doctor.FAIL and "no Bluetooth adapter" in check.detail
    assert "dongle" in check.fix


def test_serial_permission_problem_names_the_group(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from plantar.config import config_from_dict

    dev = tmp_path / "ttyACM0"
    dev.write_text("")
    cfg = config_from_dict({"insoles": {"left": {"url": f"serial://{dev}"}}}, env={})
    monkeypatch.setattr(doctor.os, "access", lambda p, mode: str(p) != str(dev))
    check = doctor.check_permissions(cfg)
    assert check.status == doctor.FAIL and "dialout" in check.fix


def test_doctor_json_with_sim_insoles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLANTAR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PLANTAR_DASHBOARD__PORT", str(_free_port()))
    code = main(["doctor", "--json", "--config", str(DATA / "sim.toml"), "--timeout", "10"])
    report = json.loads(capsys.readouterr().out)
    names = {c["name"]: c for c in report["checks"]}
    for required in (
        "python",
        "numba",
        "config",
        "storage",
        "numba cache",
        "permissions",
        "insole left",
        "insole right",
        "dashboard",
        "clock",
    ):
        assert required in names, required
    for c in report["checks"]:
        assert c["status"] in ("ok", "warn", "fail", "skip")
        assert c["status"] in ("ok", "skip") or c["fix"], c
    assert names["insole left"]["status"] == "ok", names["insole left"]
    assert report["ok"] == (code == 0) == (report["blocking"] == [])


def test_doctor_fails_on_a_broken_config(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.toml"
    path.write_text("[dashboard]\nport = 'x'\n")
    assert main(["doctor", "--no-probe", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  config" in out and "dashboard.port" in out and "block a recording" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_numba_cache_check_covers_what_warmup_compiles() -> None:
    """After ``plantar warmup`` doctor finds every kernel it compiled warm (it used to count
    a kernel of the old event detector that nothing warms, and warn on every install)."""
    from analysis.warmup import WARMED_KERNELS, warm_up
    from plantar.doctor_command import check_numba_cache

    assert warm_up() == list(WARMED_KERNELS)
    check = check_numba_cache()
    n = len(WARMED_KERNELS)
    assert check.status == "ok", check
    assert check.detail.startswith(f"{n}/{n} kernels compiled"), check.detail
