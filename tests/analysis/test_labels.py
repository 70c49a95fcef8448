"""Honest labels: no proxy number in ``plantar analyze --json`` (real recordings) or in an
alert without its kind and unit; one JSON form of the step and pivot records."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from analysis.analyzer import pivot_rising_alert
from analysis.records import (
    FREE_MOMENT_UNIT,
    PIVOT_KINDS,
    PivotValue,
    StepRecord,
    pivot_spec,
    round_or_none,
)
from tests.analysis.conftest import SHARED_DATA

#: Insole recordings (pressure only: every pivot is a proxy).
INSOLE_FILES = sorted(
    p
    for folder in ("moticon", "pedar", "physionet-gaitpdb")
    for p in (SHARED_DATA / folder).glob("*")
    if p.suffix in (".txt", ".asc")
)
HAS_IMU = {"moticon"}


def _walk(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")


def _numbers(obj: Any) -> bool:
    return any(isinstance(v, int | float) and not isinstance(v, bool) for _, v in _walk(obj))


def assert_pivot_numbers_labelled(doc: dict[str, Any]) -> None:
    """Every pivot object carries kind, unit and (for a proxy) a proxy label; no key of a
    trend or change-point table is a bare ``"pivot"`` (whose unit would depend on the
    kind); every alert on a proxy says proxy and names its unit."""
    seen = 0
    for path, obj in _walk(doc):
        if not isinstance(obj, dict):
            continue
        if path.endswith(".pivot") and isinstance(obj.get("kind"), str):
            seen += 1
            assert obj["kind"] in PIVOT_KINDS, path
            assert obj["unit"] == pivot_spec(obj["kind"]).unit, path
            if obj["kind"] == "proxy":
                assert "proxy" in obj["label"] and "proxy" in obj["quantity"], path
        for table in ("trends_per_minute", "fatigue"):
            if path.endswith(f".{table}"):
                assert "pivot" not in obj, f"{path} holds a bare 'pivot' key"
        if obj.get("kind") == "pivot_rising":
            assert obj["unit"] == pivot_spec(obj["pivot_kind"]).unit
            assert obj["unit"] in obj["message"]
            assert ("proxy" in obj["message"]) == (obj["pivot_kind"] == "proxy")
    assert seen, "no pivot record found"


def _analyze(path: Path) -> dict[str, Any]:
    from plantar.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["analyze", str(path), "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.mark.parametrize("path", INSOLE_FILES, ids=[p.name for p in INSOLE_FILES])
def test_analyze_json_of_real_recordings_labels_every_proxy(path: Path) -> None:
    doc = _analyze(path)
    assert doc["steps"], "no steps found"
    assert_pivot_numbers_labelled(doc)
    summary = doc["summary"]
    assert summary["pivot_kind"] == "proxy"
    assert set(summary["trends_per_minute"]) >= {pivot_spec("proxy").series_key}
    imu = path.parent.name in HAS_IMU
    labels = {s["pivot"]["label"] for s in doc["steps"]}
    assert labels == {"proxy: CoP and IMU signals, not shear" if imu else pivot_spec("proxy").label}
    # sparse insoles (8 or 16 sensors ~30-50 mm apart) say their hot spots are interpolated
    spots = [h for s in doc["steps"] for h in s.get("hotspots") or []]
    if path.parent.name in ("moticon", "physionet-gaitpdb"):
        assert all(h["interpolated"].startswith("interpolated:") for h in spots)
    else:
        assert all("interpolated" not in h for h in spots)
    assert not any("breaking down" in f for f in summary["fatigue_flags"])


def test_region_without_sensor_is_not_measured() -> None:
    files = [p for p in INSOLE_FILES if p.parent.name == "physionet-gaitpdb"]
    if not files:
        pytest.skip(f"no gaitpdb recording under {SHARED_DATA}")
    doc = _analyze(files[0])
    # gaitpdb has 8 sensors and none under MTH2-3 (docs: sensor positions in the README)
    for step in doc["steps"]:
        assert step["risk_dose"]["MTH2-3"] is None
        assert step["peak_pressure_kpa"]["MTH2-3"] is None
        assert step["peak_pressure_kpa"]["heel"] is not None
    risk = doc["summary"]["risk"]["MTH2-3"]
    assert risk["kind"] == "not measured" and risk["per_step"] is None
    assert doc["summary"]["risk"]["heel"]["per_step"] is not None


@pytest.mark.parametrize("kind", PIVOT_KINDS)
def test_alert_names_kind_and_unit(kind: str) -> None:
    alert = pivot_rising_alert(kind, 120.0, recent=13.8, base=10.0)
    assert "1.38x" in alert["message"]
    assert_pivot_numbers_labelled({"alerts": [alert], "x": {"pivot": _pivot(kind).to_dict()}})


def _pivot(kind: str) -> PivotValue:
    return PivotValue(kind, 12.3456789, {"other_mm": 1.0}, pivot_spec(kind).label)


def test_pivot_and_step_records_round_trip() -> None:
    for kind in PIVOT_KINDS:
        p = _pivot(kind)
        d = p.to_dict()
        assert d["value"] == 12.3457 and d["unit"] == pivot_spec(kind).unit
        back = PivotValue.from_dict(json.loads(json.dumps(d)))
        assert back.kind == kind and back.value == d["value"] and back.details == p.details
        bad = p.invalidated("frame loss at toe-off").to_dict()
        assert bad["value"] is None and bad["other_mm"] is None and bad["invalid"]
    assert pivot_spec("shear").unit == pivot_spec("force_plate").unit == FREE_MOMENT_UNIT
    # a record written before "value" existed reads its value from the kind's metric
    assert PivotValue.from_dict({"kind": "proxy", "cop_ml_sweep_late_mm": 4.0}).value == 4.0
    step = StepRecord(
        foot="left",
        heel_strike_s=1.0,
        toe_off_s=1.2504,
        step_time_s=None,
        stride_time_s=0.7,
        peak_force_n=float("nan"),
        loading_rate_n_per_s=1.0,
        strike_index=20.0,
        strike_pattern="rearfoot",
        cop_velocity_mm_per_s=1.0,
        late_stance_start_s=1.1,
        longest_gap_s=0.005,
        peak_pressure_kpa={"heel": 100.0, "MTH2-3": None},
        pti_kpa_s={"heel": 1.0, "MTH2-3": None},
        fti_n_s={"heel": 1.0, "MTH2-3": None},
        pivot=_pivot("shear"),
        risk_dose={"heel": 0.5, "MTH2-3": None},
    )
    d = json.loads(json.dumps(step.to_dict()))
    assert d["contact_time_s"] == 0.2504 and d["peak_force_n"] is None
    assert d["peak_pressure_kpa"]["MTH2-3"] is None
    again = StepRecord.from_dict(d).to_dict()
    assert again == d
    assert round_or_none("x") is None and round_or_none(1.23456, 2) == 1.23
