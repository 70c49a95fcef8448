"""scripts/pi-emulated-smoke runs the install block of docs/raspberry-pi.md, every line of it.

The smoke run itself (an arm64 root under qemu, tens of minutes) is kept out of the suite;
this checks the part that keeps the guide and the run the same: the script's
``--print-commands`` lists, in order, every command of the marked block as the guide
prints it, and runs each one verbatim except the few a chroot cannot run.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "pi-emulated-smoke"
GUIDE = REPO / "docs" / "raspberry-pi.md"
MARKER = "<!-- pi-emulated-smoke: install -->"
# lines a chroot cannot run as written: an editor, systemd, the journal
REPLACED = {
    "sudo nano /etc/plantar/plantar.toml",
    "sudo systemctl start plantar",
    "journalctl -u plantar -f",
}


def guide_install_commands(text: str) -> list[str]:
    """The commands of the ```sh block after the marker, comments stripped."""
    after = text.split(MARKER, 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", after, re.S | re.M)
    assert block is not None, "no ```sh block after the marker"
    lines = [re.sub(r"\s+#.*$", "", line).rstrip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def script_commands() -> list[tuple[str, str]]:
    out = subprocess.run(
        ["bash", str(SCRIPT), "--print-commands"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [tuple(line.split("\t", 1)) for line in out.splitlines()]  # type: ignore[misc]


def test_guide_has_one_marked_install_block() -> None:
    text = GUIDE.read_text("utf-8")
    assert text.count(MARKER) == 1
    commands = guide_install_commands(text)
    assert any("pip install" in c for c in commands)
    assert any("plantar service install" in c for c in commands)
    # Plantar is not on PyPI: the guide must not install it by name from there
    assert not any(re.search(r"pip install plantar\b", c) for c in commands)


def test_script_runs_every_guide_command_in_order() -> None:
    pairs = script_commands()
    assert [doc for doc, _ in pairs] == guide_install_commands(GUIDE.read_text("utf-8"))
    for doc, run in pairs:
        if doc in REPLACED:
            assert run != doc
        else:
            assert run == doc, f"{doc!r} is run as {run!r}"


def test_script_stays_out_of_ci() -> None:
    ci = REPO / ".ci" / "run"
    if ci.is_file():
        assert "pi-emulated-smoke" not in ci.read_text("utf-8")
