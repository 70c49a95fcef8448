"""Suite-wide guard: no test reaches a package through the base interpreter.

A fresh machine's base ``python3`` has only what the OS image ships, so a test that
imports numba, pyarrow ... from the base interpreter's site-packages (or from a venv that
sees them) passes here and fails there. The suite therefore:

* refuses to start outside a virtual environment, or in one with system site-packages;
* puts this venv's ``bin/`` first on ``PATH``, so a test that spawns ``python3`` or
  ``plantar`` gets the venv's;
* at the end, fails the run if any imported module was loaded from the base
  interpreter's or the user's site-packages.
"""

from __future__ import annotations

import functools
import json
import os
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest


@functools.cache
def _base_site_dirs() -> list[Path]:
    """The base interpreter's site-packages directories, as that interpreter reports them
    (Debian's python3 has several: /usr/local/lib/python3.X/dist-packages,
    /usr/lib/python3/dist-packages ...), and its user site."""
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    probe = "import json, site; print(json.dumps(site.getsitepackages() + [site.USER_SITE]))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    dirs: set[Path] = set()
    try:
        out = subprocess.run(
            [base_python, "-c", probe], capture_output=True, text=True, env=env, timeout=60
        )
        dirs |= {Path(d).resolve() for d in json.loads(out.stdout) if d}
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    for key in ("purelib", "platlib"):  # the same, from this side, in case the probe failed
        path = sysconfig.get_path(
            key, vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
        )
        dirs.add(Path(path).resolve())
    if site.USER_SITE:
        dirs.add(Path(site.USER_SITE).resolve())
    venv = Path(sys.prefix).resolve()
    return sorted(d for d in dirs if not d.is_relative_to(venv))


def _venv_sees_system_site() -> bool:
    cfg = Path(sys.prefix) / "pyvenv.cfg"
    if not cfg.is_file():
        return False
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "include-system-site-packages":
            return value.strip().lower() == "true"
    return False


def pytest_configure(config: pytest.Config) -> None:
    if sys.prefix == sys.base_prefix:
        raise pytest.UsageError(
            "the tests run from the project's virtual environment: use ./scripts/test"
        )
    if _venv_sees_system_site():
        raise pytest.UsageError(
            f"{sys.prefix} was created with system site-packages: recreate it without "
            "(rm -rf .venv && ./scripts/test)"
        )
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([venv_bin, os.environ.get("PATH", "")])
    # Kernels: numba's jit everywhere (the same in every run, whatever ahead-of-time build
    # a developer's cache holds); tests/analysis/test_aot_kernels.py builds and loads its
    # own. A `plantar warmup` in a test builds into this folder, not the user's cache.
    os.environ["PLANTAR_KERNELS"] = "jit"
    os.environ["PLANTAR_AOT_DIR"] = tempfile.mkdtemp(prefix="plantar-test-aot-")


def modules_from_base_interpreter() -> list[str]:
    """Names of loaded modules whose file lies in the base interpreter's site-packages."""
    base = _base_site_dirs()
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        if any(path.is_relative_to(d) for d in base):
            found.append(name)
    return sorted(found)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaked = modules_from_base_interpreter()
    if leaked:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = f"modules loaded from the base interpreter's site-packages: {leaked[:20]}"
        if tr is not None:
            tr.write_line(f"plantar: error: {msg}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
