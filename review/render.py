"""Pictures without a plotting library: foot maps as PNG (NumPy + zlib) and small charts
as SVG text. Both embed in a self-contained HTML file (data URIs, inline SVG), so the
report opens offline, and the dashboard serves the same bytes.

Maps are drawn in each foot's own layout coordinates, toes up, seen from above; values
outside the foot outline are transparent. Colour scales are given as CSS gradients, so
the page and the report label them with HTML text (units, min, max).
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Sequence

import numpy as np

#: Sequential scale (dark blue → teal → yellow → red), perceptually ordered.
SEQUENTIAL = np.array(
    [
        [0.00, 30, 40, 110],
        [0.25, 33, 120, 170],
        [0.50, 60, 180, 120],
        [0.75, 240, 210, 50],
        [1.00, 200, 30, 30],
    ]
)
#: Diverging scale for differences (blue − white − red).
DIVERGING = np.array(
    [
        [0.0, 40, 80, 190],
        [0.5, 245, 245, 245],
        [1.0, 200, 40, 40],
    ]
)
OUTLINE_RGBA = (60, 60, 60, 255)
_INSIDE_CACHE: dict[tuple, np.ndarray] = {}
BACKGROUND_RGBA = (235, 235, 235, 255)


def colormap(values: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """RGB (..., 3) uint8 for values in 0..1 (clipped; NaN → 0)."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    out = np.empty((*v.shape, 3), dtype=np.uint8)
    for c in range(3):
        out[..., c] = np.round(np.interp(v, stops[:, 0], stops[:, c + 1])).astype(np.uint8)
    return out


