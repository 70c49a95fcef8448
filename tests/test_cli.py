"""The ``plantar`` command line: version, help, layouts, and error handling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from plantar import __version__
from plantar.cli import build_parser, main


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plantar.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"plantar {__version__}"


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: plantar {command}")


def test_required_subcommands_exist() -> None:
    assert {"layouts", "sim"} <= set(_subcommands())


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: plantar" in capsys.readouterr().out


def test_layouts_json_lists_required_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"plantar-ref", "plantar-dense", "moticon-16", "pedar-99", "gaitpdb-8"} <= set(rows)
    assert rows["plantar-dense"]["sensels"] == 1024
    assert 128 <= rows["plantar-ref"]["sensels"] <= 256
    assert sorted(rows["plantar-ref"]["shear_sites"]) == sorted(
        ["MTH1", "MTH2-3", "MTH4-5", "hallux", "heel"]
    )
    for row in rows.values():
        assert sum(row["regions"].values()) == row["sensels"]


def test_layouts_table_in_subprocess() -> None:
    result = _run("layouts")
    assert result.returncode == 0, result.stderr
    assert "plantar-ref" in result.stdout and "pedar-99" in result.stdout
