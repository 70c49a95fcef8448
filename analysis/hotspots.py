"""Forefoot hot spots: sensels interpolated onto a foot-shaped grid, connected regions
above a threshold, and their recurrence from step to step.

The grid and its sparse weight matrix are built once per layout
(:class:`InterpolationGrid`); the dashboard's heat map uses the same grid
(``grid.interpolate(pressure_kpa)``), so what the runner sees is what is analysed.

Interpolation is inverse-distance weighting of the ``k`` nearest sensels (Shepard, D.
(1968). A two-dimensional interpolation function for irregularly-spaced data. Proc. 23rd
ACM National Conference, 517-524). Regions are 4-connected components of the cells above
``max(abs_kpa, rel_frac * step peak)``; the peak pressure gradient is the largest
central-difference gradient magnitude inside a region (kPa/mm), as used for plantar
pressure gradient by Mueller, M. J., et al. (2005). Plantar stresses on the neuropathic
foot during barefoot walking. Phys Ther 85(11), 1185-1195.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from base.kernels import njit
from hardware.layout import Layout, points_in_polygon

#: Hot spots are searched anterior to this share of foot length (the forefoot and toes).
FOREFOOT_FROM_FRAC = 0.55
#: Per-step weight of the newest step in the per-cell recurrence average.
RECURRENCE_ALPHA = 0.1
#: The hot-cell rule, imported everywhere a hot cell is drawn or counted: a cell is hot
#: at or above ``max(HOTSPOT_ABS_KPA, HOTSPOT_REL_FRAC * the step's forefoot peak)``.
HOTSPOT_ABS_KPA = 150.0
HOTSPOT_REL_FRAC = 0.7
#: Median sensel spacing (mm) above which a hot spot's area and gradient come from
#: interpolating between sensels rather than from sensels inside it (gaitpdb 8 sensors:
#: ~53 mm; Moticon 16: ~27 mm; pedar 99: ~12 mm; plantar-ref: ~10 mm).
SPARSE_SPACING_MM = 20.0


def sensel_spacing_mm(layout: Layout) -> float:
    """Median distance from each sensel to its nearest neighbour (mm; inf with < 2)."""
    xy = np.asarray(layout.sensel_xy_mm, dtype=np.float64)
    if xy.shape[0] < 2:
        return float("inf")
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def interpolated_note(layout: Layout) -> str:
    """``""`` for a dense insole; otherwise the label every hot spot and map of the layout
    carries: its values between sensels are interpolated."""
    spacing = sensel_spacing_mm(layout)
    if spacing <= SPARSE_SPACING_MM:
        return ""
    return (
        f"interpolated: {layout.n_sensels} sensors ~{spacing:.0f} mm apart, "
        "area and gradient are estimated between sensors"
    )


@njit(cache=True, nogil=True)
def interpolate_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    pressure_kpa: np.ndarray,
    out_grid_kpa: np.ndarray,
) -> None:
    """Sparse (CSR) matrix times vector: ``out[c] = Σ_j w[c, j] * p[j]`` over the finite
    sensel values, renormalising the weights when a sensel is NaN (missing).

    pressure_kpa : (S,) one frame; out_grid_kpa : (C,) one value per grid cell.
    """
    for c in range(indptr.shape[0] - 1):
        acc = 0.0
        wsum = 0.0
        for j in range(indptr[c], indptr[c + 1]):
            p = pressure_kpa[indices[j]]
            if p == p:
                acc += weights[j] * p
                wsum += weights[j]
        out_grid_kpa[c] = acc / wsum if wsum > 0.0 else np.nan


@njit(cache=True, nogil=True)
def label_kernel(mask: np.ndarray, out_labels: np.ndarray, stack: np.ndarray) -> int:
    """4-connected component labelling of a 2-D boolean mask (iterative flood fill).

    out_labels : (ny, nx) int32, 0 = background, 1..n = component; stack : (ny*nx,) int64
    scratch. Returns the number of components.
    """
    ny, nx = mask.shape
    out_labels[:, :] = 0
    n = 0
    for y0 in range(ny):
        for x0 in range(nx):
            if not mask[y0, x0] or out_labels[y0, x0] != 0:
                continue
            n += 1
            top = 0
            stack[top] = y0 * nx + x0
            top += 1
            out_labels[y0, x0] = n
            while top > 0:
                top -= 1
                cell = stack[top]
                y = cell // nx
                x = cell - y * nx
                for d in range(4):
                    yy = y + (1 if d == 0 else (-1 if d == 1 else 0))
                    xx = x + (1 if d == 2 else (-1 if d == 3 else 0))
                    if 0 <= yy < ny and 0 <= xx < nx and mask[yy, xx] and out_labels[yy, xx] == 0:
                        out_labels[yy, xx] = n
                        stack[top] = yy * nx + xx
                        top += 1
    return n


@dataclass(frozen=True, eq=False)
class InterpolationGrid:
    """A regular grid of cells inside a layout's outline and its sparse IDW weights.

    Attributes
    ----------
    x_mm, y_mm : (nx,), (ny,) cell centre coordinates.
    inside : (ny, nx) bool, the cell centre lies inside the outline.
    cell_index : (ny, nx) int64 index of each inside cell into the flat cell arrays, -1 outside.
    indptr, indices, weights : CSR rows (one per inside cell) of sensel weights, rows sum to 1.
    cell_mm : cell size.
    """

    x_mm: np.ndarray
    y_mm: np.ndarray
    inside: np.ndarray
    cell_index: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    cell_mm: float

    @property
    def n_cells(self) -> int:
        """Number of cells inside the outline."""
        return int(self.indptr.shape[0] - 1)

    @classmethod
    def from_layout(
        cls, layout: Layout, cell_mm: float = 5.0, k: int = 4, power: float = 2.0
    ) -> InterpolationGrid:
        """Build the grid over ``layout.outline_mm`` with ``k``-nearest IDW weights
        ``w ∝ 1 / d**power`` (a cell on a sensel centre takes that sensel's value)."""
        outline = np.asarray(layout.outline_mm)
        x = np.arange(outline[:, 0].min() + cell_mm / 2, outline[:, 0].max(), cell_mm)
        y = np.arange(outline[:, 1].min() + cell_mm / 2, outline[:, 1].max(), cell_mm)
        gx, gy = np.meshgrid(x, y)
        centres = np.column_stack([gx.ravel(), gy.ravel()])
        inside = points_in_polygon(centres, outline).reshape(gy.shape)
        pts = centres[inside.ravel()]
        sensels = np.asarray(layout.sensel_xy_mm)
        k = min(k, sensels.shape[0])
        d = np.hypot(pts[:, None, 0] - sensels[None, :, 0], pts[:, None, 1] - sensels[None, :, 1])
        nearest = np.argsort(d, axis=1)[:, :k]
        dn = np.take_along_axis(d, nearest, axis=1)
        w = 1.0 / np.maximum(dn, 1e-6) ** power
        w /= w.sum(axis=1, keepdims=True)
        cell_index = np.full(inside.shape, -1, dtype=np.int64)
        cell_index[inside] = np.arange(int(inside.sum()))
        return cls(
            x_mm=x,
            y_mm=y,
            inside=inside,
            cell_index=cell_index,
            indptr=np.arange(0, pts.shape[0] * k + 1, k, dtype=np.int64),
            indices=nearest.ravel().astype(np.int64),
            weights=w.ravel(),
            cell_mm=float(cell_mm),
        )

    def interpolate(self, pressure_kpa: np.ndarray) -> np.ndarray:
        """(ny, nx) map of one frame (NaN outside the outline), for analysis and display."""
        flat = np.empty(self.n_cells)
        interpolate_kernel(
            self.indptr, self.indices, self.weights, np.asarray(pressure_kpa, np.float64), flat
        )
        out = np.full(self.inside.shape, np.nan)
        out[self.inside] = flat
        return out


@dataclass
class HotSpot:
    """One connected region above threshold on a step's peak-pressure map."""

    peak_kpa: float
    area_mm2: float
    centroid_x_mm: float
    centroid_y_mm: float
    peak_gradient_kpa_per_mm: float
    recurrence: float  # 0..1, how often these cells were hot in recent steps

    def to_dict(self) -> dict[str, float]:
        """Plain dict, rounded for JSON."""
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


class HotSpotTracker:
    """Finds forefoot hot spots per step and tracks their recurrence (one per foot)."""

    def __init__(
        self,
        grid: InterpolationGrid,
        foot_length_mm: float,
        abs_kpa: float = HOTSPOT_ABS_KPA,
        rel_frac: float = HOTSPOT_REL_FRAC,
    ) -> None:
        self.grid = grid
        self.abs_kpa = abs_kpa
        self.rel_frac = rel_frac
        self.forefoot = grid.inside & (grid.y_mm[:, None] >= FOREFOOT_FROM_FRAC * foot_length_mm)
        self.recurrence = np.zeros(grid.inside.shape)
        self._labels = np.zeros(grid.inside.shape, dtype=np.int32)
        self._stack = np.zeros(grid.inside.size, dtype=np.int64)
        #: Hot-cell mask of the last step (the live page outlines it).
        self.last_hot = np.zeros(grid.inside.shape, dtype=bool)

    def step(self, peak_map_sensel_kpa: np.ndarray) -> list[HotSpot]:
        """Hot spots of one step from its per-sensel peak pressure (S,), strongest first."""
        pmap = self.grid.interpolate(peak_map_sensel_kpa)
        spots, hot = find_hotspots(
            pmap,
            self.forefoot,
            self.grid.cell_mm,
            self.abs_kpa,
            self.rel_frac,
            self._labels,
            self._stack,
            self.grid.x_mm,
            self.grid.y_mm,
            self.recurrence,
        )
        self.recurrence += RECURRENCE_ALPHA * (hot.astype(np.float64) - self.recurrence)
        self.last_hot = hot
        return spots


def find_hotspots(
    pmap_kpa: np.ndarray,
    region_mask: np.ndarray,
    cell_mm: float,
    abs_kpa: float,
    rel_frac: float,
    labels: np.ndarray,
    stack: np.ndarray,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    recurrence: np.ndarray,
) -> tuple[list[HotSpot], np.ndarray]:
    """Connected regions of ``pmap_kpa`` above ``max(abs_kpa, rel_frac * peak)`` inside
    ``region_mask``; returns the spots (strongest first) and the hot-cell mask."""
    values = np.where(region_mask, np.nan_to_num(pmap_kpa, nan=0.0), 0.0)
    peak = float(values.max()) if values.size else 0.0
    hot = values >= max(abs_kpa, rel_frac * peak)
    hot &= values > 0.0
    n = label_kernel(hot, labels, stack)
    if n == 0:
        return [], hot
    gy, gx = np.gradient(values, cell_mm)
    grad = np.hypot(gx, gy)
    flat = labels.ravel()
    ids = flat[flat > 0]
    vals = values.ravel()[flat > 0]
    yy, xx = np.nonzero(labels)
    count = np.bincount(ids, minlength=n + 1)[1:]
    peak_per = np.zeros(n + 1)
    np.maximum.at(peak_per, ids, vals)
    grad_per = np.zeros(n + 1)
    np.maximum.at(grad_per, ids, grad.ravel()[flat > 0])
    wsum = np.bincount(ids, weights=vals, minlength=n + 1)[1:]
    cx = np.bincount(ids, weights=vals * x_mm[xx], minlength=n + 1)[1:] / wsum
    cy = np.bincount(ids, weights=vals * y_mm[yy], minlength=n + 1)[1:] / wsum
    rec = np.bincount(ids, weights=recurrence.ravel()[flat > 0], minlength=n + 1)[1:] / count
    spots = [
        HotSpot(
            peak_kpa=float(peak_per[i + 1]),
            area_mm2=float(count[i] * cell_mm * cell_mm),
            centroid_x_mm=float(cx[i]),
            centroid_y_mm=float(cy[i]),
            peak_gradient_kpa_per_mm=float(grad_per[i + 1]),
            recurrence=float(rec[i]),
        )
        for i in range(n)
    ]
    spots.sort(key=lambda s: -s.peak_kpa)
    return spots, hot
