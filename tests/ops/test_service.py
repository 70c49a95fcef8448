"""The systemd unit and the udev rule: golden files, ``systemd-analyze verify``, udev parsing,
and ``plantar service install`` staged below a prefix.

The golden files (``data/*.golden``) are what a reviewer reads; the verifiers run where they
exist. ``udevadm verify`` only exists from systemd 254 on; Debian 12 has 252, so there the
rule is loaded by ``udevadm test`` in a private mount namespace (root only) with the rule as
the only file in /etc/udev/rules.d, and any complaint about it fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plantar.cli import main
from plantar.systemd_units import UnitSettings, render_udev_rule, render_unit

DATA = Path(__file__).resolve().parent / "data"
GOLDEN_SETTINGS = UnitSettings(
    exec_start="/opt/plantar/bin/plantar",
    user="pi",
    group="pi",
    supplementary_groups=("dialout", "bluetooth"),
)


def test_unit_matches_golden() -> None:
    assert render_unit(GOLDEN_SETTINGS) == (DATA / "plantar.service.golden").read_text()


def test_udev_rule_matches_golden() -> None:
    assert render_udev_rule() == (DATA / "60-plantar.rules.golden").read_text()


def test_unit_says_what_the_issue_asks() -> None:
    unit = render_unit(GOLDEN_SETTINGS)
    assert "ExecStart=/opt/plantar/bin/plantar run --config /etc/plantar/plantar.toml" in unit
    assert "Restart=on-failure" in unit
    assert "WantedBy=multi-user.target" in unit
    assert "Environment=NUMBA_CACHE_DIR=/var/cache/plantar/numba" in unit
    assert "CacheDirectory=plantar" in unit  # systemd makes it writable for User=


def test_udev_rule_keeps_modemmanager_off_and_grants_access() -> None:
    rule = render_udev_rule((("1209", "abcd"),))
    assert rule.count('ENV{ID_MM_DEVICE_IGNORE}="1"') == 4
    assert 'GROUP="dialout"' in rule and 'TAG+="uaccess"' in rule
    assert 'ATTRS{idVendor}=="1209", ATTRS{idProduct}=="abcd"' in rule


def _verifiable_unit(tmp_path: Path) -> Path:
    settings = UnitSettings(
        exec_start=f"{sys.executable} -m plantar.cli",
        user="root",
        group="root",
        supplementary_groups=(),
    )
    path = tmp_path / "plantar.service"
    path.write_text(render_unit(settings))
    return path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    path = _verifiable_unit(tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    complaints = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "plantar" in ln]
    assert proc.returncode == 0, proc.stderr
    assert complaints == []


def _udevadm_has_verify() -> bool:
    if shutil.which("udevadm") is None:
        return False
    proc = subprocess.run(["udevadm", "verify", "--help"], capture_output=True, timeout=10)
    return proc.returncode == 0


def test_udev_rule_parses(tmp_path: Path) -> None:
    rule = tmp_path / "60-plantar.rules"
    rule.write_text(render_udev_rule((("1209", "abcd"),)))
    if _udevadm_has_verify():
        proc = subprocess.run(
            ["udevadm", "verify", str(rule)], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    if shutil.which("udevadm") is None or shutil.which("unshare") is None:
        pytest.skip("no udevadm here; the rule is checked against the golden file only")
    if os.geteuid() != 0:
        pytest.skip("udevadm verify needs systemd >= 254; the fallback needs root")
    script = (
        "mount -t tmpfs none /etc/udev/rules.d && "
        f"cp {rule} /etc/udev/rules.d/ && udevadm test /sys/class/tty/tty0"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    out = proc.stdout + proc.stderr
    if "Reading rules file: /etc/udev/rules.d/60-plantar.rules" not in out:
        pytest.skip(f"cannot load a private rules directory here: {out[-300:]}")
    words = ("invalid", "error", "unknown", "ignor", "fail", "warn")
    complaints = [
        ln
        for ln in out.splitlines()
        if "60-plantar.rules:" in ln and any(w in ln.lower() for w in words)
    ]
    assert complaints == []


def test_udev_fallback_would_catch_a_bad_rule(tmp_path: Path) -> None:
    """The namespace check is not a rubber stamp: an invalid key is reported."""
    if _udevadm_has_verify() or os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("only meaningful for the udevadm test fallback")
    rule = tmp_path / "60-plantar.rules"
    rule.write_text('SUBSYSTEM=="tty", FOO{bar}=="x", GROUP="dialout"\n')
    script = (
        "mount -t tmpfs none /etc/udev/rules.d && "
        f"cp {rule} /etc/udev/rules.d/ && udevadm test /sys/class/tty/tty0"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    out = proc.stdout + proc.stderr
    if "Reading rules file" not in out:
        pytest.skip("cannot load a private rules directory here")
    assert "60-plantar.rules:1 Invalid key" in out


def test_service_install_dry_run_changes_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    user = os.environ.get("USER") or "root"
    code = main(["service", "install", "--dry-run", "--prefix", str(tmp_path), "--user", user])
    assert code == 0
    out = capsys.readouterr().out
    assert "would write" in out and "plantar.service" in out and "60-plantar.rules" in out
    assert "NUMBA_CACHE_DIR=" in out and "warmup" in out
    assert list(tmp_path.iterdir()) == []


def test_service_install_stages_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import pwd

    user = pwd.getpwuid(os.geteuid()).pw_name
    argv = ["service", "install", "--prefix", str(tmp_path), "--user", user, "--no-warmup"]
    assert main([*argv, "--insoles", "sim"]) == 0
    unit = (tmp_path / "etc/systemd/system/plantar.service").read_text()
    assert f"User={user}" in unit and " run --config /etc/plantar/plantar.toml" in unit
    # the service may write its configuration's directory (the pairing page saves there)
    assert "ProtectSystem=full" in unit and "ReadWritePaths=/etc/plantar\n" in unit
    assert (tmp_path / "etc/udev/rules.d/60-plantar.rules").read_text() == render_udev_rule()
    config = tmp_path / "etc/plantar/plantar.toml"
    assert config.stat().st_mode & 0o777 == 0o640
    # a second install keeps the user's configuration
    config.write_text(config.read_text().replace('name = ""', 'name = "kept"'))
    assert main(argv) == 0
    assert 'name = "kept"' in config.read_text()
    # ...but refuses to install a service whose configuration cannot load
    config.write_text("[dashboard]\nport = 0\n")
    assert main(argv) == 2
    assert "dashboard.port" in capsys.readouterr().err


def test_service_install_unknown_user(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["service", "install", "--prefix", str(tmp_path), "--user", "no-such-user-xyz"]
    assert main([*argv, "--dry-run"]) == 2
    assert "no such account" in capsys.readouterr().err
