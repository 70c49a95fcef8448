"""When the demo's own simulated insoles do not answer, its error says what the simulator
process was doing (running or exited, and the last line of its stderr)."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from plantar.demo_command import _simulator_state


def _process(code: str) -> tuple[subprocess.Popen[str], object]:
    err = tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=err, text=True)
    return proc, err


def test_an_exited_simulator_is_named_with_its_status_and_last_words() -> None:
    proc, err = _process("import sys; sys.stderr.write('warming up\\nno pty left\\n'); sys.exit(3)")
    proc.wait(timeout=60)
    assert (
        _simulator_state(proc, err) == "the simulator exited with status 3, last said: no pty left"
    )


def test_a_running_silent_simulator_says_so() -> None:
    proc, err = _process("import time; time.sleep(60)")
    try:
        state = _simulator_state(proc, err)
    finally:
        proc.kill()
        proc.wait()
    assert state == f"the simulator (pid {proc.pid}) is running, nothing on its stderr"
