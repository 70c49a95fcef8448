"""Insole layouts: where the sensors of an insole sit under the foot.

A layout is a data file (JSON, format ``plantar-layout/1``) in ``hardware/layouts/``; this
module loads and validates it, and derives the other foot (:meth:`Layout.mirrored`) and
other shoe sizes (:meth:`Layout.scaled`). The file format is described in
``docs/layouts.md``.

Coordinates (mm): origin at the posterior-most point of the heel on the foot's long axis,
+y anterior (heel to toe), x medio-lateral as seen from above. Files are stored for the
LEFT foot, where +x is medial (big-toe side); for the right foot +x is lateral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from base.errors import ConfigError
from hardware.datafile import FieldReader, readonly_array, resolve_data_file

LAYOUT_FORMAT = "plantar-layout/1"
REGIONS: tuple[str, ...] = (
    "heel",
    "midfoot",
    "MTH1",
    "MTH2-3",
    "MTH4-5",
    "hallux",
    "lesser_toes",
)
#: The forefoot: the metatarsal heads and the toes (the forefoot peak pressure of a step,
#: where running blisters form, and where a hand presses an insole to tell which foot it is).
FOREFOOT_REGIONS: tuple[str, ...] = ("MTH1", "MTH2-3", "MTH4-5", "hallux", "lesser_toes")
FEET: tuple[str, ...] = ("left", "right")
PROVENANCES: tuple[str, ...] = ("designed", "published-figure", "approximation")
#: Where the sensor's force says the foot lands and leaves (``Layout.gait_events``):
#: ``"threshold"``, the force crossing the contact level (a sensor whose reading returns to
#: its floor as the foot unloads, like a force plate); ``"share-of-peak"``, heel strike at
#: 5 % of the typical step peak and toe-off at 10 % of the step's own peak (a sensor still
#: reading load after the foot has gone, whose maker times events there: Moticon). See
#: docs/metrics.md, "Gait events".
GAIT_EVENT_CONVENTIONS: tuple[str, ...] = ("threshold", "share-of-peak")
LAYOUT_DIR = Path(__file__).resolve().parent / "layouts"

# Shoe size (EU / Paris points): one point is 2/3 cm of shoe (last) length, and the foot
# is about 15 mm shorter than the shoe. EU 42 -> shoe 280 mm -> foot 265 mm.
MM_PER_EU_POINT = 20.0 / 3.0
SHOE_ALLOWANCE_MM = 15.0
EU_SIZE_RANGE = (15.0, 60.0)


def foot_length_from_eu(eu_size: float) -> float:
    """Foot length in mm for an EU (Paris point) shoe size: ``eu * 20/3 - 15``."""
    return eu_size * MM_PER_EU_POINT - SHOE_ALLOWANCE_MM


def eu_from_foot_length(foot_length_mm: float) -> float:
    """EU (Paris point) shoe size for a foot length in mm, the inverse of
    :func:`foot_length_from_eu`."""
    return (foot_length_mm + SHOE_ALLOWANCE_MM) / MM_PER_EU_POINT


@dataclass(frozen=True)
class ShearSite:
    """One triaxial (shear + normal) sensing site.

    Attributes
    ----------
    name : str
        Unique name within the layout, e.g. ``"MTH1"``.
    x_mm, y_mm : float
        Centre in layout coordinates.
    area_mm2 : float
        Sensing area.
    region : str
        One of :data:`REGIONS`.
    """

    name: str
    x_mm: float
    y_mm: float
    area_mm2: float
    region: str


@dataclass(frozen=True, eq=False)
class Layout:
    """The sensor geometry of one insole for one foot at one size.

    Arrays are read-only. ``sensel_region`` holds indices into :data:`REGIONS`.
    """

    id: str
    name: str
    foot: str
    foot_length_mm: float
    eu_size: float
    sensel_xy_mm: np.ndarray
    sensel_area_mm2: np.ndarray
    sensel_region: np.ndarray
    shear_sites: tuple[ShearSite, ...]
    outline_mm: np.ndarray
    calibration_id: str
    provenance: str
    source: str
    gait_events: str = "threshold"
    _shear_xy_mm: np.ndarray = field(init=False, repr=False)
    _shear_area_mm2: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        xy = readonly_array(self.sensel_xy_mm, np.float64, (2,))
        n = xy.shape[0]
        area = readonly_array(self.sensel_area_mm2, np.float64)
        region = readonly_array(self.sensel_region, np.int8)
        outline = readonly_array(self.outline_mm, np.float64, (2,))
        if area.shape != (n,) or region.shape != (n,):
            raise ValueError("sensel arrays must all have the same length")
        if n and (region.min() < 0 or region.max() >= len(REGIONS)):
            raise ValueError("sensel_region values must index REGIONS")
        if self.foot not in FEET:
            raise ValueError(f"foot must be one of {FEET}, got {self.foot!r}")
        sites = tuple(self.shear_sites)
        shear_xy = readonly_array([(s.x_mm, s.y_mm) for s in sites], np.float64, (2,))
        shear_area = readonly_array([s.area_mm2 for s in sites], np.float64)
        for name, value in (
            ("sensel_xy_mm", xy),
            ("sensel_area_mm2", area),
            ("sensel_region", region),
            ("outline_mm", outline),
            ("shear_sites", sites),
            ("_shear_xy_mm", shear_xy),
            ("_shear_area_mm2", shear_area),
        ):
            object.__setattr__(self, name, value)

    @property
    def n_sensels(self) -> int:
        """Number of pressure sensels."""
        return int(self.sensel_xy_mm.shape[0])

    @property
    def n_shear(self) -> int:
        """Number of triaxial shear sites."""
        return len(self.shear_sites)

    @property
    def shear_xy_mm(self) -> np.ndarray:
        """(k, 2) centres of the shear sites."""
        return self._shear_xy_mm

    @property
    def shear_area_mm2(self) -> np.ndarray:
        """(k,) sensing areas of the shear sites."""
        return self._shear_area_mm2

    def region_mask(self, region: str) -> np.ndarray:
        """Boolean (n,) mask of the sensels in ``region`` (one of :data:`REGIONS`)."""
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; regions are: {', '.join(REGIONS)}")
        return self.sensel_region == REGIONS.index(region)

    def forefoot_mask(self) -> np.ndarray:
        """Boolean (n,) mask of the sensels in :data:`FOREFOOT_REGIONS`."""
        return np.isin(self.sensel_region, [REGIONS.index(r) for r in FOREFOOT_REGIONS])

    def mirrored(self) -> Layout:
        """The same insole for the other foot (x -> -x)."""
        flip = np.array([-1.0, 1.0])
        return replace(
            self,
            foot="right" if self.foot == "left" else "left",
            sensel_xy_mm=self.sensel_xy_mm * flip,
            outline_mm=self.outline_mm * flip,
            shear_sites=tuple(replace(s, x_mm=-s.x_mm) for s in self.shear_sites),
        )

    def for_foot(self, foot: str) -> Layout:
        """This layout for ``foot`` ("left" or "right")."""
        if foot not in FEET:
            raise ConfigError(f"foot must be 'left' or 'right' (got {foot!r})")
        return self if foot == self.foot else self.mirrored()

    def scaled(
        self, *, eu_size: float | None = None, foot_length_mm: float | None = None
    ) -> Layout:
        """This layout resized for another foot length or EU shoe size.

        Positions scale with foot length, areas with its square; regions do not change.
        Give exactly one of ``eu_size`` and ``foot_length_mm``.
        """
        if (eu_size is None) == (foot_length_mm is None):
            raise ValueError("give exactly one of eu_size and foot_length_mm")
        if eu_size is not None:
            eu = float(eu_size)
            if not (math.isfinite(eu) and EU_SIZE_RANGE[0] <= eu <= EU_SIZE_RANGE[1]):
                lo, hi = EU_SIZE_RANGE
                raise ConfigError(f"EU shoe size must be between {lo:g} and {hi:g} (got {eu_size})")
            length = foot_length_from_eu(eu)
        else:
            length = float(foot_length_mm)  # type: ignore[arg-type]
            lo, hi = (foot_length_from_eu(v) for v in EU_SIZE_RANGE)
            if not (math.isfinite(length) and lo <= length <= hi):
                raise ConfigError(
                    f"foot length must be between {lo:.0f} and {hi:.0f} mm (got {foot_length_mm})"
                )
            eu = eu_from_foot_length(length)
        k = length / self.foot_length_mm
        return replace(
            self,
            foot_length_mm=length,
            eu_size=eu,
            sensel_xy_mm=self.sensel_xy_mm * k,
            sensel_area_mm2=self.sensel_area_mm2 * k * k,
            outline_mm=self.outline_mm * k,
            shear_sites=tuple(
                replace(s, x_mm=s.x_mm * k, y_mm=s.y_mm * k, area_mm2=s.area_mm2 * k * k)
                for s in self.shear_sites
            ),
        )


def points_in_polygon(points_xy: np.ndarray, polygon_xy: np.ndarray) -> np.ndarray:
    """Even-odd (ray casting) test of which points lie inside a closed polygon.

    Parameters
    ----------
    points_xy : (n, 2) array
    polygon_xy : (m, 2) array; the closing edge from the last to the first vertex is implied.

    Returns
    -------
    (n,) bool array. Points exactly on an edge may fall either way.
    """
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon_xy, dtype=np.float64).reshape(-1, 2)
    px, py = pts[:, 0:1], pts[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    crossings = straddles & (px < x_cross)
    return (np.count_nonzero(crossings, axis=1) % 2) == 1


def available_layouts() -> list[str]:
    """Ids of the layouts shipped in ``hardware/layouts/``."""
    return sorted(p.stem for p in LAYOUT_DIR.glob("*.json"))


def load_layout(
    name_or_path: str | Path, foot: str = "left", eu_size: float | None = None
) -> Layout:
    """Load a shipped layout by id (e.g. ``"plantar-ref"``) or a layout file by path.

    Parameters
    ----------
    name_or_path : shipped id, or path to a ``plantar-layout/1`` JSON file.
    foot : "left" or "right"; the stored left-foot layout is mirrored for the right foot.
    eu_size : optional EU shoe size to scale the layout to.

    Raises
    ------
    base.errors.ConfigError
        Unknown id, unreadable or invalid file (one line naming the file and the field).
    """
    if foot not in FEET:
        raise ConfigError(f"foot must be 'left' or 'right' (got {foot!r})")
    available = available_layouts()
    path = resolve_data_file(name_or_path, LAYOUT_DIR, available, "layout")
    layout = _parse_layout(FieldReader("layout", path, _hint(available)))
    if eu_size is not None:
        layout = layout.scaled(eu_size=eu_size)
    return layout.for_foot(foot)


def _hint(available: list[str]) -> str:
    return "fix the file or use one of: " + ", ".join(available)


def _parse_layout(r: FieldReader) -> Layout:
    data = r.load()
    fmt = r.get(data, "format")
    if fmt != LAYOUT_FORMAT:
        raise r.field_error("format", f"must be {LAYOUT_FORMAT!r} (got {fmt!r})")
    r.string(data, "foot", choices=("left",), default="left")

    sensels = r.obj(data, "sensels")
    x = r.numbers(sensels, "x_mm", "sensels.")
    n = len(x)
    if n == 0:
        raise r.field_error("sensels.x_mm", "must list at least one sensel")
    y = r.numbers(sensels, "y_mm", "sensels.", length=n)
    area = r.numbers(sensels, "area_mm2", "sensels.", length=n, positive=True)
    region = r.strings(sensels, "region", "sensels.", length=n, choices=REGIONS)

    sites_raw = r.get(data, "shear_sites", default=[])
    if not isinstance(sites_raw, list):
        raise r.field_error("shear_sites", "must be a JSON array")
    sites: list[ShearSite] = []
    for i, raw in enumerate(sites_raw):
        prefix = f"shear_sites[{i}]."
        if not isinstance(raw, dict):
            raise r.field_error(f"shear_sites[{i}]", "must be a JSON object")
        site = ShearSite(
            name=r.string(raw, "name", prefix),
            x_mm=r.number(raw, "x_mm", prefix),
            y_mm=r.number(raw, "y_mm", prefix),
            area_mm2=r.number(raw, "area_mm2", prefix, positive=True),
            region=r.string(raw, "region", prefix, choices=REGIONS),
        )
        if any(s.name == site.name for s in sites):
            raise r.field_error(prefix + "name", f"must be unique (got {site.name!r} twice)")
        sites.append(site)

    outline = r.obj(data, "outline_mm")
    ox = r.numbers(outline, "x_mm", "outline_mm.")
    if len(ox) < 3:
        raise r.field_error("outline_mm.x_mm", f"must have at least 3 points (got {len(ox)})")
    oy = r.numbers(outline, "y_mm", "outline_mm.", length=len(ox))

    return Layout(
        id=r.string(data, "id"),
        name=r.string(data, "name"),
        foot="left",
        foot_length_mm=r.number(data, "foot_length_mm", positive=True),
        eu_size=r.number(data, "eu_size", positive=True),
        sensel_xy_mm=np.column_stack([x, y]),
        sensel_area_mm2=area,
        sensel_region=np.array([REGIONS.index(s) for s in region], dtype=np.int8),
        shear_sites=tuple(sites),
        outline_mm=np.column_stack([ox, oy]),
        calibration_id=r.string(data, "calibration_id"),
        provenance=r.string(data, "provenance", choices=PROVENANCES),
        source=r.string(data, "source"),
        gait_events=r.string(
            data, "gait_events", choices=GAIT_EVENT_CONVENTIONS, default="threshold"
        ),
    )


# --------------------------------------------------------------------------- file writing


def _round1(values: np.ndarray) -> list[float]:
    return [round(float(v), 1) + 0.0 for v in values]


def layout_to_dict(layout: Layout) -> dict[str, Any]:
    """The ``plantar-layout/1`` document of a LEFT-foot layout, numbers rounded to 0.1."""
    if layout.foot != "left":
        raise ValueError("layout files hold the left foot; mirror the layout first")
    return {
        "format": LAYOUT_FORMAT,
        "id": layout.id,
        "name": layout.name,
        "foot": "left",
        "foot_length_mm": round(layout.foot_length_mm, 1),
        "eu_size": round(layout.eu_size, 2),
        "calibration_id": layout.calibration_id,
        "provenance": layout.provenance,
        "source": layout.source,
        "gait_events": layout.gait_events,
        "sensels": {
            "x_mm": _round1(layout.sensel_xy_mm[:, 0]),
            "y_mm": _round1(layout.sensel_xy_mm[:, 1]),
            "area_mm2": _round1(layout.sensel_area_mm2),
            "region": [REGIONS[i] for i in layout.sensel_region],
        },
        "shear_sites": [
            {
                "name": s.name,
                "x_mm": round(s.x_mm, 1) + 0.0,
                "y_mm": round(s.y_mm, 1) + 0.0,
                "area_mm2": round(s.area_mm2, 1),
                "region": s.region,
            }
            for s in layout.shear_sites
        ],
        "outline_mm": {
            "x_mm": _round1(layout.outline_mm[:, 0]),
            "y_mm": _round1(layout.outline_mm[:, 1]),
        },
    }
