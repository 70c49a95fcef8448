"""Tests of hardware.layout: shipped layouts, geometry transforms and file validation."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from base.errors import ConfigError
from hardware.calibration import load_calibration
from hardware.datafile import format_data_json
from hardware.layout import (
    LAYOUT_DIR,
    REGIONS,
    available_layouts,
    eu_from_foot_length,
    foot_length_from_eu,
    layout_to_dict,
    load_layout,
    points_in_polygon,
)

SHIPPED = ["plantar-ref", "plantar-dense", "moticon-16", "pedar-99", "gaitpdb-8"]
EXPECTED_COUNTS = {"plantar-dense": 1024, "moticon-16": 16, "pedar-99": 99, "gaitpdb-8": 8}


def _centroid_y(layout, regions: tuple[str, ...]) -> float:
    mask = np.zeros(layout.n_sensels, dtype=bool)
    for region in regions:
        mask |= layout.region_mask(region)
    assert mask.any(), f"{layout.id}: no sensel in {regions}"
    return float(layout.sensel_xy_mm[mask, 1].mean())


def _centroid_x(layout, region: str) -> float:
    mask = layout.region_mask(region)
    return float(layout.sensel_xy_mm[mask, 0].mean())


def test_available_layouts_lists_the_shipped_files():
    assert set(SHIPPED) <= set(available_layouts())


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_shipped_layout_loads_with_its_calibration(layout_id):
    layout = load_layout(layout_id)
    assert layout.id == layout_id
    assert layout.foot == "left"
    assert layout.sensel_xy_mm.shape == (layout.n_sensels, 2)
    assert np.all(layout.sensel_area_mm2 > 0)
    assert layout.provenance in ("designed", "published-figure", "approximation")
    assert layout.source.strip()
    assert foot_length_from_eu(layout.eu_size) == pytest.approx(layout.foot_length_mm, abs=0.5)
    cal = load_calibration(layout.calibration_id, layout.n_sensels)
    assert cal.n_sensels == layout.n_sensels


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_sensel_counts(layout_id):
    layout = load_layout(layout_id)
    if layout_id == "plantar-ref":
        assert 128 <= layout.n_sensels <= 256
        assert [s.name for s in layout.shear_sites] == [
            "heel",
            "MTH1",
            "MTH2-3",
            "MTH4-5",
            "hallux",
        ]
        assert np.all((layout.shear_area_mm2 >= 50) & (layout.shear_area_mm2 <= 200))
        assert all(s.region == s.name for s in layout.shear_sites)
    else:
        assert layout.n_sensels == EXPECTED_COUNTS[layout_id]
        assert layout.n_shear == 0


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_region_masks_partition_the_sensels(layout_id):
    layout = load_layout(layout_id)
    masks = np.array([layout.region_mask(r) for r in REGIONS])
    assert np.all(masks.sum(axis=0) == 1)
    assert masks.shape == (len(REGIONS), layout.n_sensels)


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_regions_are_ordered_heel_to_toe(layout_id):
    layout = load_layout(layout_id)
    heel = _centroid_y(layout, ("heel",))
    midfoot = _centroid_y(layout, ("midfoot",))
    mth = _centroid_y(layout, ("MTH1", "MTH2-3", "MTH4-5"))
    toes = _centroid_y(layout, ("hallux", "lesser_toes"))
    assert heel < midfoot < mth < toes
    length = layout.foot_length_mm
    assert layout.sensel_xy_mm[layout.region_mask("heel"), 1].max() <= 0.30 * length
    mth_y = layout.sensel_xy_mm[layout.region_mask("MTH1") | layout.region_mask("MTH4-5"), 1]
    assert 0.55 * length <= mth_y.min() and mth_y.max() <= 0.82 * length


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_mth1_is_medial_of_mth45(layout_id):
    left = load_layout(layout_id, foot="left")
    right = load_layout(layout_id, foot="right")
    # +x is medial on the left foot and lateral on the right foot.
    assert _centroid_x(left, "MTH1") > _centroid_x(left, "MTH4-5")
    assert _centroid_x(right, "MTH1") < _centroid_x(right, "MTH4-5")
    assert right.foot == "right"


@pytest.mark.parametrize("layout_id", SHIPPED)
def test_every_sensel_and_shear_site_is_inside_the_outline(layout_id):
    layout = load_layout(layout_id)
    assert points_in_polygon(layout.sensel_xy_mm, layout.outline_mm).all()
    assert points_in_polygon(layout.shear_xy_mm, layout.outline_mm).all()
    outline_y = layout.outline_mm[:, 1]
    assert outline_y.min() == pytest.approx(0.0, abs=0.5)
    assert outline_y.max() == pytest.approx(layout.foot_length_mm, abs=0.5)


def test_points_in_polygon_on_a_concave_shape():
    # A "U": the notch between the arms is outside.
    u_shape = np.array([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)], float)
    points = np.array([(0.5, 2.0), (1.5, 2.0), (2.5, 2.0), (1.5, 0.5), (4.0, 1.0), (-1.0, 1.0)])
    assert points_in_polygon(points, u_shape).tolist() == [True, False, True, True, False, False]


def test_mirror_twice_is_identity_and_mirror_flips_x():
    layout = load_layout("plantar-ref")
    right = layout.mirrored()
    back = right.mirrored()
    assert right.foot == "right" and back.foot == "left"
    np.testing.assert_array_equal(right.sensel_xy_mm[:, 0], -layout.sensel_xy_mm[:, 0])
    np.testing.assert_array_equal(right.shear_xy_mm[:, 0], -layout.shear_xy_mm[:, 0])
    np.testing.assert_array_equal(right.outline_mm[:, 0], -layout.outline_mm[:, 0])
    np.testing.assert_array_equal(back.sensel_xy_mm, layout.sensel_xy_mm)
    np.testing.assert_array_equal(back.outline_mm, layout.outline_mm)
    np.testing.assert_array_equal(back.shear_xy_mm, layout.shear_xy_mm)
    np.testing.assert_array_equal(right.sensel_region, layout.sensel_region)
    assert layout.for_foot("left") is layout
    np.testing.assert_array_equal(layout.for_foot("right").sensel_xy_mm, right.sensel_xy_mm)


def test_scaling_twice_the_length_doubles_lengths_and_quadruples_areas():
    layout = load_layout("plantar-ref").scaled(foot_length_mm=150.0)
    big = layout.scaled(foot_length_mm=300.0)
    np.testing.assert_allclose(big.sensel_xy_mm, 2 * layout.sensel_xy_mm)
    np.testing.assert_allclose(big.outline_mm, 2 * layout.outline_mm)
    np.testing.assert_allclose(big.sensel_area_mm2, 4 * layout.sensel_area_mm2)
    np.testing.assert_allclose(big.shear_xy_mm, 2 * layout.shear_xy_mm)
    np.testing.assert_allclose(big.shear_area_mm2, 4 * layout.shear_area_mm2)
    np.testing.assert_array_equal(big.sensel_region, layout.sensel_region)
    assert big.foot_length_mm == 300.0
    assert big.eu_size == pytest.approx(eu_from_foot_length(300.0))


def test_eu_size_conversion_and_load_with_size():
    assert foot_length_from_eu(42) == pytest.approx(265.0)
    assert eu_from_foot_length(foot_length_from_eu(38.5)) == pytest.approx(38.5)
    base = load_layout("moticon-16")
    small = load_layout("moticon-16", foot="right", eu_size=38)
    k = foot_length_from_eu(38) / base.foot_length_mm
    assert small.foot == "right" and small.eu_size == 38
    np.testing.assert_allclose(small.sensel_xy_mm[:, 1], k * base.sensel_xy_mm[:, 1])
    np.testing.assert_allclose(small.sensel_area_mm2, k * k * base.sensel_area_mm2)


@pytest.mark.parametrize("bad", [{"eu_size": 0}, {"foot_length_mm": float("nan")}, {}])
def test_scaled_rejects_bad_sizes(bad):
    layout = load_layout("gaitpdb-8")
    with pytest.raises((ConfigError, ValueError)):
        layout.scaled(**bad)


def test_arrays_are_read_only():
    layout = load_layout("pedar-99")
    for arr in (layout.sensel_xy_mm, layout.sensel_area_mm2, layout.sensel_region):
        with pytest.raises(ValueError):
            arr[0] = 0
    assert layout.sensel_region.dtype == np.int8


def test_written_document_round_trips(tmp_path):
    layout = load_layout("plantar-ref")
    path = tmp_path / "copy.json"
    path.write_text(format_data_json(layout_to_dict(layout)))
    again = load_layout(path)
    np.testing.assert_array_equal(again.sensel_xy_mm, layout.sensel_xy_mm)
    np.testing.assert_array_equal(again.sensel_region, layout.sensel_region)
    assert again.shear_sites == layout.shear_sites


# ---------------------------------------------------------------------- bad files


def _doc() -> dict:
    return json.loads((LAYOUT_DIR / "moticon-16.json").read_text())


def _set(doc: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    obj = doc
    for key in parents:
        obj = obj[int(key)] if key.isdigit() else obj[key]
    if value is _DELETE:
        del obj[last]
    elif last.isdigit():
        obj[int(last)] = value
    else:
        obj[last] = value


_DELETE = object()

BAD_LAYOUTS = [
    ("format", "plantar-layout/2", "format"),
    ("format", _DELETE, "format"),
    ("foot", "right", "foot"),
    ("foot_length_mm", -265, "foot_length_mm"),
    ("eu_size", "42", "eu_size"),
    ("provenance", "guess", "provenance"),
    ("gait_events", "knee", "gait_events"),
    ("calibration_id", "", "calibration_id"),
    ("sensels.area_mm2.3", -1.0, "sensels.area_mm2[3]"),
    ("sensels.area_mm2.0", 0, "sensels.area_mm2[0]"),
    ("sensels.x_mm.2", None, "sensels.x_mm[2]"),
    ("sensels.x_mm.2", True, "sensels.x_mm[2]"),
    ("sensels.y_mm", [1.0, 2.0], "sensels.y_mm"),
    ("sensels.region.5", "toes", "sensels.region[5]"),
    ("sensels.region", _DELETE, "sensels.region"),
    ("sensels", [], "sensels"),
    ("outline_mm.x_mm", [0.0, 1.0], "outline_mm.x_mm"),
    ("outline_mm.y_mm.4", "x", "outline_mm.y_mm[4]"),
    ("shear_sites", {"name": "heel"}, "shear_sites"),
]


@pytest.mark.parametrize(("dotted", "value", "field"), BAD_LAYOUTS)
def test_bad_layout_file_names_file_and_field(tmp_path, dotted, value, field):
    doc = _doc()
    _set(doc, dotted, value)
    path = tmp_path / "bad_layout.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as err:
        load_layout(path)
    message = str(err.value)
    assert str(path) in message
    assert f"'{field}'" in message
    assert "\n" not in message
    assert "plantar-ref" in message  # lists the shipped alternatives


def test_non_finite_number_is_rejected(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(_doc()).replace("25.7", "NaN", 1))
    with pytest.raises(ConfigError, match=r"sensels\.y_mm\[0\]' must be a finite number"):
        load_layout(path)


def test_empty_sensel_list_is_rejected(tmp_path):
    doc = _doc()
    for key in ("x_mm", "y_mm", "area_mm2", "region"):
        doc["sensels"][key] = []
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"'sensels\.x_mm' must list at least one sensel"):
        load_layout(path)


def test_duplicate_shear_site_names_are_rejected(tmp_path):
    doc = json.loads(json.dumps(layout_to_dict(load_layout("plantar-ref"))))
    doc["shear_sites"][1]["name"] = doc["shear_sites"][0]["name"]
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"'shear_sites\[1\]\.name' must be unique"):
        load_layout(path)


def test_invalid_json_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "plantar-layout/1",\n  "id": oops\n}\n')
    with pytest.raises(ConfigError) as err:
        load_layout(path)
    message = str(err.value)
    assert str(path) in message and "line 3 column" in message and "\n" not in message


def test_missing_file_and_unknown_id(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_layout(tmp_path / "nope.json")
    with pytest.raises(ConfigError) as err:
        load_layout("no-such-insole")
    assert all(layout_id in str(err.value) for layout_id in SHIPPED)


def test_unknown_foot_is_rejected():
    with pytest.raises(ConfigError, match="foot"):
        load_layout("gaitpdb-8", foot="middle")


def test_shipped_files_match_the_generator():
    script = LAYOUT_DIR.parent.parent / "scripts" / "generate_layouts.py"
    spec = importlib.util.spec_from_file_location("generate_layouts", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in module.build().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name}: run {script.name}"


def test_gait_event_convention_defaults_to_threshold_and_round_trips(tmp_path):
    """A layout without ``gait_events`` (files older than the field) uses the threshold; the
    shipped Moticon layout declares the end of the unloading, and the writer keeps it."""
    doc = _doc()
    doc.pop("gait_events", None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    assert load_layout(path).gait_events == "threshold"
    moticon = load_layout("moticon-16", foot="right", eu_size=38.0)
    assert moticon.gait_events == "share-of-peak"
    assert layout_to_dict(load_layout("moticon-16"))["gait_events"] == "share-of-peak"
    assert {load_layout(i).gait_events for i in ("plantar-ref", "pedar-99", "gaitpdb-8")} == {
        "threshold"
    }