def css_gradient(stops: np.ndarray) -> str:
    """A CSS ``linear-gradient`` (left to right) of a colour scale."""
    parts = [f"rgb({int(r)},{int(g)},{int(b)}) {100 * p:.0f}%" for p, r, g, b in stops]
    return f"linear-gradient(to right, {', '.join(parts)})"


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of an (h, w, 4) uint8 image (no filter, zlib level 6)."""
    img = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w, _ = img.shape
    raw = np.zeros((h, w * 4 + 1), dtype=np.uint8)
    raw[:, 1:] = img.reshape(h, w * 4)

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def data_uri_png(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class FootCanvas:
    """An RGBA raster over a foot's bounding box (mm → pixels, toes up)."""

    def __init__(self, outline_mm: np.ndarray, px_per_mm: float = 1.0, margin_mm: float = 6.0):
        outline = np.asarray(outline_mm, dtype=np.float64)
        self.outline = outline
        self.x0 = float(outline[:, 0].min()) - margin_mm
        self.y1 = float(outline[:, 1].max()) + margin_mm
        self.k = float(px_per_mm)
        self.w = math.ceil((float(outline[:, 0].max()) + margin_mm - self.x0) * self.k)
        self.h = math.ceil((self.y1 - float(outline[:, 1].min()) + margin_mm) * self.k)
        self.rgba = np.zeros((self.h, self.w, 4), dtype=np.uint8)

    def to_px(self, x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel columns and rows of points in mm."""
        return (np.asarray(x_mm) - self.x0) * self.k, (self.y1 - np.asarray(y_mm)) * self.k

    def fill_inside(self, rgba: tuple[int, int, int, int] = BACKGROUND_RGBA) -> None:
        """Paint the inside of the outline with one colour."""
        key = (self.outline.tobytes(), self.k, self.w, self.h)
        inside = _INSIDE_CACHE.get(key)
        if inside is None:
            from hardware.layout import points_in_polygon

            cols, rows = np.meshgrid(np.arange(self.w) + 0.5, np.arange(self.h) + 0.5)
            x = cols / self.k + self.x0
            y = self.y1 - rows / self.k
            pts = np.column_stack([x.ravel(), y.ravel()])
            inside = points_in_polygon(pts, self.outline).reshape(self.h, self.w)
            if len(_INSIDE_CACHE) > 32:
                _INSIDE_CACHE.clear()
            _INSIDE_CACHE[key] = inside
        self.rgba[inside] = rgba

    def grid(
        self,
        x_mm: np.ndarray,
        y_mm: np.ndarray,
        values: np.ndarray,
        lo: float,
        hi: float,
        stops: np.ndarray,
    ) -> None:
        """Paint a cell grid (ny, nx) (NaN cells are left as they are)."""
        cell = float(x_mm[1] - x_mm[0]) if len(x_mm) > 1 else 5.0
        rows = np.arange(self.h) + 0.5
        cols = np.arange(self.w) + 0.5
        xi = np.floor((cols / self.k + self.x0 - (x_mm[0] - cell / 2)) / cell).astype(int)
        yi = np.floor((self.y1 - rows / self.k - (y_mm[0] - cell / 2)) / cell).astype(int)
        ok_x = (xi >= 0) & (xi < len(x_mm))
        ok_y = (yi >= 0) & (yi < len(y_mm))
        sub = np.full((self.h, self.w), np.nan)
        vals = np.asarray(values, dtype=np.float64)
        sub[np.ix_(ok_y, ok_x)] = vals[np.ix_(yi[ok_y], xi[ok_x])]
        finite = np.isfinite(sub)
        span = hi - lo if hi > lo else 1.0
        rgb = colormap((sub - lo) / span, stops)
        self.rgba[finite, :3] = rgb[finite]
        self.rgba[finite, 3] = 255

    def polyline(
        self, x_mm: np.ndarray, y_mm: np.ndarray, rgba: tuple[int, int, int, int], width: int = 1
    ) -> None:
        """Draw connected segments (NaN points break the line)."""
        px, py = self.to_px(x_mm, y_mm)
        ax, ay, bx, by = px[:-1], py[:-1], px[1:], py[1:]
        ok = np.isfinite(ax) & np.isfinite(ay) & np.isfinite(bx) & np.isfinite(by)
        ax, ay, bx, by = ax[ok], ay[ok], bx[ok], by[ok]
        if ax.size == 0:
            return
        n = int(np.max(np.maximum(np.abs(bx - ax), np.abs(by - ay))) * 2) + 2
        t = np.linspace(0.0, 1.0, n)[None, :]
        xs = (ax[:, None] + (bx - ax)[:, None] * t).ravel()
        ys = (ay[:, None] + (by - ay)[:, None] * t).ravel()
        self._dots(xs, ys, rgba, width)

    def _dots(self, px: np.ndarray, py: np.ndarray, rgba: tuple, width: int) -> None:
        r = max(width - 1, 0) // 2
        for dx in range(-r, r + 1 if width > 1 else 1):
            for dy in range(-r, r + 1 if width > 1 else 1):
                c = np.floor(px + dx).astype(int)
                rr = np.floor(py + dy).astype(int)
                ok = (c >= 0) & (c < self.w) & (rr >= 0) & (rr < self.h)
                self.rgba[rr[ok], c[ok]] = rgba

    def outline_path(self, rgba: tuple[int, int, int, int] = OUTLINE_RGBA) -> None:
        """Draw the foot outline (closed)."""
        o = np.vstack([self.outline, self.outline[:1]])
        self.polyline(o[:, 0], o[:, 1], rgba, width=2)

    def disc(self, x_mm: float, y_mm: float, radius_mm: float, rgba: tuple) -> None:
        """A filled disc with a dark rim."""
        cx, cy = self.to_px(x_mm, y_mm)
        rows, cols = np.ogrid[: self.h, : self.w]
        d = np.hypot(cols + 0.5 - cx, rows + 0.5 - cy)
        rpx = radius_mm * self.k
        self.rgba[d <= rpx] = rgba
        self.rgba[(d > rpx) & (d <= rpx + 1.5)] = OUTLINE_RGBA

    def png(self) -> bytes:
        """The picture as PNG bytes."""
        return encode_png(self.rgba)


def scale_range(values: np.ndarray, *, diverging: bool = False) -> tuple[float, float]:
    """Colour-scale limits: 0..max (sequential) or ±max|v| (diverging), never empty."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    if diverging:
        m = float(np.max(np.abs(v))) or 1.0
        return -m, m
    hi = float(np.max(v))
    return 0.0, hi if hi > 0 else 1.0


# -- SVG charts ----------------------------------------------------------------------

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#555555")


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "–"
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3g}"


