"""Kernels built ahead of time (``plantar warmup``, :mod:`analysis.aot_build`) and loaded
instead of numba (:mod:`base.kernels`): built for real with numba's pycc and gcc, run in
subprocesses of their own (the kernel mode is chosen once per process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.store.conftest import REPO, SHARED_DATA, run_cli

pytestmark = pytest.mark.skipif(
    not (shutil.which("gcc") and shutil.which("g++")), reason="no C/C++ compiler (gcc, g++)"
)

SWITCH_WARNING = "has no ahead-of-time variant"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aot")
    done = run_cli("warmup", "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stderr
    assert "built" in done.stdout and "ahead of time" in done.stdout, done.stdout
    return out


def _aot_env(build: Path) -> dict[str, str]:
    return {"PLANTAR_KERNELS": "aot", "PLANTAR_AOT_DIR": str(build)}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def test_the_build_holds_every_warmed_kernel(build: Path) -> None:
    from analysis.warmup import WARMED_KERNELS

    manifest = json.loads((build / "manifest.json").read_text())
    assert (build / manifest["file"]).is_file()
    exported = {name.rsplit(".", 1)[1] for name in manifest["variants"]}
    assert set(WARMED_KERNELS) <= exported
    assert manifest["target_cpu"] == "host"


@pytest.mark.parametrize(
    "recording", ["moticon/230927_102114.txt", "pedar/pressure_example.asc"], ids=str
)
def test_analysis_is_the_same_without_numba(build: Path, recording: str) -> None:
    """`plantar analyze` of a real recording gives the same document from the build as
    from numba's jit (same CPU target, so the same rounding), and the process that ran
    it never loaded numba or llvmlite."""
    path = SHARED_DATA / recording
    if not path.is_file():
        pytest.skip(f"{path} absent")
    jit = run_cli("analyze", str(path), "--json", env={"PLANTAR_KERNELS": "jit"}, timeout=300)
    aot = run_cli("analyze", str(path), "--json", env=_aot_env(build), timeout=300)
    assert jit.returncode == 0 and aot.returncode == 0, (jit.stderr, aot.stderr)
    assert SWITCH_WARNING not in aot.stderr
    doc_jit, doc_aot = json.loads(jit.stdout), json.loads(aot.stdout)
    assert doc_aot["summary"]["steps"] > 5
    assert doc_aot == doc_jit


def test_the_live_pipeline_runs_without_numba(build: Path) -> None:
    """The warm-up runs the live path (decoder, frame reducer, friction bound, twist,
    events, step metrics, hot spots, change point) through the build; numba and
    llvmlite stay out of the process."""
    done = _python(
        """
        import json, sys
        from analysis.warmup import warm_up
        from base.kernels import aot_status
        warm_up()
        print(json.dumps({**aot_status(), "llvmlite": "llvmlite" in sys.modules}))
        """,
        _aot_env(build),
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["mode"] == "aot", status
    assert not status["numba_loaded"] and not status["llvmlite"], status
    assert SWITCH_WARNING not in done.stderr


def _events_code(dtype: str, read_only: bool) -> str:
    return f"""
        import json, sys
        import numpy as np
        from analysis.contact_events import ContactParams, contact_events_kernel, new_contact_state
        t = np.arange(0.0, 6.0, 0.01)
        f = (600.0 * np.clip(np.sin(2 * np.pi * t / 1.1), 0.0, None)).astype("{dtype}")
        t.flags.writeable = {not read_only}
        out = np.empty((len(t) + 1, 3))
        n = contact_events_kernel(t, f, ContactParams().as_array(), new_contact_state(), out)
        print(json.dumps({{"rows": out[:n].tolist(), "numba": "numba" in sys.modules}}))
        """


def _jit_rows(dtype: str) -> list:
    from analysis.contact_events import ContactParams, contact_events_kernel, new_contact_state

    t = np.arange(0.0, 6.0, 0.01)
    f = (600.0 * np.clip(np.sin(2 * np.pi * t / 1.1), 0.0, None)).astype(dtype)
    out = np.empty((len(t) + 1, 3))
    n = contact_events_kernel(t, f, ContactParams().as_array(), new_contact_state(), out)
    return out[:n].tolist()


def test_a_read_only_input_is_served_by_the_build(build: Path) -> None:
    """Arrow hands read-only arrays to the kernels; the build was compiled with writeable
    ones: the input is copied, numba is not loaded."""
    done = _python(_events_code("float64", read_only=True), _aot_env(build))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert not doc["numba"], done.stderr
    assert doc["rows"] == _jit_rows("float64") and len(doc["rows"]) >= 8


def test_a_call_without_a_variant_switches_to_numba(build: Path) -> None:
    """float32 force was never compiled ahead of time: the compiled code would misread it,
    so the process switches to numba (the kernel's calls to other kernels rebound) and
    says so once; the result is numba's."""
    done = _python(_events_code("float32", read_only=False), _aot_env(build))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["numba"]
    assert done.stderr.count(SWITCH_WARNING) == 1, done.stderr
    assert doc["rows"] == _jit_rows("float32") and len(doc["rows"]) >= 8


def test_a_stale_build_is_not_loaded(build: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from base.kernels import build_status

    stale = tmp_path / "stale"
    shutil.copytree(build, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["sources"]["analysis"] = "0" * 64
    (stale / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("PLANTAR_AOT_DIR", str(stale))
    usable, why = build_status()
    assert not usable and "analysis/ changed since the build" in why
    monkeypatch.setenv("PLANTAR_AOT_DIR", str(build))
    usable, detail = build_status()
    assert usable, detail


def test_doctor_reports_the_build(build: Path, tmp_path: Path) -> None:
    ok = run_cli("doctor", "--json", "--no-probe", env={"PLANTAR_AOT_DIR": str(build)})
    missing = run_cli("doctor", "--json", "--no-probe", env={"PLANTAR_AOT_DIR": str(tmp_path)})
    by_name = {
        key: {c["name"]: c for c in json.loads(out.stdout)["checks"]}
        for key, out in (("ok", ok), ("missing", missing))
    }
    assert by_name["ok"]["kernels ahead of time"]["status"] == "ok"
    check = by_name["missing"]["kernels ahead of time"]
    assert check["status"] == "warn" and "plantar warmup" in check["fix"]


def test_warmup_without_a_compiler_says_what_to_install(tmp_path: Path) -> None:
    """No gcc/g++ on PATH: numba's cache is still filled, the build is skipped with one
    warning naming the apt packages, exit 0 (the live process works with numba)."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "plantar.cli", "warmup", "--out", str(tmp_path / "aot")],
        capture_output=True, text=True, timeout=900, cwd=REPO, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from analysis.warmup import WARMED_KERNELS

    assert f"compiled {len(WARMED_KERNELS)} kernels" in done.stdout
    warning = [ln for ln in done.stderr.splitlines() if ln.startswith("warning: kernels not built")]
    assert len(warning) == 1, done.stderr
    assert "missing: sudo apt install gcc g++" in warning[0]
    assert not (tmp_path / "aot" / "manifest.json").exists()


def test_review_and_compare_stay_ahead_of_time(build: Path, tmp_path: Path) -> None:
    """The dashboard's process serves review and compare too: of a recorded (simulated)
    session, of imported Moticon, gaitpdb and force-plate sessions, and a comparison of
    two simulated conditions. Every kernel call they make has a variant in the build:
    nothing falls back to numba (which would load it, +110 MB, in the live process)."""
    from tests.review.simdata import record_sim_session

    home = tmp_path / "home"
    root = home / "sessions"
    root.mkdir(parents=True)
    record_sim_session(root, steps=160, seed=1, shoe="shoe1")
    record_sim_session(root, steps=160, seed=2, shoe="shoe2")
    imported = [
        "moticon/230927_102114.txt",
        "physionet-gaitpdb/SiCo01_01.txt",
        "fukuchi-running/RBDS002runT35forces.txt",
    ]
    for name in imported:
        if not (SHARED_DATA / name).is_file():
            pytest.skip(f"{SHARED_DATA / name} absent")
        out = run_cli("import", str(SHARED_DATA / name), env={"PLANTAR_HOME": str(home)})
        assert out.returncode == 0, out.stderr
    done = _python(
        f"""
        import json, sys
        from pathlib import Path
        from fastapi.testclient import TestClient
        from dashboard.app import create_app
        from live.hub import LiveHub
        from hardware.layout import load_layout
        from base.kernels import aot_status
        layouts = {{f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}}
        app = create_app(LiveHub(layouts), None, sessions_root=Path({str(root)!r}),
                         allowed_hosts=("testserver",))
        codes = []
        with TestClient(app) as client:
            rows = client.get("/api/review/sessions").json()
            for row in rows:
                codes.append(client.get("/api/review/" + row["id"]).status_code)
            codes.append(client.get("/api/compare", params={{"by": "shoe", "min_steps": 10,
                                                            "discard": 5}}).status_code)
        print(json.dumps({{**aot_status(), "codes": codes, "sessions": len(rows),
                           "llvmlite": "llvmlite" in sys.modules}}))
        """,
        _aot_env(build),
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["sessions"] == 2 + len(imported), status
    assert set(status["codes"]) == {200}, status
    assert SWITCH_WARNING not in done.stderr, done.stderr
    assert status["mode"] == "aot" and not status["numba_loaded"], status
    assert not status["llvmlite"], status
