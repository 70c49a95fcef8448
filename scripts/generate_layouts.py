#!/usr/bin/env python3
"""Generate the shipped insole layouts and calibrations (deterministic).

Writes ``hardware/layouts/*.json`` and ``hardware/calibrations/*.json`` from a parametric
plantar outline of a LEFT foot (EU 42, foot length 265 mm). Run from the repository root::

    python scripts/generate_layouts.py            # write the files
    python scripts/generate_layouts.py --check    # fail if the files on disk differ
    python scripts/generate_layouts.py --derive-moticon export.txt   # re-derive the
                                                  # Moticon sensor table from a recording

Coordinates: origin at the posterior-most point of the heel on the long axis, +y toward
the toes, +x medial (left foot). See docs/layouts.md for the anatomy behind the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardware.datafile import format_data_json  # noqa: E402
from hardware.layout import (  # noqa: E402
    REGIONS,
    Layout,
    ShearSite,
    eu_from_foot_length,
    layout_to_dict,
    load_layout,
    points_in_polygon,
)

FOOT_LENGTH_MM = 265.0
EU_SIZE = eu_from_foot_length(FOOT_LENGTH_MM)  # 42.0

# ----------------------------------------------------------------------------- outline

# Control polygon of a left foot outline for a 265 mm foot: (fraction of foot length,
# x in mm, + medial). Heel width ~65 mm, forefoot width ~100 mm at the metatarsal heads,
# hallux tip at the front, toe tips stepping back laterally. Smoothed by corner cutting.
_MEDIAL = [
    (0.000, 0.0),
    (0.015, 14.0),
    (0.040, 24.0),
    (0.080, 30.0),
    (0.130, 32.5),
    (0.200, 32.0),
    (0.280, 29.5),
    (0.380, 29.0),
    (0.480, 31.0),
    (0.570, 35.5),
    (0.640, 40.0),
    (0.700, 43.0),
    (0.750, 44.5),
    (0.800, 43.5),
    (0.860, 41.5),
    (0.910, 38.5),
    (0.950, 34.0),
    (0.980, 27.0),
    (1.000, 16.0),
]
_TOES = [  # from the hallux tip laterally over the toe tips
    (0.997, 6.0),
    (0.982, -2.0),
    (0.972, -10.0),
    (0.955, -19.0),
    (0.930, -28.0),
    (0.895, -37.0),
    (0.855, -45.0),
]
_LATERAL = [  # from the fifth toe back to the heel
    (0.800, -51.5),
    (0.740, -55.5),
    (0.680, -57.0),
    (0.620, -55.5),
    (0.560, -52.0),
    (0.480, -46.5),
    (0.400, -41.5),
    (0.300, -37.0),
    (0.200, -34.5),
    (0.130, -33.0),
    (0.080, -30.0),
    (0.040, -24.0),
    (0.015, -14.0),
]


def foot_outline(foot_length_mm: float = FOOT_LENGTH_MM, iterations: int = 2) -> np.ndarray:
    """Closed (m, 2) outline of a left foot in mm, y spanning exactly 0..foot_length_mm."""
    k = foot_length_mm / FOOT_LENGTH_MM
    ctrl = np.array([(x * k, t * foot_length_mm) for t, x in _MEDIAL + _TOES + _LATERAL])
    pts = ctrl
    for _ in range(iterations):  # Chaikin corner cutting on the closed polygon
        nxt = np.roll(pts, -1, axis=0)
        pts = np.stack([0.75 * pts + 0.25 * nxt, 0.25 * pts + 0.75 * nxt], axis=1).reshape(-1, 2)
    y0, y1 = pts[:, 1].min(), pts[:, 1].max()
    pts[:, 1] = (pts[:, 1] - y0) * foot_length_mm / (y1 - y0)
    return np.round(pts, 1)


def depth_inside(points_xy: np.ndarray, polygon_xy: np.ndarray) -> np.ndarray:
    """Signed distance (mm) of points to the polygon edge: positive inside."""
    p = np.asarray(points_xy, dtype=np.float64)[:, None, :]
    a = polygon_xy[None, :, :]
    b = np.roll(polygon_xy, -1, axis=0)[None, :, :]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.sum(ab * ab, axis=2), 0.0, 1.0)
    dist = np.linalg.norm(p - (a + t[..., None] * ab), axis=2).min(axis=1)
    inside = points_in_polygon(points_xy, polygon_xy)
    return np.where(inside, dist, -dist)


def width_at(y_mm: float, polygon_xy: np.ndarray) -> tuple[float, float]:
    """Lateral-most and medial-most x (mm) of the outline at height y_mm."""
    a, b = polygon_xy, np.roll(polygon_xy, -1, axis=0)
    cross = (a[:, 1] > y_mm) != (b[:, 1] > y_mm)
    xs = a[cross, 0] + (y_mm - a[cross, 1]) * (b[cross, 0] - a[cross, 0]) / (
        b[cross, 1] - a[cross, 1]
    )
    return float(xs.min()), float(xs.max())


# ----------------------------------------------------------------------------- regions

HEEL_END = 0.27  # heel: posterior 27 % of foot length
MTH_START = 0.62  # metatarsal-head band starts here on the long axis ...
MTH_LENGTH = 0.16  # ... and is this long; toes begin at its distal edge
MTH_SLOPE = 0.177  # band is oblique: per unit of x/L the band moves this much along y/L
MTH1_FROM = 0.060  # x/L medial of which a forefoot point is under MTH1 (+15.9 mm)
MTH45_UPTO = -0.068  # x/L lateral of which it is under MTH4-5 (-18.0 mm)
HALLUX_FROM = 0.020  # x/L medial of which a toe point is under the hallux (+5.3 mm)


def region_of(xy_mm: np.ndarray, foot_length_mm: float = FOOT_LENGTH_MM) -> np.ndarray:
    """Region index (into REGIONS) of left-foot points, by the anatomical rule in the docs."""
    xy = np.asarray(xy_mm, dtype=np.float64).reshape(-1, 2)
    m = xy[:, 0] / foot_length_mm
    t = xy[:, 1] / foot_length_mm
    t_mth = MTH_START + MTH_SLOPE * m
    t_toe = t_mth + MTH_LENGTH
    names = np.select(
        [
            t < HEEL_END,
            t < t_mth,
            (t < t_toe) & (m > MTH1_FROM),
            (t < t_toe) & (m > MTH45_UPTO),
            t < t_toe,
            m > HALLUX_FROM,
        ],
        ["heel", "midfoot", "MTH1", "MTH2-3", "MTH4-5", "hallux"],
        "lesser_toes",
    )
    return np.array([REGIONS.index(str(n)) for n in names], dtype=np.int8)


# ----------------------------------------------------------------------------- layouts

ANATOMY = (
    "Outline: parametric plantar outline of a left foot, EU 42, foot length 265 mm, "
    "forefoot width ~100 mm, heel width ~65 mm (scripts/generate_layouts.py). Regions by the "
    "rule in docs/layouts.md."
)


def _layout(
    layout_id: str,
    name: str,
    xy: np.ndarray,
    area: np.ndarray,
    outline: np.ndarray,
    calibration_id: str,
    provenance: str,
    source: str,
    region: np.ndarray | None = None,
    shear: tuple[ShearSite, ...] = (),
    gait_events: str = "threshold",
) -> Layout:
    return Layout(
        id=layout_id,
        name=name,
        foot="left",
        foot_length_mm=FOOT_LENGTH_MM,
        eu_size=EU_SIZE,
        sensel_xy_mm=xy,
        sensel_area_mm2=area,
        sensel_region=region_of(xy) if region is None else region,
        shear_sites=shear,
        outline_mm=outline,
        calibration_id=calibration_id,
        provenance=provenance,
        source=source,
        gait_events=gait_events,
    )


def _grid(outline: np.ndarray, pitch_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Lattice points (columns on x = k*pitch, rows at y = (j+1/2)*pitch) over the outline's
    bounding box, in row order (heel to toe, lateral to medial), with their depth inside."""
    xs = np.arange(np.floor(outline[:, 0].min() / pitch_mm), outline[:, 0].max() / pitch_mm + 1)
    ys = np.arange(0.5, outline[:, 1].max() / pitch_mm + 1)
    gx, gy = np.meshgrid(xs * pitch_mm, ys * pitch_mm)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    return xy, depth_inside(xy, outline)