def svg_series(
    series: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    title: str,
    unit: str,
    width: int = 640,
    height: int = 190,
    bands: Sequence[tuple[float, float]] = (),
    marker: tuple[float, str] | None = None,
    x_label: str = "time (min)",
    x_scale: float = 1.0 / 60.0,
) -> str:
    """A line/scatter chart of per-step series ``(name, t_s, y)``; ``bands`` shade time
    ranges (gaps), ``marker`` draws a vertical line (fatigue onset) with a label."""
    left, right, top, bottom = 56, 12, 22, 30
    pw, ph = width - left - right, height - top - bottom
    xs = [np.asarray(t, float) * x_scale for _, t, _ in series]
    ys = [np.asarray(y, float) for _, _, y in series]
    allx = np.concatenate([x[np.isfinite(x)] for x in xs]) if xs else np.array([])
    ally = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.array([])
    esc = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="14" font-weight="bold">{esc(title)} ({esc(unit)})</text>',
    ]
    if allx.size == 0 or ally.size == 0:
        out.append(f'<text x="{left + 10}" y="{top + ph / 2}">no data</text></svg>')
        return "".join(out)
    x0, x1 = float(allx.min()), float(allx.max())
    if x1 <= x0:
        x1 = x0 + 1.0
    lo, hi = np.percentile(ally, [1, 99])
    pad = 0.08 * (hi - lo if hi > lo else abs(hi) or 1.0)
    y0, y1 = float(lo - pad), float(hi + pad)

    def sx(x: np.ndarray | float) -> np.ndarray | float:
        return left + (np.asarray(x) - x0) / (x1 - x0) * pw

    def sy(y: np.ndarray | float) -> np.ndarray | float:
        return top + (1 - (np.clip(np.asarray(y), y0, y1) - y0) / (y1 - y0)) * ph

    out.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>'
    )
    for a, b in bands:
        xa, xb = float(sx(max(a * x_scale, x0))), float(sx(min(b * x_scale, x1)))
        if xb >= xa:
            out.append(
                f'<rect class="gap" x="{xa:.1f}" y="{top}" width="{max(xb - xa, 1.5):.1f}" '
                f'height="{ph}" fill="#e74c3c" fill-opacity="0.25"/>'
            )
    for k in range(5):
        yv = y0 + (y1 - y0) * k / 4
        yy = float(sy(yv))
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>')
    for k in range(6):
        xv = x0 + (x1 - x0) * k / 5
        xx = float(sx(xv))
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(xv)}</text>')
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 2}" text-anchor="middle">{esc(x_label)}</text>'
    )
    for i, (name, _, _) in enumerate(series):
        x, y = xs[i], ys[i]
        ok = np.isfinite(x) & np.isfinite(y)
        colour = PALETTE[i % len(PALETTE)]
        if ok.sum() > 400:  # dense: points as a thin polyline of medians per pixel column
            px = np.floor(np.asarray(sx(x[ok]))).astype(int)
            order = np.argsort(px, kind="stable")
            cols, starts = np.unique(px[order], return_index=True)
            med = [
                float(np.median(y[ok][order][s:e]))
                for s, e in zip(starts, [*starts[1:], ok.sum()], strict=True)
            ]
            pts = " ".join(f"{c:.1f},{float(sy(m)):.1f}" for c, m in zip(cols, med, strict=True))
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.2"/>'
            )
        else:
            pts = " ".join(
                f"{float(sx(a)):.1f},{float(sy(b)):.1f}" for a, b in zip(x[ok], y[ok], strict=True)
            )
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.2"/>'
            )
        out.append(
            f'<text x="{left + pw - 4 - 70 * i}" y="{top + 12}" text-anchor="end" '
            f'fill="{colour}">{esc(name)}</text>'
        )
    if marker is not None and math.isfinite(marker[0]):
        mx = float(sx(marker[0] * x_scale))
        out.append(
            f'<line class="onset" x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + ph}" '
            f'stroke="#c0392b" stroke-width="2" stroke-dasharray="5,3"/>'
        )
        out.append(
            f'<text x="{mx + 4:.1f}" y="{top + ph - 6}" fill="#c0392b">{esc(marker[1])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def svg_boxplots(
    groups: Sequence[tuple[str, dict[str, float] | None]],
    *,
    title: str,
    unit: str,
    width: int = 320,
    height: int = 150,
) -> str:
    """Box plots from quantiles ``{"p5","p25","p50","p75","p95"}`` per group (None: no data)."""
    left, right, top, bottom = 52, 10, 22, 26
    pw, ph = width - left - right, height - top - bottom
    vals = [v for _, q in groups if q for v in q.values() if v is not None and math.isfinite(v)]
    esc = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="14" font-weight="bold">{esc(title)} ({esc(unit)})</text>',
    ]
    if not vals:
        out.append(f'<text x="{left}" y="{top + 30}">no data</text></svg>')
        return "".join(out)
    lo, hi = min(vals), max(vals)
    pad = 0.1 * (hi - lo if hi > lo else abs(hi) or 1.0)
    y0, y1 = lo - pad, hi + pad

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>'
    )
    for k in range(3):
        yv = y0 + (y1 - y0) * k / 2
        out.append(f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>')
    n = max(len(groups), 1)
    for i, (name, q) in enumerate(groups):
        cx = left + pw * (i + 0.5) / n
        bw = min(40.0, pw / n * 0.5)
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<text x="{cx:.1f}" y="{top + ph + 14}" text-anchor="middle">{esc(name[:18])}</text>'
        )
        if not q or any(q.get(k) is None for k in ("p5", "p25", "p50", "p75", "p95")):
            out.append(f'<text x="{cx:.1f}" y="{top + ph / 2}" text-anchor="middle">too few</text>')
            continue
        out.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{sy(q["p5"]):.1f}" y2="{sy(q["p95"]):.1f}" '
            f'stroke="{colour}"/>'
        )
        out.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{sy(q["p75"]):.1f}" width="{bw:.1f}" '
            f'height="{max(sy(q["p25"]) - sy(q["p75"]), 1):.1f}" fill="{colour}" '
            f'fill-opacity="0.3" stroke="{colour}"/>'
        )
        out.append(
            f'<line x1="{cx - bw / 2:.1f}" x2="{cx + bw / 2:.1f}" y1="{sy(q["p50"]):.1f}" '
            f'y2="{sy(q["p50"]):.1f}" stroke="{colour}" stroke-width="2"/>'
        )
    out.append("</svg>")
    return "".join(out)
