"""The ``plantar`` command line.

Each subcommand lives in a small module with ``register(subparsers)`` listed in
:data:`COMMAND_MODULES`. Errors the user can act on are :class:`~base.errors.PlantarError`
and end in one line on stderr and a non-zero exit code, never in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from base.errors import PlantarError
from base.paths import check_data_dir
from plantar import __version__

Handler = Callable[[argparse.Namespace], int]

#: Commands that read or write the data directory: it is checked once before they run
#: (:func:`base.paths.check_data_dir`), so a bad ``$PLANTAR_HOME`` is one line, not a
#: traceback halfway through. (``run`` checks its configured ``storage.dir`` itself.)
DATA_DIR_COMMANDS = frozenset(
    {
        "import",
        "export",
        "sessions",
        "analyze",
        "archive",
        "serve",
        "demo",
        "compare",
        "report",
        "tag",
    }
)


# Modules that contribute subcommands. Each has ``register(subparsers)`` that adds its
# parsers and sets ``handler`` on them; heavy imports stay inside the handlers so that
# ``plantar --help`` is fast.
COMMAND_MODULES: tuple[str, ...] = (
    "plantar.layouts_command",
    "plantar.sim_command",
    "firmware_bridge.commands",
    "firmware_bridge.ble.commands",
    "store.commands",
    "analysis.commands",
    "plantar.archive_command",
    "dashboard.commands",
    "plantar.demo_command",
    "review.commands",
    "plantar.config_command",
    "plantar.run_command",
    "plantar.service_command",
    "plantar.doctor_command",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="plantar",
        description="Log, analyse and show plantar pressure and shear from instrumented insoles.",
    )
    parser.add_argument("--version", action="version", version=f"plantar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plantar`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        if args.command in DATA_DIR_COMMANDS:
            check_data_dir()
        return handler(args)
    except PlantarError as err:
        print(f"plantar: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("plantar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