REF_PITCH_MM = 10.0
REF_MIN_DEPTH_MM = 4.0
SHEAR_AREA_MM2 = 100.0
REF_SHEAR_SITES = {  # name: (x / L, y / L), centred on the structure the site is named for
    "heel": (0.0, 0.11),
    "MTH1": (0.105, 0.73),
    "MTH2-3": (0.0, 0.715),
    "MTH4-5": (-0.125, 0.665),
    "hallux": (0.075, 0.90),
}


def plantar_ref(outline: np.ndarray) -> Layout:
    xy, depth = _grid(outline, REF_PITCH_MM)
    keep = depth >= REF_MIN_DEPTH_MM
    xy = xy[keep]
    shear = []
    for site_name, (mx, ty) in REF_SHEAR_SITES.items():
        pos = np.array([[mx * FOOT_LENGTH_MM, ty * FOOT_LENGTH_MM]])
        region = REGIONS[int(region_of(pos)[0])]
        assert region == site_name, (site_name, region)
        shear.append(ShearSite(site_name, pos[0, 0], pos[0, 1], SHEAR_AREA_MM2, region))
    return _layout(
        "plantar-ref",
        "Plantar reference insole (10 mm grid + 5 triaxial shear sites)",
        xy,
        np.full(len(xy), REF_PITCH_MM**2),
        outline,
        "plantar-ref-default",
        "designed",
        "Designed for this project: pressure sensels on a 10 mm square grid (8 x 8 mm "
        "electrodes, area_mm2 = the 10 x 10 mm cell each one stands for) clipped to the "
        f"outline, sensel centres >= {REF_MIN_DEPTH_MM:g} mm inside it; sensels numbered "
        "row by row from the heel, lateral to medial within a row. Five triaxial shear cells "
        "(10 x 10 mm) in a separate layer under the heel, MTH1, MTH2-3, MTH4-5 and hallux. "
        + ANATOMY,
        shear=tuple(shear),
    )


