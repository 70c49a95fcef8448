"""The systemd unit and the udev rule that ``plantar service install`` writes.

Rendering is pure (text in, text out) so that tests can check the result with
``systemd-analyze verify`` and against golden files in ``tests/ops/data/``.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

UNIT_NAME = "plantar.service"
UNIT_PATH = "/etc/systemd/system/plantar.service"
UDEV_RULE_PATH = "/etc/udev/rules.d/60-plantar.rules"
CONFIG_PATH = "/etc/plantar/plantar.toml"
#: ``CacheDirectory=plantar`` makes systemd create /var/cache/plantar owned by the
#: service user; the numba cache lives below it and survives reboots.
CACHE_DIRECTORY = "plantar"
NUMBA_CACHE_DIR = "/var/cache/plantar/numba"
#: USB product string prefix of Plantar insoles (iProduct); the udev rule matches it.
USB_PRODUCT_GLOB = "Plantar*"
#: Exit status of a configuration error: restarting cannot help, so systemd does not.
CONFIG_ERROR_STATUS = 2


@dataclass(frozen=True)
class UnitSettings:
    """What varies between installations.

    exec_start : the command before ``run`` (absolute path first), e.g.
        ``/opt/plantar/bin/plantar`` or ``/usr/bin/python3 -m plantar.cli``.
    user, group : the account the service runs as (owns the recordings).
    supplementary_groups : extra groups for device access (only groups that exist:
        systemd refuses to start a unit naming a missing group).
    config_path : the configuration the service reads.
    version : Plantar version, for the header comment.
    """

    exec_start: str
    user: str
    group: str
    supplementary_groups: tuple[str, ...] = ("dialout", "bluetooth")
    config_path: str = CONFIG_PATH
    version: str = ""


def render_unit(s: UnitSettings) -> str:
    """Text of ``plantar.service``."""
    groups = " ".join(s.supplementary_groups)
    lines = [
        f"# {UNIT_PATH}: written by `plantar service install`"
        + (f" (plantar {s.version})" if s.version else ""),
        "# Re-run the installer to update it; put local changes in a drop-in",
        "# (sudo systemctl edit plantar). Logs: journalctl -u plantar",
        "[Unit]",
        "Description=Plantar insole logger and dashboard",
        "After=network-online.target bluetooth.target time-sync.target",
        "Wants=network-online.target bluetooth.target",
        "# Never give up restarting (insoles that are still off are waited for, not a failure).",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=exec",
        f"User={s.user}",
        f"Group={s.group}",
    ]
    if groups:
        lines.append(f"SupplementaryGroups={groups}")
    lines += [
        f"ExecStart={s.exec_start} run --config {shlex.quote(s.config_path)}",
        "# On SIGTERM plantar stops the bridge and finalises the recording, then exits 0.",
        "KillMode=mixed",
        "TimeoutStopSec=90",
        "Restart=on-failure",
        "RestartSec=5",
        "# A configuration error (exit status 2) is not fixed by restarting.",
        f"RestartPreventExitStatus={CONFIG_ERROR_STATUS}",
        "# numba's compiled kernels (filled by `plantar warmup` at install time).",
        f"CacheDirectory={CACHE_DIRECTORY}",
        f"Environment=NUMBA_CACHE_DIR={NUMBA_CACHE_DIR}",
        f"Environment=PLANTAR_CONFIG={s.config_path}",
        "Environment=PYTHONUNBUFFERED=1",
        "WorkingDirectory=~",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        "# The pairing page saves the insole pair into the configuration's directory.",
        f"ReadWritePaths={posixpath.dirname(s.config_path)}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def render_udev_rule(extra_usb_ids: tuple[tuple[str, str], ...] = ()) -> str:
    """Text of ``60-plantar.rules``: serial access, and ModemManager keeps its hands off.

    Matches USB devices whose product string starts with ``Plantar`` and, optionally,
    extra ``(vendor_id, product_id)`` pairs in hex (``--usb-id 1209:abcd``).
    """
    usb_matches = [f'ATTR{{product}}=="{USB_PRODUCT_GLOB}"'] + [
        f'ATTR{{idVendor}}=="{v}", ATTR{{idProduct}}=="{p}"' for v, p in extra_usb_ids
    ]
    tty_matches = [f'ATTRS{{product}}=="{USB_PRODUCT_GLOB}"'] + [
        f'ATTRS{{idVendor}}=="{v}", ATTRS{{idProduct}}=="{p}"' for v, p in extra_usb_ids
    ]
    lines = [
        f"# {UDEV_RULE_PATH}: written by `plantar service install`.",
        "# Plantar insoles on USB serial (CDC-ACM). ModemManager probes new serial ports",
        "# with AT commands and holds them for seconds; ID_MM_DEVICE_IGNORE tells it not to.",
        "# The port gets group dialout (the service's supplementary group) and uaccess (the",
        "# user at the desktop). Stable names: /dev/serial/by-id/usb-*Plantar*",
        'ACTION=="remove", GOTO="plantar_end"',
        "",
        "# The USB device: before ModemManager's own rules (77-mm-*) look at it.",
    ]
    lines += [
        f'SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", {m}, ENV{{ID_MM_DEVICE_IGNORE}}="1"'
        for m in usb_matches
    ]
    lines += ["", "# Its serial port."]
    lines += [
        f'SUBSYSTEM=="tty", {m}, ENV{{ID_MM_DEVICE_IGNORE}}="1", ENV{{ID_MM_PORT_IGNORE}}="1", '
        'GROUP="dialout", MODE="0660", TAG+="uaccess"'
        for m in tty_matches
    ]
    lines += ["", 'LABEL="plantar_end"', ""]
    return "\n".join(lines)
