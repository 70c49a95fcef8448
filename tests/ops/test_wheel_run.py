"""The installed product: build the wheel, install it into a fresh venv, run the service.

The venv cannot see the base interpreter's packages (no system site-packages): it holds
plantar's declared runtime dependencies, linked in from the project's own ``.venv``
(:mod:`tests.ops.isolated_venv`), and the wheel, installed with ``--no-deps --no-index``.
``pip check`` confirms the closure is complete, and
:func:`test_runtime_imports_are_declared` checks that every distribution the service
imports is a declared (direct or transitive) dependency, so an import that only works
because some package happens to be on this machine fails here. Building the wheel uses
pip's build isolation (it fetches setuptools), so it needs the package index, which CI
reaches.

Then, with two ``sim://`` insoles (``data/sim.toml``):

* ``plantar doctor --json`` reports every check with a fix and agrees with its exit code;
* ``plantar run`` stopped by SIGTERM (``systemctl stop``) finalises its session, exit 0;
* ``plantar run`` killed with SIGKILL (a power cut) leaves a session that the next
  ``plantar run --config data/sim.toml --duration 5`` recovers before it records anew.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ops import isolated_venv

REPO = Path(__file__).resolve().parents[2]
SIM_TOML = Path(__file__).resolve().parent / "data" / "sim.toml"
IGNORE = shutil.ignore_patterns(
    ".git",
    "__pycache__",
    "*.nbi",
    "*.nbc",
    "build",
    "dist",
    "*.egg-info",
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "tests",
    "benchmarks",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A venv with the freshly built wheel installed; its env and scratch directory."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)  # builds write build/ and *.egg-info
    dist = root / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = dist.glob("plantar-*.whl")
    env_dir = root / "venv"
    python = isolated_venv.create(env_dir)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PLANTAR_"))}
    work = root / "work"
    work.mkdir()
    env["PLANTAR_HOME"] = str(work / "home")
    env["NUMBA_CACHE_DIR"] = str(work / "numba-cache")
    return {"bin": env_dir / "bin", "python": python, "env": env, "work": work}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plantar(installed: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    env = dict(installed["env"])  # type: ignore[call-overload]
    env["PLANTAR_DASHBOARD__PORT"] = str(_free_port())
    return subprocess.run(
        [str(installed["bin"] / "plantar"), *args],  # type: ignore[operator]
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=installed["work"],
    )


def test_installed_plantar_comes_from_the_wheel(installed: dict) -> None:  # type: ignore[type-arg]
    proc = subprocess.run(
        [
            str(installed["python"]),
            "-c",
            "import plantar, dashboard; print(plantar.__file__); "
            "print(plantar.__version__); print(dashboard.__file__)",
        ],
        capture_output=True,
        text=True,
        env=installed["env"],
        cwd=installed["work"],
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    where, version, dash = proc.stdout.split()
    assert str(installed["bin"].parent) in where and str(REPO) not in where
    assert version != "0.0.0+unknown"
    static = Path(dash).parent / "static" / "index.html"
    assert static.is_file(), "dashboard/static is not in the wheel: add it to package-data"


def test_venv_cannot_see_undeclared_packages(installed: dict) -> None:  # type: ignore[type-arg]
    """The test tools (pytest, hypothesis, scipy) sit in the project's .venv and often in the
    base interpreter, and plantar does not declare them: the wheel's venv must not see them."""
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    proc = subprocess.run(
        [str(installed["python"]), "-c", probe, "pytest", "hypothesis", "scipy", "numba"],
        capture_output=True,
        text=True,
        env=installed["env"],
        cwd=installed["work"],
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['numba']"


def test_runtime_imports_are_declared(installed: dict) -> None:  # type: ignore[type-arg]
    """Every third-party distribution our code imports is a declared dependency of plantar.

    Imports are read from the installed packages' source (also those inside functions);
    imports guarded by ``try/except ImportError`` or ``if TYPE_CHECKING`` are optional.
    Extras count as declared.
    """
    script = r"""
import ast, importlib.metadata as md, json, pathlib, re, sys
owners = md.packages_distributions()
ours = tuple(sorted(n for n, dists in owners.items() if "plantar" in dists))
site = pathlib.Path(md.distribution("plantar").locate_file(""))
optional = set()
def guarded(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            "ImportError" in ast.unparse(h.type or ast.Name("BaseException")) for h in node.handlers
        ):
            yield node.body
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield node.body
names = set()
for pkg in ours:
    for path in (site / pkg).rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        skip = {id(n) for body in guarded(tree) for stmt in body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
names = {n for n in names if n not in ours and n not in sys.stdlib_module_names}
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
declared, todo = set(), list(md.requires("plantar") or [])
while todo:
    name = norm(re.split(r"[ ;<>=!~\[(]", todo.pop(), maxsplit=1)[0])
    if name in declared:
        continue
    declared.add(name)
    try:
        todo += [r for r in (md.requires(name) or []) if "extra ==" not in r]
    except md.PackageNotFoundError:
        pass
undeclared = sorted({norm(d) for n in names for d in owners.get(n, [])} - declared)
# An import whose package is not in this venv at all is undeclared too (the venv holds
# only what pyproject declares).
import importlib.util
undeclared += sorted(n for n in names if n not in owners and importlib.util.find_spec(n) is None)
assert "review" in ours or "plantar" in ours, ours
print(json.dumps(undeclared))
"""
    proc = subprocess.run(
        [str(installed["python"]), "-c", script],
        capture_output=True,
        text=True,
        env=installed["env"],
        cwd=installed["work"],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    undeclared = json.loads(proc.stdout.strip().splitlines()[-1])
    assert undeclared == [], f"imported by plantar but not in pyproject dependencies: {undeclared}"


def test_doctor_json(installed: dict) -> None:  # type: ignore[type-arg]
    proc = _plantar(installed, "doctor", "--json", "--config", str(SIM_TOML))
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] == (proc.returncode == 0)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["python"]["status"] == "ok"
    assert checks["config"]["status"] == "ok"
    assert checks["insole left"]["status"] == "ok" and checks["insole right"]["status"] == "ok"
    assert all(c["fix"] for c in report["checks"] if c["status"] in ("warn", "fail"))
    assert proc.returncode == 0, [c for c in report["checks"] if c["status"] == "fail"]


def _start(installed: dict, log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    env = dict(installed["env"])  # type: ignore[call-overload]
    env["PLANTAR_DASHBOARD__PORT"] = str(_free_port())
    return subprocess.Popen(
        [
            str(installed["bin"] / "plantar"),
            "run",
            "--config",
            str(SIM_TOML),
            "--status-interval",
            "0.5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=env,
        cwd=installed["work"],
    )


def _wait_recording(proc: subprocess.Popen, log: Path, timeout_s: float = 300) -> str:  # type: ignore[type-arg]
    """Wait until frames are on disk; return the session id. (The wheel's venv starts with
    a cold numba cache: compiling takes a while on a busy machine.)"""
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        assert proc.poll() is None, log.read_text()[-2000:]
        for line in reversed(log.read_text().splitlines()):
            m = re.search(r"event=status .*session_id=(\S+) .*frames_written=(\d+)", line)
            if m and int(m.group(2)) > 0:
                return m.group(1)
        time.sleep(0.25)
    proc.kill()
    raise AssertionError(f"no frames recorded in {timeout_s} s: {log.read_text()[-2000:]}")


def _session_json(installed: dict, session_id: str) -> dict:  # type: ignore[type-arg]
    path = installed["work"] / "home" / "sessions" / session_id / "session.json"
    return json.loads(path.read_text())


def test_run_sigterm_finalises_then_power_cut_is_recovered(installed: dict) -> None:  # type: ignore[type-arg]
    work: Path = installed["work"]  # type: ignore[assignment]
    # systemctl stop: SIGTERM -> bridge stopped, session finalised, exit 0
    log_a = work / "run-a.log"
    proc = _start(installed, log_a)
    session_a = _wait_recording(proc, log_a)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log_a.read_text()[-2000:]
    assert _session_json(installed, session_a)["status"] == "finalised"
    assert "event=stop" in log_a.read_text()

    # power cut: SIGKILL while recording
    log_b = work / "run-b.log"
    proc = _start(installed, log_b)
    session_b = _wait_recording(proc, log_b)
    proc.kill()
    proc.wait(timeout=30)
    assert _session_json(installed, session_b)["status"] == "recording"

    # the next start recovers it first, then records a new session for 5 s
    done = _plantar(installed, "run", "--config", str(SIM_TOML), "--duration", "5")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["recovered"] == [session_b]
    assert summary["frames_recorded"] > 0 and summary["error"] is None
    assert summary["session_id"] not in (session_a, session_b)
    recovered = _session_json(installed, session_b)
    assert recovered["status"] == "recovered"
    assert _session_json(installed, summary["session_id"])["status"] == "finalised"
    lines = done.stderr.splitlines()
    first_recovered = next(i for i, ln in enumerate(lines) if "event=recovered" in ln)
    first_dashboard = next(i for i, ln in enumerate(lines) if "event=dashboard" in ln)
    assert first_recovered < first_dashboard  # recovery happens before the new session


def test_bench_reports_every_ratio_from_an_install(installed: dict) -> None:  # type: ignore[type-arg]
    """The NumPy references ship in the package, so an installed ``plantar bench`` run away
    from any source checkout reports every ratio (issue 13: speedup_vs_numpy was null)."""
    proc = _plantar(installed, "bench", "--json", "--quick", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    ratios = {k: v for k, v in result.items() if k not in ("quick",)}
    assert ratios["speedup_vs_numpy"] is not None
    missing = [k for k, v in ratios.items() if v is None]
    assert missing == [], f"null figures: {missing}"
    assert ratios["speedup_vs_numpy"] > 1.0 and ratios["headroom_1024"] > 1.0