DENSE_COUNT = 1024


def plantar_dense(outline: np.ndarray) -> Layout:
    # Largest pitch (0.01 mm steps) whose lattice holds DENSE_COUNT cells at least half a
    # pitch inside the outline; keep the DENSE_COUNT deepest cells (ties: lattice order).
    for pitch in np.round(np.arange(6.0, 3.0, -0.01), 2):
        xy, depth = _grid(outline, float(pitch))
        if np.count_nonzero(depth >= pitch / 2) >= DENSE_COUNT:
            break
    order = np.sort(np.argsort(-depth, kind="stable")[:DENSE_COUNT])
    xy = xy[order]
    return _layout(
        "plantar-dense",
        f"Plantar dense insole ({DENSE_COUNT} sensels, {pitch:.2f} mm pitch)",
        xy,
        np.full(len(xy), float(pitch) ** 2),
        outline,
        "plantar-dense-default",
        "designed",
        f"Designed for this project: a Tekscan-class resistive matrix, {pitch:.2f} mm square "
        f"pitch, the {DENSE_COUNT} cells lying deepest inside the outline (all at least half a "
        "pitch inside); area_mm2 = pitch squared; sensels numbered row by row from the heel, "
        "lateral to medial within a row. " + ANATOMY,
    )


# Moticon OpenGo: the OpenGo software's total force and centre of pressure are exact linear
# functions of the 16 pressures (rms residual 0.3 N). Least squares on a text export gives,
# per sensor, an effective area (cm^2: sensor area x Moticon's area factor) and a position
# in Moticon's normalised insole coordinates (u: heel -0.5 .. toe +0.5; v: medio-lateral,
# + medial). Values from 230927_102114.txt (insole size 7, both feet agree to 0.005); the
# size-3 recording walk_with_events.txt gives the same positions. Re-derive with
# --derive-moticon.
MOTICON_SENSORS = [  # (u, v, effective area cm^2 at insole size 7)
    (-0.403, 0.109, 12.38),
    (-0.417, -0.166, 11.04),
    (-0.266, 0.089, 13.36),
    (-0.287, -0.225, 13.12),
    (-0.125, 0.061, 13.13),
    (-0.152, -0.273, 13.02),
    (0.080, 0.242, 17.96),
    (-0.012, -0.392, 18.22),
    (0.256, 0.274, 15.66),
    (0.241, 0.064, 12.43),
    (0.226, -0.116, 12.51),
    (0.207, -0.295, 12.66),
    (0.170, -0.463, 10.22),
    (0.413, 0.178, 10.13),
    (0.409, -0.082, 12.47),
    (0.359, -0.311, 6.51),
]
MOTICON_WIDTH_MM = 100.0  # v = 1 spans the forefoot width of the EU 42 outline
MOTICON_SIZE7_EU = 46.5  # assumed: OpenGo size 7 fits EU 46-47 (size 3: EU 38-39)


