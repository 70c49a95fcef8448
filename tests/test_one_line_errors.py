"""Inputs that used to end in a traceback end in one line (issue 16, item 6):
``plantar: error: ...`` with what to do, a non-zero exit, and nothing stored."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.conftest import mounted_tmpfs, run_cli, shared_file


def _one_line(out: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error: "), out.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


def _nothing_stored(home: Path) -> None:
    sessions = home / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


def test_moticon_event_code_1e400_is_one_line(tmp_path: Path) -> None:
    src = shared_file("moticon/230927_102114.txt")
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.split("\t")[51:52] == ["21.00"])
    fields = lines[row].split("\t")
    fields[51] = "1e400"
    lines[row] = "\t".join(fields)
    bad = tmp_path / "events.txt"
    bad.write_text("".join(lines), encoding="utf-8")
    home = tmp_path / "home"
    out = run_cli("import", str(bad), env={"PLANTAR_HOME": str(home)})
    _one_line(out, str(bad), "event code inf", "right steps")
    _nothing_stored(home)


def test_one_broken_byte_in_a_utf8_file_is_one_line_not_latin1(tmp_path: Path) -> None:
    src = shared_file("moticon/walk_with_events.txt")
    raw = bytearray(src.read_bytes())
    assert "N/cm²".encode() in raw
    cut = raw.index(b"\n", raw.index(b"\n# time") + 1) + 5  # inside the first data row
    raw[cut] = 0xFF
    bad = tmp_path / "walk.txt"
    bad.write_bytes(bytes(raw))
    home = tmp_path / "home"
    out = run_cli("import", str(bad), env={"PLANTAR_HOME": str(home)})
    line = _one_line(out, "byte 0xff is not UTF-8")
    assert "Â" not in line
    _nothing_stored(home)


def test_a_latin1_file_without_any_utf8_character_still_reads(tmp_path: Path) -> None:
    from store.importers import read_text

    path = tmp_path / "old.asc"
    path.write_bytes("Messung µ Müller\n1 2\n".encode("latin-1"))
    assert read_text(path).startswith("Messung µ Müller")


def test_plantar_home_a_file_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    for command in (["sessions"], ["import", "x.txt"], ["serve", "--port", "0"]):
        out = run_cli(*command, env={"PLANTAR_HOME": str(home)})
        _one_line(out, "is a file, not a directory", "PLANTAR_HOME")
    assert home.read_text() == "not a directory\n"


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs (root only); skips when mounting is not allowed."""
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m", "no read-only place to test") as mnt:
        yield mnt


def test_plantar_home_read_only_is_one_line(read_only_dir: Path) -> None:
    for home in (read_only_dir, read_only_dir / "sub"):
        for command in (["sessions"], ["serve", "--port", "0"]):
            out = run_cli(*command, env={"PLANTAR_HOME": str(home)})
            _one_line(out, "cannot be written", "Read-only file system", "writable directory")


def test_stream_with_two_empty_urls_is_one_line() -> None:
    out = run_cli("stream", "", "")
    _one_line(out, "no insole URL given")
