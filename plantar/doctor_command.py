# Long module: one short function per check, sharing the Check record and the report.
"""``plantar doctor``: is this machine ready to record? One line per check, each with a fix.

Checks: Python and OS architecture (64-bit required: numba has aarch64 wheels and none
for 32-bit ARM), numba, the configuration, storage (free disk in hours of recording left
at the configured rate), numba cache warmth, the Bluetooth adapter (BlueZ version, power,
Wi-Fi coexistence on the built-in chip), permissions (serial ports, groups), the insoles
(each one opened through the bridge's own transport), the dashboard port, clock sync,
the CPU share of the running service (:mod:`live.cpu_budget`), the service and, on a Pi,
under-voltage.

A check is ``ok``, ``warn`` (works, but fix it), ``fail`` (blocks a recording) or
``skip`` (does not apply). The exit status is 1 when any check fails, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import json
import os
import platform
import pwd
import re
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
#: bleak refuses older BlueZ; the MTU property it reads appeared in 5.62.
BLUEZ_MIN = (5, 55)
BLUEZ_GOOD = (5, 62)
#: Storage: warn below this many hours of recording left.
WARN_HOURS = 10.0
#: Bytes per frame besides the sensel and shear values (seq, times, device id, framing).
FRAME_OVERHEAD_B = 48
#: A finalised session coexists with its raw streams until they are deleted.
FINALISE_FACTOR = 2.0


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    fix: str = ""


def register(sub: Any) -> None:
    """Add the ``doctor`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "doctor",
        help="check that this machine can record: architecture, Bluetooth, permissions, disk...",
        description=(
            "Check everything a recording needs, one line each with a fix: Python and OS "
            "architecture, Bluetooth adapter and power, permissions, free disk in hours, "
            "numba cache, insoles reachable, dashboard port, clock sync. Exits 1 if anything "
            "blocks a recording."
        ),
    )
    p.add_argument("--config", type=Path, default=None, help="configuration file (plantar.toml)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument(
        "--no-probe", action="store_true", help="do not open the insoles (faster; no scan)"
    )
    p.add_argument(
        "--timeout", type=float, default=15.0, metavar="S", help="per-insole probe timeout (s)"
    )
    p.set_defaults(handler=run)


# --- helpers ---------------------------------------------------------------------------


def _cmd(argv: list[str], timeout: float = 5.0) -> tuple[int, str]:
    """(exit status, stdout+stderr) of a command; (127, "") when it is not installed."""
    if shutil.which(argv[0]) is None:
        return 127, ""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return 124, ""
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _in_group(name: str) -> bool | None:
    """True/False for membership of group ``name``; None when the group does not exist."""
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        return None
    return os.geteuid() == 0 or gid in os.getgroups() or gid == os.getegid()


def service_active() -> bool:
    """True when plantar.service is running (it then holds the insoles and the port)."""
    code, out = _cmd(["systemctl", "is-active", "plantar.service"], timeout=3.0)
    return code == 0 and out.strip() == "active"


# --- the checks ------------------------------------------------------------------------


def check_python() -> Check:
    """64-bit Python on a 64-bit OS; Python >= 3.11."""
    bits = struct.calcsize("P") * 8
    machine = platform.machine() or "unknown"
    version = platform.python_version()
    detail = f"Python {version}, {bits}-bit, {platform.system()} {machine}"
    if bits != 64 or machine.lower() in ("armv7l", "armv6l", "armhf", "i686", "i386"):
        kernel = " (64-bit kernel, 32-bit user space)" if machine in ("aarch64", "arm64") else ""
        return Check(
            "python",
            FAIL,
            f"{detail}{kernel}: a 32-bit OS; numba has wheels for aarch64 and none for "
            "32-bit ARM (armv7l), so the analysis cannot run",
            "install Raspberry Pi OS (64-bit) with Raspberry Pi Imager (Pi 3, 4, 5, Zero 2 W), "
            "then reinstall plantar; see docs/raspberry-pi.md",
        )
    return Check("python", OK, detail)


def check_numba() -> Check:
    """numba and NumPy import."""
    try:
        import numba
        import numpy
    except ImportError as err:
        return Check(
            "numba",
            FAIL,
            f"cannot import: {err}",
            "pip install plantar in a 64-bit Python (numba ships aarch64 and x86-64 wheels)",
        )
    return Check("numba", OK, f"numba {numba.__version__}, NumPy {numpy.__version__}")


def check_config(path: Path | None) -> tuple[Check, Any]:
    """The configuration loads and names insoles."""
    from base.errors import ConfigError
    from plantar.config import Config, load_config

    try:
        cfg = load_config(path)
    except ConfigError as err:
        return Check("config", FAIL, str(err), "fix the key named, or: plantar config init"), None
    if not cfg.insoles:
        where = cfg.source or "no plantar.toml found"
        return (
            Check(
                "config",
                FAIL,
                f"{where}: no insoles configured",
                "plantar config init, then set [insoles.left] and [insoles.right] url",
            ),
            cfg if isinstance(cfg, Config) else None,
        )
    feet = ", ".join(f"{f} {i.url}" for f, i in cfg.insoles.items())
    extra = f"; overridden by {', '.join(cfg.overrides)}" if cfg.overrides else ""
    return Check("config", OK, f"{cfg.source or 'defaults'}: {feet}{extra}"), cfg


def recording_rate(cfg: Any) -> tuple[float, int, str]:
    """(bytes per hour of raw streams, feet, description) at the configured rate."""
    from hardware.layout import load_layout
    from plantar.config import DEFAULT_LAYOUT

    total = 0.0
    parts = []
    for foot, ins in cfg.insoles.items():
        rate = cfg.recording.rate_hz
        m = re.search(r"[?&]rate=([0-9.]+)", ins.url)
        if ins.scheme == "sim" and m:
            rate = float(m.group(1))
        layout_id = ins.layout or DEFAULT_LAYOUT
        try:
            layout = load_layout(layout_id, foot=foot, eu_size=ins.size_eu)
            n_sensels, n_shear = layout.n_sensels, layout.n_shear
        except Exception:
            n_sensels, n_shear = 1024, 5  # the densest shipped layout: an upper bound
        frame_b = 4 * n_sensels + 12 * n_shear + FRAME_OVERHEAD_B
        total += frame_b * rate * 3600.0
        parts.append(f"{rate:g} Hz {layout_id}")
    feet = len(cfg.insoles)
    return total, feet, " + ".join(parts)


def check_storage(cfg: Any) -> Check:
    """The sessions directory is writable; hours of recording left on its disk."""
    path: Path = cfg.sessions_dir(create=False)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if path.exists():
        writable = os.access(path, os.W_OK | os.X_OK)
    else:
        writable = os.access(probe, os.W_OK | os.X_OK)
    if not writable:
        return Check(
            "storage",
            FAIL,
            f"{path} is not writable by {_user()}",
            f"sudo chown -R {_user()} {path}, or set storage.dir in plantar.toml",
        )
    usage = shutil.disk_usage(probe)
    if not cfg.insoles:
        return Check("storage", OK, f"{path}: {usage.free / 1e9:.1f} GB free")
    per_hour, _, desc = recording_rate(cfg)
    need = per_hour * FINALISE_FACTOR
    hours = usage.free / need
    detail = (
        f"{path}: {usage.free / 1e9:.1f} GB free = {hours:,.1f} h of recording at {desc} "
        f"({per_hour / 1e9:.2f} GB/h, x{FINALISE_FACTOR:g} while finalising)"
    )
    fix = (
        "copy sessions off and delete them (docs/raspberry-pi.md), or point storage.dir at a "
        "larger disk"
    )
    if hours < cfg.storage.min_free_hours:
        return Check("storage", FAIL, detail + " < storage.min_free_hours", fix)
    if hours < WARN_HOURS:
        return Check("storage", WARN, detail, fix)
    return Check("storage", OK, detail)


def check_archive(cfg: Any) -> Check:
    """Push on finalise: the destination and the backlog of sessions not yet sent."""
    from base.errors import PlantarError
    from store.archive_backlog import ArchiveBacklog
    from store.archive_fs import archive_key

    if cfg is None or not cfg.archive.to:
        return Check("archive", SKIP, "archive.to not set: sessions are not pushed")
    try:
        owed = ArchiveBacklog().pending(archive_key(cfg.archive.to))
    except PlantarError as err:
        return Check("archive", WARN, str(err), "check the data directory")
    if not owed:
        return Check("archive", OK, f"{cfg.archive.to}: nothing waiting to be sent")
    oldest = owed[0]
    detail = f"{cfg.archive.to}: {len(owed)} session(s) waiting since {oldest.queued_at}" + (
        f", last error: {oldest.last_error}" if oldest.last_error else ""
    )
    return Check(
        "archive",
        WARN,
        detail,
        "check the network and the [archive] settings; plantar run retries every "
        f"{cfg.archive.retry_interval_s:g} s, or run plantar archive",
    )


def service_cache_dir() -> str | None:
    """NUMBA_CACHE_DIR of the installed unit, if any."""
    from plantar.systemd_units import UNIT_PATH

    with contextlib.suppress(OSError):
        for line in Path(UNIT_PATH).read_text().splitlines():
            if line.startswith("Environment=NUMBA_CACHE_DIR="):
                return line.split("=", 2)[2].strip()
    return None


def check_numba_cache() -> Check:
    """Every cached kernel has a compiled entry for this CPU in numba's cache."""
    import importlib

    cache_dir = os.environ.get("NUMBA_CACHE_DIR") or "next to the sources (__pycache__)"
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return Check("numba cache", SKIP, "numba not importable")
    from analysis.warmup import WARMED_KERNELS

    total, warm, cold = 0, 0, []
    for name, module_name in WARMED_KERNELS.items():
        try:
            obj = getattr(importlib.import_module(module_name), name)
        except Exception:  # a module of another package may be missing; not our check
            continue
        if not isinstance(obj, Dispatcher) or type(obj._cache).__name__ != "FunctionCache":
            continue
        total += 1
        try:
            magic = obj.targetctx.codegen().magic_tuple()
            index = obj._cache._cache_file._load_index()
            hit = any(key[1] == magic for key in index)
        except Exception:
            hit = False
        if hit:
            warm += 1
        else:
            cold.append(name)
    if total == 0:
        return Check("numba cache", SKIP, "no cached kernels found")
    detail = f"{warm}/{total} kernels compiled for this CPU in {cache_dir}"
    if cold:
        env = os.environ.get("NUMBA_CACHE_DIR")
        prefix = f"sudo -u <service user> NUMBA_CACHE_DIR={env} " if env else ""
        return Check(
            "numba cache",
            WARN,
            f"{detail}; cold: {', '.join(sorted(cold)[:6])}{' ...' if len(cold) > 6 else ''} "
            "(the first run compiles them: ~1 min on a Pi)",
            f"{prefix}plantar warmup (plantar service install does it for the service)",
        )
    return Check("numba cache", OK, detail)


def check_aot_kernels() -> Check:
    """The ahead-of-time build the live process loads instead of numba (base.kernels)."""
    from base.kernels import build_status

    usable, detail = build_status()
    if usable:
        return Check("kernels ahead of time", OK, detail)
    env = os.environ.get("NUMBA_CACHE_DIR")
    prefix = f"sudo -u <service user> NUMBA_CACHE_DIR={env} " if env else ""
    return Check(
        "kernels ahead of time",
        WARN,
        f"{detail}; the live process compiles with numba instead (about 110 MB more memory)",
        f"sudo apt install g++ python3-dev, then {prefix}plantar warmup "
        "(plantar service install does it for the service)",
    )


def _bluez_version() -> tuple[int, int] | None:
    for argv in (["bluetoothctl", "--version"], ["bluetoothd", "--version"]):
        code, out = _cmd(argv, timeout=3.0)
        m = re.search(r"(\d+)\.(\d+)", out)
        if code == 0 and m:
            return int(m.group(1)), int(m.group(2))
    for path in ("/usr/libexec/bluetooth/bluetoothd", "/usr/lib/bluetooth/bluetoothd"):
        if os.access(path, os.X_OK):
            code, out = _cmd([path, "--version"], timeout=3.0)
            m = re.search(r"(\d+)\.(\d+)", out)
            if m:
                return int(m.group(1)), int(m.group(2))
    return None


def _rfkill_blocked() -> str | None:
    for d in sorted(Path("/sys/class/rfkill").glob("rfkill*")):
        with contextlib.suppress(OSError):
            if (d / "type").read_text().strip() != "bluetooth":
                continue
            if (d / "hard").read_text().strip() == "1":
                return "hard"
            if (d / "soft").read_text().strip() == "1":
                return "soft"
    return None


def check_bluetooth(cfg: Any, sys_root: Path = Path("/sys")) -> list[Check]:
    """Adapter present, BlueZ version, powered, not blocked; Wi-Fi coexistence."""
    if cfg is None or not any(i.scheme == "ble" for i in cfg.insoles.values()):
        return [Check("bluetooth", SKIP, "no ble:// insoles configured")]
    adapters = sorted(p.name for p in (sys_root / "class/bluetooth").glob("hci*"))
    if not adapters:
        return [
            Check(
                "bluetooth",
                FAIL,
                "no Bluetooth adapter (nothing in /sys/class/bluetooth)",
                "plug in a USB Bluetooth dongle, or on a Pi check that dtoverlay=disable-bt is "
                "not in /boot/firmware/config.txt; then sudo systemctl restart bluetooth",
            )
        ]
    out: list[Check] = []
    version = _bluez_version()
    vtext = f"BlueZ {version[0]}.{version[1]}" if version else "BlueZ version unknown"
    status, fix = OK, ""
    if version is None:
        status, fix = WARN, "sudo apt install bluez (bluetoothctl); bleak needs BlueZ >= 5.55"
    elif version < BLUEZ_MIN:
        status, fix = FAIL, "upgrade to Raspberry Pi OS bookworm or later (BlueZ 5.66)"
    elif version < BLUEZ_GOOD:
        status, fix = WARN, "BlueZ < 5.62 does not report the MTU; upgrade the OS if you can"
    blocked = _rfkill_blocked()
    powered = None
    code, show = _cmd(["bluetoothctl", "show"], timeout=5.0)
    if code == 0:
        m = re.search(r"Powered:\s*(yes|no)", show)
        powered = m.group(1) == "yes" if m else None
    state = "powered" if powered else ("off" if powered is False else "power state unknown")
    detail = f"{', '.join(adapters)} ({vtext}), {state}"
    if blocked:
        status, fix = FAIL, "sudo rfkill unblock bluetooth"
        detail += f", rfkill {blocked}-blocked"
    elif powered is False:
        status, fix = (
            FAIL,
            "bluetoothctl power on (and AutoEnable=true in /etc/bluetooth/main.conf)",
        )
    elif powered is None and code != 0:
        status = WARN if status == OK else status
        fix = fix or "sudo systemctl enable --now bluetooth (bluetoothd is not answering)"
    out.append(Check("bluetooth", status, detail, fix))

    # Wi-Fi and Bluetooth share the antenna of the Pi's built-in chip (UART-attached).
    builtin = []
    for name in adapters:
        with contextlib.suppress(OSError):
            target = os.path.realpath(sys_root / "class/bluetooth" / name / "device")
            if "usb" not in target:
                builtin.append(name)
    wifi_up = any(
        (p / "operstate").exists() and (p / "operstate").read_text().strip() == "up"
        for p in (sys_root / "class/net").glob("wl*")
    )
    if builtin and wifi_up and len(builtin) == len(adapters):
        out.append(
            Check(
                "coexistence",
                WARN,
                f"Wi-Fi is up and {builtin[0]} is the built-in radio: they share one antenna "
                "and BLE notifications get lost under Wi-Fi traffic",
                "use Ethernet for the dashboard, or a USB Bluetooth dongle "
                "(dtoverlay=disable-bt to retire the built-in one)",
            )
        )
    return out


def check_permissions(cfg: Any) -> Check:
    """Serial ports readable and writable; group membership for BLE."""
    if cfg is None or not cfg.insoles:
        return Check("permissions", SKIP, "no insoles configured")
    problems, fixes, notes = [], [], []
    user = _user()
    for foot, ins in cfg.insoles.items():
        if ins.scheme == "serial":
            dev = ins.url.split("://", 1)[1].split("?", 1)[0]
            if not os.path.exists(dev):
                notes.append(f"{dev} ({foot}) absent")
                continue
            if not os.access(dev, os.R_OK | os.W_OK):
                problems.append(f"{dev} ({foot}) not read/writable by {user}")
                fixes.append(
                    f"sudo usermod -aG dialout {user} and log in again (the service gets "
                    "dialout from its unit); plantar service install adds the udev rule"
                )
            else:
                notes.append(f"{dev} ({foot}) read/write")
        if ins.scheme == "ble" and _in_group("bluetooth") is False:
            notes.append(f"{user} not in group bluetooth")
            fixes.append(f"sudo usermod -aG bluetooth {user} (BlueZ's D-Bus policy)")
    if problems:
        return Check("permissions", FAIL, "; ".join(problems + notes), "; ".join(fixes))
    if fixes:
        return Check("permissions", WARN, "; ".join(notes), "; ".join(fixes))
    return Check("permissions", OK, "; ".join(notes) or f"running as {user}")


async def _probe(url: str, timeout_s: float) -> Any:
    from firmware_bridge.transport import open_transport

    transport = open_transport(url)
    try:
        return await asyncio.wait_for(transport.open(), timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.close(), 5.0)


def check_insoles(cfg: Any, *, probe: bool, timeout_s: float, active: bool) -> list[Check]:
    """Open each insole through its transport and read its INFO."""
    from base.errors import PlantarError

    if cfg is None or not cfg.insoles:
        return [Check("insoles", SKIP, "no insoles configured")]
    if active:
        return [
            Check(
                "insoles",
                SKIP,
                "plantar.service is running and holds the insoles",
                "see journalctl -u plantar; sudo systemctl stop plantar to probe them here",
            )
        ]
    if not probe:
        return [Check("insoles", SKIP, "not probed (--no-probe)")]
    from plantar.run_command import insole_urls

    out = []
    for foot, url in insole_urls(cfg).items():
        name = f"insole {foot}"
        try:
            info = asyncio.run(_probe(url, timeout_s))
        except TimeoutError:
            out.append(
                Check(
                    name,
                    FAIL,
                    f"{url}: no answer within {timeout_s:g} s",
                    "switch the insole on and bring it near; check the url (plantar scan)",
                )
            )
            continue
        except PlantarError as err:
            out.append(Check(name, FAIL, f"{url}: {err}", "see the message; plantar scan"))
            continue
        except Exception as err:
            out.append(Check(name, FAIL, f"{url}: {type(err).__name__}: {err}", "plantar scan"))
            continue
        detail = f"{url}: reachable"
        if info is not None:
            detail += (
                f", device {getattr(info, 'device_id', '?')}, "
                f"{getattr(info, 'layout_id', '?')}, {getattr(info, 'sampling_rate_hz', '?')} Hz, "
                f"firmware {getattr(info, 'firmware_version', '?')}"
            )
        out.append(Check(name, OK, detail))
    return out


def check_dashboard(cfg: Any, active: bool) -> Check:
    """The dashboard's host:port can be bound (``plantar run`` fails otherwise)."""
    if cfg is None:
        return Check("dashboard", SKIP, "no configuration")
    d = cfg.dashboard
    where = f"{d.host}:{d.port}"
    if active:
        return Check("dashboard", SKIP, f"{where} in use by plantar.service")
    try:
        infos = socket.getaddrinfo(d.host, d.port, type=socket.SOCK_STREAM)
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(addr)
    except OSError as err:
        return Check(
            "dashboard",
            FAIL,
            f"cannot listen on {where}: {err.strerror or err}",
            "stop what uses the port (sudo ss -ltnp), or set dashboard.port",
        )
    token = "token set" if d.token else "no token"
    from dashboard.security import is_loopback

    if not is_loopback(d.host) and not d.token:
        return Check(
            "dashboard",
            WARN,
            f"{where} free, LAN mode, {token}: a new token every start",
            "set dashboard.token (plantar config init writes one) so the URL stays the same",
        )
    return Check("dashboard", OK, f"{where} free, {token}")


def check_cpu(cfg: Any, active: bool) -> Check:
    """The running service's CPU share (from its ``/api/status``) against its one-core limit;
    without a running service, how busy this machine is."""
    from live.cpu_budget import CPU_FIX, CPU_LIMIT_CORES, CPU_WARN_FRACTION, cpu_warning

    n_cpu = os.cpu_count() or 1
    load_1min = os.getloadavg()[0]
    machine = f"{n_cpu} cores, load average {load_1min:.2f}"
    if not active or cfg is None:
        busy = load_1min >= CPU_WARN_FRACTION * n_cpu
        return Check(
            "cpu",
            WARN if busy else SKIP,
            f"no live process running ({machine}); the page and this check show its CPU "
            "share while plantar.service runs",
            "other programs keep this machine busy: stop them before recording" if busy else "",
        )
    status = _service_status(cfg)
    cpu = (status or {}).get("cpu") or {}
    cores = cpu.get("cores")
    if not isinstance(cores, int | float):
        return Check("cpu", SKIP, f"plantar.service runs but reports no CPU share ({machine})")
    detail = (
        f"plantar.service uses {cores:.2f} cores ({100.0 * cores / CPU_LIMIT_CORES:.0f} % of "
        f"the {CPU_LIMIT_CORES:g} core it can use; {machine})"
    )
    if cpu_warning(float(cores)) is not None:
        return Check("cpu", WARN, detail + ": close to the point where frames are lost", CPU_FIX)
    return Check("cpu", OK, detail)


def _service_status(cfg: Any) -> dict[str, Any] | None:
    """``GET /api/status`` of the running service's dashboard (None if it does not answer)."""
    import urllib.parse
    import urllib.request

    d = cfg.dashboard
    host = "127.0.0.1" if d.host in ("0.0.0.0", "", None) else "::1" if d.host == "::" else d.host
    shown = f"[{host}]" if ":" in host else host
    query = f"?{urllib.parse.urlencode({'token': d.token})}" if d.token else ""
    try:
        with urllib.request.urlopen(f"http://{shown}:{d.port}/api/status{query}", timeout=3) as r:
            data = json.loads(r.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_clock() -> Check:
    """NTP synchronised (the Pi has no battery clock: without network the time is wrong)."""
    code, out = _cmd(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if code == 0 and out in ("yes", "no"):
        if out == "yes":
            return Check("clock", OK, "synchronised (timedatectl)")
        return Check(
            "clock",
            WARN,
            "not synchronised (timedatectl): session ids and start times may be wrong",
            "connect to a network; sudo timedatectl set-ntp true (Pi 5: fit the RTC battery)",
        )
    code, out = _cmd(["chronyc", "-n", "tracking"])
    if code == 0:
        m = re.search(r"Leap status\s*:\s*(.+)", out)
        if m and m.group(1).strip() == "Normal":
            return Check("clock", OK, "synchronised (chrony)")
        return Check("clock", WARN, "chrony not synchronised", "check chronyc sources")
    if Path("/run/systemd/timesync/synchronized").exists():
        return Check("clock", OK, "synchronised (systemd-timesyncd)")
    return Check(
        "clock",
        WARN,
        "sync state unknown (no timedatectl or chronyc answer)",
        "install systemd-timesyncd or chrony; without sync the Pi's clock starts wrong",
    )


def check_service() -> Check:
    """Is plantar.service installed, enabled, running?"""
    from plantar.systemd_units import UNIT_PATH

    if not Path(UNIT_PATH).exists():
        return Check(
            "service",
            SKIP,
            "plantar.service not installed",
            "sudo plantar service install (runs plantar run at boot)",
        )
    _, enabled = _cmd(["systemctl", "is-enabled", "plantar.service"])
    _, active = _cmd(["systemctl", "is-active", "plantar.service"])
    detail = f"plantar.service {enabled or 'unknown'}, {active or 'unknown'}"
    if active == "failed":
        return Check("service", WARN, detail, "journalctl -u plantar -b shows why")
    if enabled not in ("enabled", ""):
        return Check("service", WARN, detail, "sudo systemctl enable plantar")
    return Check("service", OK, detail)


def check_power() -> Check:
    """Under-voltage on a Pi (vcgencmd get_throttled)."""
    code, out = _cmd(["vcgencmd", "get_throttled"])
    if code != 0:
        return Check("power", SKIP, "not a Raspberry Pi (no vcgencmd)")
    m = re.search(r"0x([0-9a-fA-F]+)", out)
    bits = int(m.group(1), 16) if m else 0
    if bits & 0x1:
        return Check("power", WARN, "under-voltage now", "use the official power supply")
    if bits & 0x10000:
        return Check("power", WARN, "under-voltage since boot", "use the official power supply")
    return Check("power", OK, f"no under-voltage ({out})")


# --- the command -----------------------------------------------------------------------


def run_checks(config: Path | None, *, probe: bool = True, timeout_s: float = 15.0) -> list[Check]:
    """Every check, in report order."""
    if "NUMBA_CACHE_DIR" not in os.environ and "numba" not in sys.modules:
        service_dir = service_cache_dir()
        if service_dir and os.path.isdir(service_dir):
            os.environ["NUMBA_CACHE_DIR"] = service_dir  # look where the service looks
    # numba's cache is checked through numba's dispatchers (the ahead-of-time build on
    # its own, by check_aot_kernels), whatever the live process would load.
    os.environ.setdefault("PLANTAR_KERNELS", "jit")
    checks = [check_python()]
    numba_check = check_numba()
    checks.append(numba_check)
    config_check, cfg = check_config(config)
    checks.append(config_check)
    if cfg is not None:
        cfg.apply_storage_env()
        checks.append(check_storage(cfg))
        checks.append(check_archive(cfg))
    if numba_check.status == OK:
        checks.append(check_numba_cache())
    checks.append(check_aot_kernels())
    active = service_active()
    checks += check_bluetooth(cfg)
    checks.append(check_permissions(cfg))
    checks += check_insoles(cfg, probe=probe, timeout_s=timeout_s, active=active)
    checks.append(check_dashboard(cfg, active))
    checks.append(check_cpu(cfg, active))
    checks.append(check_clock())
    checks.append(check_service())
    checks.append(check_power())
    return checks


def run(args: argparse.Namespace) -> int:
    """Print the report; 1 if anything blocks a recording."""
    checks = run_checks(args.config, probe=not args.no_probe, timeout_s=args.timeout)
    blocking = [c.name for c in checks if c.status == FAIL]
    if args.json:
        print(
            json.dumps(
                {"ok": not blocking, "blocking": blocking, "checks": [asdict(c) for c in checks]}
            )
        )
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            line = f"{c.status.upper():<4}  {c.name:<{width}}  {c.detail}"
            if c.fix and c.status != OK:
                line += f"  -> fix: {c.fix}"
            print(line)
        if blocking:
            print(f"{len(blocking)} problem(s) block a recording: {', '.join(blocking)}")
        else:
            print("ready to record")
    return 1 if blocking else 0
