"""``plantar service install|uninstall``: run ``plantar run`` at boot under systemd.

``install`` writes, below ``--prefix`` (default ``/``; any other value stages the files
like ``DESTDIR``, without touching the running system):

* ``/etc/systemd/system/plantar.service``: ``plantar run --config /etc/plantar/plantar.toml``
  as ``--user``, restarted on failure, logs in the journal (:mod:`plantar.systemd_units`);
* ``/etc/udev/rules.d/60-plantar.rules``: serial access for the insole's USB port (group
  dialout, uaccess) and ``ENV{ID_MM_DEVICE_IGNORE}="1"`` so ModemManager leaves it alone;
* ``/etc/plantar/plantar.toml`` when there is none (``plantar config init``; mode 0640,
  readable by the service's group: it holds the dashboard token);
* the numba cache: ``plantar warmup`` with ``NUMBA_CACHE_DIR=/var/cache/plantar/numba``,
  the directory the unit names, so the first start after boot does not compile.

With ``--prefix /`` it then reloads systemd and udev and enables the unit (``--start``
also starts it). ``--dry-run`` prints every file and command and changes nothing.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from base.errors import ConfigError, PlantarError


def register(sub: Any) -> None:
    """Add the ``service`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "service",
        help="install plantar as a systemd service (runs at boot, restarts on failure)",
        description=(
            "Install or remove the systemd unit that runs `plantar run` at boot, the udev "
            "rule for USB insoles, a default /etc/plantar/plantar.toml and the numba cache."
        ),
    )
    ssub = p.add_subparsers(dest="service_command", metavar="ACTION")
    inst = ssub.add_parser(
        "install",
        help="write the unit, the udev rule and the config; warm the numba cache; enable",
        description=(
            "Write /etc/systemd/system/plantar.service, /etc/udev/rules.d/60-plantar.rules "
            "and (if missing) /etc/plantar/plantar.toml; build the numba cache; enable the "
            "unit. Needs root unless --dry-run or --prefix."
        ),
    )
    inst.add_argument(
        "--user",
        default=None,
        help="account the service runs as (default: $SUDO_USER, else the current user)",
    )
    inst.add_argument(
        "--prefix",
        type=Path,
        default=Path("/"),
        help="root to write below (default /; another directory stages the files only)",
    )
    inst.add_argument("--dry-run", action="store_true", help="print what would be done")
    inst.add_argument(
        "--exec",
        dest="exec_start",
        default=None,
        help="command that runs plantar (default: the plantar script of this Python)",
    )
    inst.add_argument(
        "--insoles",
        choices=("ble", "serial", "sim"),
        default="ble",
        help="example insoles for a new plantar.toml (default ble)",
    )
    inst.add_argument(
        "--usb-id",
        action="append",
        default=[],
        metavar="VID:PID",
        help="also match this USB vendor:product id (hex) in the udev rule",
    )
    inst.add_argument("--no-warmup", action="store_true", help="skip building the numba cache")
    inst.add_argument("--start", action="store_true", help="start the service now")
    inst.set_defaults(handler=run_install)

    un = ssub.add_parser(
        "uninstall",
        help="disable the service and remove the unit and the udev rule",
        description="Stop and disable plantar.service; remove the unit and the udev rule. "
        "Recordings and /etc/plantar/plantar.toml are kept.",
    )
    un.add_argument("--prefix", type=Path, default=Path("/"), help="root (default /)")
    un.add_argument("--dry-run", action="store_true", help="print what would be done")
    un.set_defaults(handler=run_uninstall)
    p.set_defaults(handler=lambda _args: (p.print_help(), 2)[1])


# --- helpers ---------------------------------------------------------------------------


def default_exec_start() -> str:
    """The command that runs this installation's plantar (absolute paths)."""
    script = Path(sys.executable).parent / "plantar"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m plantar.cli"


def resolve_user(name: str | None) -> tuple[str, str]:
    """(user, primary group) of the service account."""
    if name is None:
        name = os.environ.get("SUDO_USER") or pwd.getpwuid(os.geteuid()).pw_name
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"--user {name}: no such account; create it (sudo adduser {name}) or name another"
        ) from None
    try:
        group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = str(entry.pw_gid)
    return name, group


def existing_groups(names: tuple[str, ...] = ("dialout", "bluetooth")) -> tuple[str, ...]:
    """The groups of ``names`` that exist here (systemd refuses a unit naming a missing one)."""
    out = []
    for name in names:
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        out.append(name)
    return tuple(out)


def systemd_running() -> bool:
    """Whether systemd is the running init (sd_booted(3): /run/systemd/system exists)."""
    return Path("/run/systemd/system").is_dir()


def _parse_usb_ids(values: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        vid, _, pid = value.lower().partition(":")
        if not (
            len(vid) == 4 and len(pid) == 4 and all(c in "0123456789abcdef" for c in vid + pid)
        ):
            raise ConfigError(f"--usb-id {value!r}: expected VID:PID in hex, e.g. 1209:abcd")
        out.append((vid, pid))
    return tuple(out)


def _below(prefix: Path, absolute: str) -> Path:
    return prefix / absolute.lstrip("/")


class _Plan:
    """Files to write and commands to run; printed by --dry-run, executed otherwise."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        print(text, flush=True)

    def write(self, path: Path, text: str, mode: int = 0o644, owner: tuple[str, str] | None = None):
        if self.dry_run:
            self.say(f"--- would write {path} (mode {mode:o}) ---")
            self.say(text.rstrip("\n"))
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            if owner is not None and os.geteuid() == 0:
                shutil.chown(tmp, *owner)
            os.replace(tmp, path)
        except OSError as err:
            raise PlantarError(
                f"cannot write {path}: {err.strerror or err}; run with sudo, or --prefix DIR"
            ) from None
        self.say(f"wrote {path}")

    def run(self, argv: list[str], *, check: bool = True, env: dict[str, str] | None = None):
        shown = " ".join(shlex.quote(a) for a in argv)
        if self.dry_run:
            extra = " ".join(f"{k}={v}" for k, v in (env or {}).items())
            self.say(f"would run: {extra + ' ' if extra else ''}{shown}")
            return 0
        self.say(f"running: {shown}")
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(argv, env=full_env, check=False)
        if check and proc.returncode != 0:
            raise PlantarError(f"`{shown}` failed with exit status {proc.returncode}")
        return proc.returncode


# --- install ---------------------------------------------------------------------------


def run_install(args: argparse.Namespace) -> int:
    """Install the unit, the udev rule, the configuration and the numba cache."""
    from plantar import __version__
    from plantar.config import config_from_dict, default_toml, parse_toml
    from plantar.systemd_units import (
        CONFIG_PATH,
        NUMBA_CACHE_DIR,
        UDEV_RULE_PATH,
        UNIT_NAME,
        UNIT_PATH,
        UnitSettings,
        render_udev_rule,
        render_unit,
    )

    prefix: Path = args.prefix
    live = prefix.resolve() == Path("/")
    if live and not args.dry_run and os.geteuid() != 0:
        raise PlantarError(
            "plantar service install writes to /etc: run it with sudo (or try --dry-run)"
        )
    user, group = resolve_user(args.user)
    settings = UnitSettings(
        exec_start=args.exec_start or default_exec_start(),
        user=user,
        group=group,
        supplementary_groups=existing_groups(),
        config_path=CONFIG_PATH,
        version=__version__,
    )
    plan = _Plan(args.dry_run)

    config_file = _below(prefix, CONFIG_PATH)
    if config_file.exists():
        # keep the user's file, but refuse to install a service that cannot start
        text = config_file.read_text("utf-8")
        config_from_dict(parse_toml(text, str(config_file)), source=config_file, env={})
        plan.say(f"keeping {config_file}")
    else:
        plan.write(config_file, default_toml(insoles=args.insoles), 0o640, (user, group))
    if not args.dry_run and os.geteuid() == 0:  # the pairing page saves the pair there
        for path in (config_file.parent, config_file):
            shutil.chown(path, user, group)
        plan.say(f"{config_file.parent} belongs to {user}: the pairing page (/pair) saves there")

    plan.write(_below(prefix, UNIT_PATH), render_unit(settings))
    plan.write(_below(prefix, UDEV_RULE_PATH), render_udev_rule(_parse_usb_ids(args.usb_id)))

    if not args.no_warmup:
        cache = _below(prefix, NUMBA_CACHE_DIR)
        if not args.dry_run:
            cache.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        code = plan.run(
            [sys.executable, "-m", "plantar.cli", "warmup"],
            check=False,
            env={"NUMBA_CACHE_DIR": str(cache)},
        )
        if code != 0:
            plan.say(
                "warning: plantar warmup failed; the service still works but its first start "
                "compiles the kernels (about a minute on a Pi)"
            )
        elif not args.dry_run:
            plan.say(f"numba cache built in {cache} ({time.monotonic() - t0:.0f} s)")
        if not args.dry_run and os.geteuid() == 0:
            for path in [cache.parent, *cache.parent.rglob("*")]:
                shutil.chown(path, user, group)

    if live:
        if args.dry_run or systemd_running():
            plan.run(["systemctl", "daemon-reload"])
        else:  # a chroot or an image build: enable works offline, there is nothing to reload
            plan.say("systemd is not running here (a chroot?): no daemon-reload")
        plan.run(["systemctl", "enable", UNIT_NAME])
        if shutil.which("udevadm") or args.dry_run:
            plan.run(["udevadm", "control", "--reload-rules"], check=False)
            plan.run(["udevadm", "trigger", "--subsystem-match=tty"], check=False)
        if args.start:
            plan.run(["systemctl", "restart", UNIT_NAME])
    else:
        plan.say(f"staged below {prefix}; nothing enabled (use --prefix / to install)")

    plan.say(
        f"{'dry run: nothing changed. ' if args.dry_run else ''}"
        f"Edit {CONFIG_PATH} (insole urls), check with `plantar doctor`, then "
        f"`sudo systemctl {'restart' if args.start else 'start'} plantar`; "
        "logs: journalctl -u plantar -f"
    )
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    """Disable the unit and remove the unit and the rule (recordings and config stay)."""
    from plantar.systemd_units import UDEV_RULE_PATH, UNIT_NAME, UNIT_PATH

    prefix: Path = args.prefix
    live = prefix.resolve() == Path("/")
    if live and not args.dry_run and os.geteuid() != 0:
        raise PlantarError("plantar service uninstall changes /etc: run it with sudo")
    plan = _Plan(args.dry_run)
    if live:
        plan.run(["systemctl", "disable", "--now", UNIT_NAME], check=False)
    for rel in (UNIT_PATH, UDEV_RULE_PATH):
        path = _below(prefix, rel)
        if args.dry_run:
            plan.say(f"would remove {path}")
        elif path.exists():
            path.unlink()
            plan.say(f"removed {path}")
    if live:
        plan.run(["systemctl", "daemon-reload"], check=False)
        plan.run(["udevadm", "control", "--reload-rules"], check=False)
    return 0