def moticon_16(outline: np.ndarray) -> Layout:
    uva = np.array(MOTICON_SENSORS)
    xy = np.column_stack([uva[:, 1] * MOTICON_WIDTH_MM, (uva[:, 0] + 0.5) * FOOT_LENGTH_MM])
    area = uva[:, 2] * 100.0 * (EU_SIZE / MOTICON_SIZE7_EU) ** 2
    return _layout(
        "moticon-16",
        "Moticon OpenGo (16 sensors)",
        xy,
        area,
        outline,
        "linear-0.1kpa",
        "approximation",
        "Approximation, not Moticon's drawing: positions and effective areas were recovered "
        "from a Moticon OpenGo text export (Apache-2.0 test data of moticon-rego/moticon-"
        "opengo, insole size 7) by least squares, because the exported total force and CoP "
        "are linear in the 16 pressures. Mapping: y_mm = (u + 0.5) * 265, x_mm = v * 100 "
        "(+v medial: the forefoot row slopes back toward -v, the fifth-metatarsal side, and the "
        "+v midfoot sensor 7 stays nearly unloaded, the -v one 8 does not). "
        "area_mm2 = effective area (sensor area x Moticon area factor, so force N = "
        "N/cm^2 x area_mm2 / 100) scaled from size 7 (assumed EU 46.5) to EU 42 by length "
        "squared. Sensor k is sensel k-1. " + ANATOMY,
        gait_events="share-of-peak",
    )


PEDAR_COUNT = 99
PEDAR_ROWS = 17
PEDAR_EDGE_MM = 1.5


def pedar_99(outline: np.ndarray) -> Layout:
    row_pitch = FOOT_LENGTH_MM / PEDAR_ROWS
    rows_y = (np.arange(PEDAR_ROWS) + 0.5) * row_pitch
    spans = np.array([width_at(float(y), outline) for y in rows_y])
    spans += np.array([PEDAR_EDGE_MM, -PEDAR_EDGE_MM])
    widths = spans[:, 1] - spans[:, 0]
    for pitch in np.round(np.arange(30.0, 5.0, -0.01), 2):
        counts = np.maximum(1, np.rint(widths / pitch)).astype(int)
        if counts.sum() >= PEDAR_COUNT:
            break
    while counts.sum() > PEDAR_COUNT:  # remove from the most crowded row
        counts[int(np.argmin(widths / counts))] -= 1
    xs, ys, areas = [], [], []
    for (x_lat, x_med), n, y in zip(spans, counts, rows_y, strict=True):
        cell = (x_med - x_lat) / n
        xs += list(x_med - (np.arange(n) + 0.5) * cell)  # medial to lateral
        ys += [y] * n
        areas += [cell * row_pitch] * n
    return _layout(
        "pedar-99",
        "novel pedar (99 sensors)",
        np.column_stack([xs, ys]),
        np.array(areas),
        outline,
        "linear-0.1kpa",
        "approximation",
        "Approximation of the novel pedar-x insole, not novel's drawing: 99 sensors in "
        f"{PEDAR_ROWS} rows across the outline, numbered heel to toe as pedar does and (assumed) "
        "medial to lateral within a row; sensors per row follow the local width "
        f"({', '.join(str(c) for c in counts)}); area_mm2 = the cell each sensor stands for "
        "(~2 cm^2, the size of pedar sensors). Sensor k is sensel k-1. Use a mask file from "
        "your pedar software for exact regions. " + ANATOMY,
    )


