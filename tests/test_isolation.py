"""The suite's own guard against the base interpreter (tests/conftest.py) really guards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _base_site_dirs, modules_from_base_interpreter

REPO = Path(__file__).resolve().parents[1]


def test_running_in_an_isolated_venv() -> None:
    assert sys.prefix != sys.base_prefix
    assert not any(Path(p).resolve() in _base_site_dirs() for p in sys.path if p)


def test_no_module_so_far_comes_from_the_base_interpreter() -> None:
    assert modules_from_base_interpreter() == []


def test_the_guard_sees_a_module_loaded_from_base_site_packages() -> None:
    """Load a module from a file placed where the check looks: the check must name it."""
    base = _base_site_dirs()[0]
    script = (
        "import sys, types; sys.path.insert(0, str(__import__('pathlib').Path.cwd())); "
        "from tests.conftest import modules_from_base_interpreter as m; "
        f"mod = types.ModuleType('probe_mod'); mod.__file__ = {str(base / 'probe_mod.py')!r}; "
        "sys.modules['probe_mod'] = mod; print(m())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "probe_mod" in out.stdout


def test_the_guard_covers_where_the_base_interpreter_finds_packages() -> None:
    """Independent evidence: ask the base interpreter where a third-party module it can
    import lives; that directory must be one the guard watches."""
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    probe = (
        "import importlib.util as u\n"
        "for m in ('pip', 'setuptools', 'numpy', 'pytest'):\n"
        "    s = u.find_spec(m)\n"
        "    if s and s.origin: print(s.origin)"
    )
    out = subprocess.run([base_python, "-c", probe], capture_output=True, text=True, timeout=60)
    origins = [Path(line).resolve() for line in out.stdout.splitlines() if line.strip()]
    if not origins:
        pytest.skip("the base interpreter has no third-party module to locate")
    watched = _base_site_dirs()
    for origin in origins:
        assert any(origin.is_relative_to(d) for d in watched), (origin, watched)


def test_subprocess_python3_is_the_venv() -> None:
    out = subprocess.run(
        ["python3", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True
    )
    assert out.stdout.strip() == sys.prefix


def test_no_test_creates_a_venv_that_sees_system_site_packages() -> None:
    patterns = ("system_site_packages" + "=True", "--system" + "-site-packages")
    offenders = []
    for folder in ("tests", "benchmarks", "scripts"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix not in (".py", ".sh", "") or not path.is_file():
                continue
            text = path.read_text(errors="replace")
            if any(p in text for p in patterns):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
