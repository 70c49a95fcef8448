"""Imports of the real recordings in ../shared/data, exports, and bad inputs."""

from __future__ import annotations

import csv
import json
import resource
import signal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from store import schema as sch
from store.catalog import Catalog
from tests.store.conftest import run_cli, shared_file

MOTICON = "moticon/230927_102114.txt"
MOTICON_EVENTS = "moticon/walk_with_events.txt"
PEDAR = "pedar/pressure_example.asc"
GAITPDB = "physionet-gaitpdb/SiCo01_01.txt"


def _import(cli, capsys, path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    assert cli(["import", str(path), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _export_csv(cli, capsys, session: str, out: Path) -> dict[str, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    assert cli(["export", session, "--format", "csv", "-o", str(out)]) == 0
    capsys.readouterr()
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return {foot: [r for r in rows if r["foot"] == foot] for foot in ("left", "right")}


def _num(text: str) -> float:
    return float(text) if text.strip() else np.nan


def _moticon_source(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("# time"))[2:].split("\t")
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return header, rows


def _column(header: list[str], rows: list[list[str]], name: str) -> np.ndarray:
    i = header.index(name)
    return np.array([_num(r[i]) for r in rows])


def _exported(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([_num(r[name]) for r in rows])


def _same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), "missing samples moved"
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=1e-6, atol=1e-6)


def test_moticon_round_trip(plantar_home: Path, cli, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = shared_file(MOTICON)
    doc = _import(cli, capsys, src, "--athlete", "M", "--shoe", "S", "--sock", "K")
    header, rows = _moticon_source(src)
    assert doc["frames"] == 2 * len(rows)
    out = _export_csv(cli, capsys, doc["session"], tmp_path / "m.csv")
    n_missing = 0
    for foot in ("left", "right"):
        assert len(out[foot]) == len(rows)
        for k in (1, 7, 16):
            expected = _column(header, rows, f"{foot} pressure {k}[N/cm²]") * 10.0  # → kPa
            n_missing += int(np.isnan(expected).sum())
            _same(_exported(out[foot], f"p{k:03d}_kpa"), expected)
        _same(_exported(out[foot], "gyro_z_dps"), _column(header, rows, f"{foot} angular Z[dps]"))
        _same(
            _exported(out[foot], "accel_x_g"),
            _column(header, rows, f"{foot} acceleration X[g]"),
        )
    assert n_missing > 0, "the file has missing samples; they must stay missing"
    with open(tmp_path / "m-events.csv", newline="") as f:
        events = list(csv.DictReader(f))
    codes = _column(header, rows, "left steps[]")
    heel = [e for e in events if e["kind"] == sch.EVENT_HEEL_STRIKE and e["foot"] == "left"]
    assert len(heel) == int(np.sum(codes == 11)) > 0
    toe = [e for e in events if e["kind"] == sch.EVENT_TOE_OFF and e["foot"] == "right"]
    assert len(toe) == int(np.sum(_column(header, rows, "right steps[]") == 25)) > 0
    row = Catalog().get(doc["session"])
    assert row["source"] == "import:moticon" and row["layout_left"] == "moticon-16"
    assert (row["athlete"], row["shoe"], row["sock"]) == ("M", "S", "K")
    imu = pq.read_schema(plantar_home / "sessions" / doc["session"] / "imu-left.parquet")
    assert sch.field_unit(imu.field("gyro_z_dps")) == "deg/s"
    assert sch.field_unit(imu.field("accel_x_g")) == "g"


def test_moticon_manual_events_are_markers(plantar_home: Path, cli, capsys) -> None:  # type: ignore[no-untyped-def]
    src = shared_file(MOTICON_EVENTS)
    doc = _import(cli, capsys, src)
    _header, rows = _moticon_source(src)
    n_events = sum(1 for r in rows for i in (52, 54) if r[i].strip())
    events = pq.read_table(plantar_home / "sessions" / doc["session"] / "events.parquet")
    assert events.num_rows == n_events > 0
    assert set(events.column("kind").to_pylist()) == {sch.EVENT_MARKER}


def test_pedar_round_trip(plantar_home: Path, cli, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = shared_file(PEDAR)
    doc = _import(cli, capsys, src)
    lines = src.read_text(encoding="latin-1").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time[secs]")) + 1
    data = np.array([[float(x) for x in line.split()] for line in lines[start:] if line.strip()])
    out = _export_csv(cli, capsys, doc["session"], tmp_path / "p.csv")
    for foot, offset in (("left", 1), ("right", 100)):
        assert len(out[foot]) == len(data)
        _same(_exported(out[foot], "t_s"), data[:, 0])
        for k in (1, 50, 99):
            _same(_exported(out[foot], f"p{k:03d}_kpa"), data[:, offset + k - 1])


def test_gaitpdb_round_trip_converts_newtons_to_kpa(
    plantar_home: Path,
    cli,  # type: ignore[no-untyped-def]
    capsys,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    pytest.importorskip("hardware.layout")
    from hardware.layout import load_layout

    src = shared_file(GAITPDB)
    doc = _import(cli, capsys, src, "--format", "gaitpdb")
    data = np.array(
        [[float(x) for x in line.split("\t")] for line in src.read_text().splitlines() if line]
    )
    area_mm2 = load_layout("gaitpdb-8").sensel_area_mm2
    out = _export_csv(cli, capsys, doc["session"], tmp_path / "g.csv")
    for foot, offset in (("left", 1), ("right", 9)):
        assert len(out[foot]) == len(data)
        for k in range(8):
            expected_kpa = data[:, offset + k] / area_mm2[k] * 1000.0
            _same(_exported(out[foot], f"p{k + 1:03d}_kpa"), expected_kpa)
        _same(_exported(out[foot], "total_force_n"), data[:, 17 if foot == "left" else 18])


def test_parquet_export_keeps_units(plantar_home: Path, cli, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _import(cli, capsys, shared_file(PEDAR))
    out = tmp_path / "p.parquet"
    assert cli(["export", doc["session"][:15], "--format", "parquet", "-o", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == doc["frames"]
    assert sch.field_unit(table.schema.field("p099_kpa")) == "kPa"
    assert sch.field_unit(table.schema.field("t_device_us")) == "us"


def test_sessions_lists_and_filters(plantar_home: Path, cli, capsys) -> None:  # type: ignore[no-untyped-def]
    a = _import(cli, capsys, shared_file(PEDAR), "--athlete", "ann", "--sock", "thin")
    _import(cli, capsys, shared_file(PEDAR), "--athlete", "bob", "--sock", "thin")
    assert cli(["sessions", "--json", "--athlete", "ann"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [a["session"]]
    assert cli(["sessions", "--json", "--sock", "thin"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert cli(["sessions"]) == 0
    assert a["session"] in capsys.readouterr().out


# -- bad inputs: one line, non-zero exit, nothing already recorded lost -----------------


def _sessions_on_disk(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "sessions").iterdir())


def _assert_one_line_error(r, needle: str, code: int = 2) -> None:  # type: ignore[no-untyped-def]
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("plantar: error:") and needle in lines[0], lines[0]


@pytest.fixture
def home_with_one_session(plantar_home: Path, cli, capsys) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    doc = _import(cli, capsys, shared_file(PEDAR))
    return plantar_home, doc["session"]


def _still_intact(home: Path, session: str) -> None:
    assert _sessions_on_disk(home) == [session]
    assert pq.read_table(home / "sessions" / session / "left.parquet").num_rows == 1114
    assert [r["id"] for r in Catalog().list_sessions()] == [session]


def test_wrong_columns(home_with_one_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, session = home_with_one_session
    lines = shared_file(MOTICON).read_text(encoding="utf-8").splitlines()
    cut = ["\t".join(f for i, f in enumerate(line.split("\t")) if i != 16) for line in lines]
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(cut) + "\n", encoding="utf-8")
    r = run_cli("import", str(bad), env={"PLANTAR_HOME": str(home)})
    _assert_one_line_error(r, "no column 'left pressure 16'")
    gait = tmp_path / "g.txt"
    gait.write_text("0.0\t1\t2\t3\n0.01\t1\t2\t3\n")
    r = run_cli("import", str(gait), "--format", "gaitpdb", env={"PLANTAR_HOME": str(home)})
    _assert_one_line_error(r, "4 columns, expected 19")
    _still_intact(home, session)


@pytest.mark.parametrize("relative", [MOTICON, GAITPDB, PEDAR])
def test_truncated_import(home_with_one_session, tmp_path: Path, relative: str) -> None:  # type: ignore[no-untyped-def]
    home, session = home_with_one_session
    raw = shared_file(relative).read_bytes()
    bad = tmp_path / Path(relative).name
    bad.write_bytes(raw[: int(len(raw) * 0.6)])  # cut in the middle of a row
    r = run_cli("import", str(bad), env={"PLANTAR_HOME": str(home)})
    _assert_one_line_error(r, "file cut short")
    _still_intact(home, session)


def test_unknown_format(home_with_one_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, session = home_with_one_session
    r = run_cli(
        "import", str(shared_file(PEDAR)), "--format", "xyz", env={"PLANTAR_HOME": str(home)}
    )
    _assert_one_line_error(r, "unknown import format 'xyz'")
    other = tmp_path / "notes.txt"
    other.write_text("hello\nworld\n")
    r = run_cli("import", str(other), env={"PLANTAR_HOME": str(home)})
    _assert_one_line_error(r, "cannot tell the format")
    r = run_cli("export", "nope", "-o", str(tmp_path / "x.csv"), env={"PLANTAR_HOME": str(home)})
    _assert_one_line_error(r, "no session 'nope'")
    r = run_cli(
        "export",
        session,
        "--format",
        "xls",
        "-o",
        str(tmp_path / "x.xls"),
        env={"PLANTAR_HOME": str(home)},
    )
    _assert_one_line_error(r, "unknown export format")
    _still_intact(home, session)


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_import_on_a_full_disk_leaves_nothing_behind(home_with_one_session) -> None:  # type: ignore[no-untyped-def]
    home, session = home_with_one_session
    r = run_cli(
        "import",
        str(shared_file(GAITPDB)),
        env={"PLANTAR_HOME": str(home)},
        preexec_fn=_limit_file_size,
    )
    _assert_one_line_error(r, "import stopped: disk full", code=4)
    assert "nothing was imported" in r.stderr
    _still_intact(home, session)