# PhysioNet gaitpdb, left foot, arbitrary units (x medio-lateral, y heel-to-toe).
GAITPDB_SENSORS = [
    (-500, -800),
    (-700, -400),
    (-300, -400),
    (-700, 0),
    (-300, 0),
    (-700, 400),
    (-300, 400),
    (-500, 800),
]
GAITPDB_UNITS_PER_FOOT_LENGTH = 2000.0  # 1 unit = L/2000 in both axes (isotropic)
GAITPDB_AREA_MM2 = 2000.0  # assumed: each sensor stands for 20 cm^2 (an 1/8 share)


def gaitpdb_8(outline: np.ndarray) -> Layout:
    au = np.array(GAITPDB_SENSORS, dtype=np.float64)
    k = FOOT_LENGTH_MM / GAITPDB_UNITS_PER_FOOT_LENGTH
    xy = np.column_stack([(au[:, 0] + 500.0) * k, FOOT_LENGTH_MM / 2 + au[:, 1] * k])
    region = region_of(xy)
    region[7] = REGIONS.index("hallux")  # L8: single toe sensor on the centre line
    return _layout(
        "gaitpdb-8",
        "PhysioNet gaitpdb (8 force sensors)",
        xy,
        np.full(len(xy), GAITPDB_AREA_MM2),
        outline,
        "linear-0.1kpa",
        "approximation",
        "Sensor positions from the PhysioNet 'Gait in Parkinson's Disease' (gaitpdb) "
        "description, arbitrary units mapped isotropically: x_mm = (x_au + 500) * L/2000, "
        "y_mm = L/2 + y_au * L/2000 (L = 265 mm; L1 heel at 10 % and L8 toe at 90 % of foot "
        "length). x_au = -300 is taken as MEDIAL: the left foot lies at negative x in a "
        "frame centred between the feet, so its medial side is nearer 0 (L3, L5, L7 medial; "
        "L2, L4, L6 lateral); the recordings agree (L5, under the medial arch, carries the "
        "least load, L7 under MTH1 the most). L8 sits on the centre line under the toes and "
        "is labelled hallux. area_mm2 = 2000 is an ASSUMPTION (each sensor stands for an "
        "eighth of the ~160 cm^2 loaded plantar area) so that kPa = 1000 * N / area_mm2; "
        "gaitpdb records force in N. Sensor Lk is sensel k-1. " + ANATOMY,
        region=region,
    )


# ----------------------------------------------------------------------------- calibrations


