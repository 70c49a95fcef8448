"""``plantar config init|show|check``: write, show and validate ``plantar.toml``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``config`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "config",
        help="write, show or check the configuration (plantar.toml)",
        description=(
            "plantar.toml holds the insoles, the athlete, the storage directory, the "
            "dashboard and the alert thresholds. Looked for at --config, $PLANTAR_CONFIG, "
            "~/.config/plantar/plantar.toml, /etc/plantar/plantar.toml. Environment "
            "variables PLANTAR_<SECTION>__<KEY> override single keys."
        ),
    )
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")

    init = csub.add_parser(
        "init",
        help="write a commented default plantar.toml",
        description="Write a commented default configuration with a random dashboard token.",
    )
    init.add_argument(
        "--path",
        type=Path,
        default=None,
        help="where to write (default: ~/.config/plantar/plantar.toml, or "
        "/etc/plantar/plantar.toml when run as root)",
    )
    init.add_argument(
        "--insoles",
        choices=("ble", "serial", "sim"),
        default="ble",
        help="example insoles to put in (default: ble, by name Plantar-L / Plantar-R)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.add_argument("--stdout", action="store_true", help="print instead of writing a file")
    init.set_defaults(handler=run_init)

    for name, helptext in (
        ("show", "print the effective configuration (file + environment overrides)"),
        ("check", "validate the configuration; one line per problem, non-zero exit if bad"),
    ):
        c = csub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:])
        c.add_argument("--config", type=Path, default=None, help="configuration file")
        c.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        if name == "show":
            c.add_argument("--reveal-token", action="store_true", help="show the token")
        c.set_defaults(handler=run_show if name == "show" else run_check)
    p.set_defaults(handler=lambda _args: (p.print_help(), 2)[1])


def default_init_path() -> Path:
    """Where ``config init`` writes without ``--path``."""
    import platformdirs

    from plantar.config import SYSTEM_CONFIG

    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return SYSTEM_CONFIG
    return Path(platformdirs.user_config_dir("plantar")) / "plantar.toml"


def write_default(path: Path, *, insoles: str = "ble", force: bool = False) -> Path:
    """Write the commented default to ``path`` (0600: it holds the token); returns it."""
    from base.errors import ConfigError
    from plantar.config import default_toml

    path = path.expanduser()
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; edit it, or overwrite it with --force")
    text = default_toml(insoles=insoles)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        raise ConfigError(
            f"cannot write {path}: {err.strerror or err}; choose another --path"
        ) from None
    return path


def run_init(args: argparse.Namespace) -> int:
    """Write (or print) the commented default configuration."""
    from plantar.config import default_toml

    if args.stdout:
        print(default_toml(insoles=args.insoles), end="")
        return 0
    path = write_default(args.path or default_init_path(), insoles=args.insoles, force=args.force)
    print(f"wrote {path}; edit the insoles' url, then check with: plantar config show")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the effective configuration."""
    from plantar.config import load_config

    cfg = load_config(args.config)
    data = cfg.to_dict(reveal_token=args.reveal_token)
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"# source: {data['source'] or 'defaults (no plantar.toml found)'}")
    if data["overrides"]:
        print(f"# overridden by: {', '.join(data['overrides'])}")
    for section in ("insoles", "athlete", "storage", "dashboard", "recording", "alerts"):
        value = data[section]
        if section == "insoles":
            if not value:
                print("[insoles]  # none configured")
            for foot, ins in value.items():
                print(f"[insoles.{foot}]")
                for k, v in ins.items():
                    if v is not None:
                        print(f"{k} = {json.dumps(v)}")
            continue
        print(f"[{section}]")
        for k, v in value.items():
            if v is not None:
                print(f"{k} = {json.dumps(v)}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Validate the configuration (raises ConfigError → one line, exit 2)."""
    from plantar.config import load_config

    cfg = load_config(args.config, require_insoles=True)
    if args.json:
        print(json.dumps({"ok": True, "source": str(cfg.source) if cfg.source else None}))
    else:
        feet = ", ".join(f"{f} {i.url}" for f, i in cfg.insoles.items())
        print(f"{cfg.source or 'defaults'}: ok ({feet})")
    return 0
