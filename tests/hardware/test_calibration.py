"""Tests of hardware.calibration: the count <-> kPa model and file validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from base.errors import ConfigError
from hardware.calibration import (
    CALIBRATION_DIR,
    Calibration,
    available_calibrations,
    load_calibration,
)

SHIPPED = ["plantar-ref-default", "plantar-dense-default", "linear-0.1kpa"]


def _write(tmp_path, doc: dict, name: str = "cal.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _doc(**default) -> dict:
    params = {"offset_counts": 0, "gain_kpa_per_count": 0.1, "c2": 0.0, "c3": 0.0}
    params.update(default)
    return {
        "format": "plantar-calibration/1",
        "id": "test-cal",
        "adc_bits": 12,
        "adc_max_counts": 4095,
        "default": params,
    }


def _assert_round_trip(cal: Calibration, pressure_kpa: np.ndarray) -> None:
    counts = cal.to_counts(pressure_kpa)
    assert counts.dtype == np.uint16 and counts.shape == pressure_kpa.shape
    back = cal.to_kpa(counts).astype(np.float64)
    # One count's worth of kPa at the recovered count (the larger neighbouring step).
    up = cal.to_kpa(np.minimum(counts.astype(np.int64) + 1, cal.adc_max_counts))
    down = cal.to_kpa(np.maximum(counts.astype(np.int64) - 1, 0))
    one_count = np.maximum(up - back, back - down) + 1e-4
    assert np.all(np.abs(back - pressure_kpa) <= one_count)


def test_shipped_calibrations_are_listed():
    assert set(SHIPPED) <= set(available_calibrations())


@pytest.mark.parametrize("cal_id", SHIPPED)
def test_round_trip_within_one_count(cal_id):
    n = 7
    cal = load_calibration(cal_id, n)
    full_scale = float(cal.to_kpa(np.full(n, cal.adc_max_counts))[0])
    rng = np.random.default_rng(1)
    pressure = rng.uniform(0.0, full_scale, size=(50, n))
    _assert_round_trip(cal, pressure)


def test_reference_calibration_is_polynomial_with_600_kpa_full_scale():
    cal = load_calibration("plantar-ref-default", 3)
    assert cal.adc_max_counts == 4095
    assert np.all(cal.c2 != 0) and np.all(cal.c3 != 0)
    full = cal.to_kpa(np.full((1, 3), 4095))
    assert full.dtype == np.float32
    np.testing.assert_allclose(full, 600.0, rtol=0.01)
    # The polynomial is not the straight line through the end points.
    half = cal.to_kpa(np.full(3, 2048))
    assert abs(float(half[0]) - 300.0) > 10.0


def test_model_matches_formula_with_per_sensel_arrays(tmp_path):
    doc = _doc()
    doc["per_sensel"] = {
        "offset_counts": [0, 10, 20],
        "gain_kpa_per_count": [0.1, 0.2, 0.3],
        "c2": [0.0, 1e-4, 2e-4],
    }
    cal = load_calibration(_write(tmp_path, doc), 3)
    counts = np.array([[0, 5, 30], [100, 110, 120]], dtype=np.uint16)
    u = np.maximum(counts - np.array([0, 10, 20]), 0).astype(np.float64)
    expected = np.array([0.1, 0.2, 0.3]) * (u + np.array([0.0, 1e-4, 2e-4]) * u**2)
    np.testing.assert_allclose(cal.to_kpa(counts), expected, rtol=1e-6)
    _assert_round_trip(cal, np.array([[0.0, 5.0, 12.0], [30.0, 100.0, 200.0]]))
    # Zero pressure maps to the unloaded reading (the offset).
    assert cal.to_counts(np.zeros(3)).tolist() == [0, 10, 20]


def test_to_counts_clips_to_adc_range():
    cal = load_calibration("linear-0.1kpa", 2)
    assert cal.to_counts(np.array([-5.0, 1e9])).tolist() == [0, 65535]
    assert cal.to_counts(np.array([12.34, 0.05])).tolist() == [123, 0]


def test_monotonic_decreasing_default_is_rejected(tmp_path):
    path = _write(tmp_path, _doc(c2=0.0, c3=-1e-7))
    with pytest.raises(ConfigError) as err:
        load_calibration(path, 4)
    message = str(err.value)
    assert str(path) in message and "'default.c3'" in message and "non-decreasing" in message
    assert "\n" not in message


def test_non_monotonic_per_sensel_curve_is_rejected(tmp_path):
    doc = _doc()
    doc["per_sensel"] = {"c2": [0.0, 0.0, -1e-3]}  # slope 1 - 2e-3 u < 0 above 500 counts
    with pytest.raises(ConfigError, match=r"'per_sensel\.c2\[2\]' makes the curve decrease"):
        load_calibration(_write(tmp_path, doc), 3)


def test_curve_with_dip_inside_range_is_rejected(tmp_path):
    # slope 1 - 2e-3 u + 3e-7 u^2 is positive at 0 and at 4095 but negative near 3333.
    path = _write(tmp_path, _doc(c2=-1e-3, c3=1e-7))
    with pytest.raises(ConfigError, match="decrease"):
        load_calibration(path, 2)


def test_wrong_length_is_rejected(tmp_path):
    doc = _doc()
    doc["per_sensel"] = {"gain_kpa_per_count": [0.1, 0.1]}
    with pytest.raises(ConfigError) as err:
        load_calibration(_write(tmp_path, doc), 3)
    assert "'per_sensel.gain_kpa_per_count' must have 3 values (got 2)" in str(err.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "plantar-calibration/9"}, "format"),
        ({"id": 5}, "id"),
        ({"adc_bits": 12, "adc_max_counts": 5000}, "adc_max_counts"),
        ({"adc_max_counts": 0}, "adc_max_counts"),
        ({"default": {"gain_kpa_per_count": 0.0}}, "default.gain_kpa_per_count"),
        ({"default": {"gain_kpa_per_count": -0.1}}, "default.gain_kpa_per_count"),
        ({"default": {"c2": 0.0}}, "default.gain_kpa_per_count"),
        ({"default": {"gain_kpa_per_count": 0.1, "offset_counts": -3}}, "default.offset_counts"),
        ({"default": {"gain_kpa_per_count": 0.1, "gain": 2}}, "default.gain"),
        ({"per_sensel": {"gain_kpa_per_count": [0.1, "x"]}}, "per_sensel.gain_kpa_per_count[1]"),
        ({"per_sensel": {"offset_counts": [0, 9999]}}, "per_sensel.offset_counts[1]"),
    ],
)
def test_bad_calibration_file_names_file_and_field(tmp_path, change, field):
    doc = _doc()
    doc.update(change)
    path = _write(tmp_path, doc)
    with pytest.raises(ConfigError) as err:
        load_calibration(path, 2)
    message = str(err.value)
    assert str(path) in message and f"'{field}'" in message and "\n" not in message


def test_nan_gain_is_rejected(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(
        json.dumps(_doc()).replace('"gain_kpa_per_count": 0.1', '"gain_kpa_per_count": NaN')
    )
    with pytest.raises(ConfigError, match="finite"):
        load_calibration(path, 2)


def test_unknown_id_lists_available_and_bad_json_gives_position(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_calibration("no-such-cal", 4)
    assert all(cal_id in str(err.value) for cal_id in SHIPPED)
    path = tmp_path / "broken.json"
    path.write_text('{"format": "plantar-calibration/1",,}')
    with pytest.raises(ConfigError, match="line 1 column"):
        load_calibration(path, 4)


def test_shipped_files_are_in_the_calibration_dir():
    for cal_id in SHIPPED:
        doc = json.loads((CALIBRATION_DIR / f"{cal_id}.json").read_text())
        assert doc["id"] == cal_id


def test_shared_table_and_per_sensel_bisection_agree():
    shared = load_calibration("plantar-ref-default", 4)
    gain = shared.gain_kpa_per_count.copy()
    gain[0] *= 1.0 + 1e-9  # no longer one shared curve: takes the bisection path
    split = Calibration(
        id="split",
        adc_max_counts=shared.adc_max_counts,
        offset_counts=shared.offset_counts,
        gain_kpa_per_count=gain,
        c2=shared.c2,
        c3=shared.c3,
    )
    pressure = np.random.default_rng(2).uniform(-10.0, 700.0, size=(200, 4))
    a = shared.to_counts(pressure).astype(int)
    b = split.to_counts(pressure).astype(int)
    assert np.max(np.abs(a - b)) <= 1
    assert a.max() == 4095 and a.min() == 0