def calibrations() -> dict[str, dict]:
    ref_c2, ref_c3, ref_full_kpa = 6e-5, -5e-9, 600.0
    u = 4095.0
    ref_gain = ref_full_kpa / (u + ref_c2 * u**2 + ref_c3 * u**3)
    dense_c2 = 1e-3
    dense_gain = 750.0 / (255.0 + dense_c2 * 255.0**2)
    return {
        "plantar-ref-default": {
            "format": "plantar-calibration/1",
            "id": "plantar-ref-default",
            "description": "Nominal curve of the plantar-ref sensels (piezoresistive film in a "
            "voltage divider, 12-bit ADC, tared by the firmware): about 600 kPa at full "
            "scale, rising faster than linear toward saturation. Replace with a per-insole "
            "calibration for measurements.",
            "adc_bits": 12,
            "adc_max_counts": 4095,
            "default": {
                "offset_counts": 0,
                "gain_kpa_per_count": round(ref_gain, 6),
                "c2": ref_c2,
                "c3": ref_c3,
            },
        },
        "plantar-dense-default": {
            "format": "plantar-calibration/1",
            "id": "plantar-dense-default",
            "description": "Nominal curve of an 8-bit resistive matrix insole: about 750 kPa "
            "at full scale with a mild quadratic term.",
            "adc_bits": 8,
            "adc_max_counts": 255,
            "default": {
                "offset_counts": 0,
                "gain_kpa_per_count": round(dense_gain, 6),
                "c2": dense_c2,
                "c3": 0.0,
            },
        },
        "linear-0.1kpa": {
            "format": "plantar-calibration/1",
            "id": "linear-0.1kpa",
            "description": "Identity-like scale for systems that report kPa themselves "
            "(Moticon, pedar, gaitpdb after conversion): 1 count = 0.1 kPa, 16-bit, up to "
            "6553.5 kPa.",
            "adc_bits": 16,
            "adc_max_counts": 65535,
            "default": {"offset_counts": 0, "gain_kpa_per_count": 0.1, "c2": 0.0, "c3": 0.0},
        },
    }


# ----------------------------------------------------------------------------- main


def build() -> dict[Path, str]:
    """All generated files: path -> text."""
    outline = foot_outline()
    files: dict[Path, str] = {}
    for make in (plantar_ref, plantar_dense, moticon_16, pedar_99, gaitpdb_8):
        layout = make(outline)
        inside = points_in_polygon(layout.sensel_xy_mm, outline)
        assert inside.all(), (layout.id, np.flatnonzero(~inside))
        assert points_in_polygon(layout.shear_xy_mm, outline).all(), layout.id
        text = format_data_json(layout_to_dict(layout)) + "\n"
        files[ROOT / "hardware" / "layouts" / f"{layout.id}.json"] = text
    for cal_id, doc in calibrations().items():
        files[ROOT / "hardware" / "calibrations" / f"{cal_id}.json"] = format_data_json(doc) + "\n"
    return files


def derive_moticon(path: Path) -> None:
    """Print the Moticon sensor table recovered from an OpenGo text export."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        rows.append([float(v) if v.strip() else np.nan for v in fields[1:26]])
    data = np.array(rows)
    p, force, cop_u, cop_v = data[:, :16], data[:, 22], data[:, 23], data[:, 24]
    ok = np.isfinite(data).all(axis=1) & (force > 50.0)
    area, *_ = np.linalg.lstsq(p[ok], force[ok], rcond=None)
    bu, *_ = np.linalg.lstsq(p[ok], force[ok] * cop_u[ok], rcond=None)
    bv, *_ = np.linalg.lstsq(p[ok], force[ok] * cop_v[ok], rcond=None)
    rms = np.sqrt(np.mean((p[ok] @ area - force[ok]) ** 2))
    print(f"# left foot, {ok.sum()} loaded samples, force fit rms {rms:.2f} N")
    for a, x, y in zip(area, bu / area, bv / area, strict=True):
        print(f"    ({x:.3f}, {y:.3f}, {a:.2f}),")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    parser.add_argument("--derive-moticon", type=Path, metavar="TXT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.derive_moticon:
        derive_moticon(args.derive_moticon)
        return 0
    stale = []
    for path, text in build().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if path.parent.name == "layouts":
            layout = load_layout(path)
            counts = {r: int(layout.region_mask(r).sum()) for r in REGIONS}
            print(f"{path.relative_to(ROOT)}: {layout.n_sensels} sensels, {counts}")
        else:
            json.loads(text)
            print(f"{path.relative_to(ROOT)}")
    if stale:
        print("out of date: " + ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
