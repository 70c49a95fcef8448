"""Review and comparison pages and their JSON API (an :class:`fastapi.APIRouter`).

Include it in the dashboard app with ``app.include_router(review_router)``; the pages
load ``/static/review.js`` and ``/static/compare.js`` from the app's static mount.

* ``GET /review`` the session review page; ``GET /compare`` the comparison page.
* ``GET /api/review/sessions?athlete=&shoe=&sock=&date_from=&date_to=`` sessions.
* ``GET /api/review/{id}`` maps (PNG data URIs, scales, units, proxy labels), per-step
  series and fatigue charts (SVG), summary, data quality.
* ``GET /api/review/{id}/steps/{foot}/{k}`` one step's frames as heat-map grids (replay).
* ``GET /api/review/{id}/report.html`` the self-contained report.
* ``GET /api/compare?by=shoe,sock&athlete=&discard=30`` the same numbers as
  ``plantar compare --json``, plus difference maps and distribution plots.

Computations run in a worker thread and use the per-session cache (:mod:`review.cache`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def make_review_router(sessions_root: Path | None = None) -> APIRouter:
    """The router; ``sessions_root`` defaults to :func:`base.paths.sessions_dir`."""
    router = APIRouter()

    def root() -> Path:
        if sessions_root is not None:
            return sessions_root
        from base import paths

        return paths.sessions_dir()

    def session_dir(session_id: str) -> Path:
        if not _ID_RE.fullmatch(session_id) or ".." in session_id:
            raise HTTPException(404, "no such session")
        d = (root() / session_id).resolve()
        if not d.is_relative_to(root().resolve()) or not (d / "session.json").is_file():
            raise HTTPException(404, "no such session")
        return d

    def review_of(session_id: str) -> Any:
        from base.errors import PlantarError
        from review.cache import get_review

        try:
            return get_review(session_dir(session_id))
        except PlantarError as err:
            raise HTTPException(422, str(err)) from None

    @router.get("/review", include_in_schema=False)
    async def review_page() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "review.html").read_text(encoding="utf-8"))

    @router.get("/compare", include_in_schema=False)
    async def compare_page() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "compare.html").read_text(encoding="utf-8"))

    @router.get("/api/review/sessions")
    async def review_sessions(
        athlete: str | None = Query(None, max_length=100),
        shoe: str | None = Query(None, max_length=100),
        sock: str | None = Query(None, max_length=100),
        date_from: str | None = Query(None, max_length=30),
        date_to: str | None = Query(None, max_length=30),
    ) -> list[dict[str, Any]]:
        """Finalised sessions matching the filters (dates compare as ISO text prefixes)."""
        from review.compare import list_rows

        def load() -> list[dict[str, Any]]:
            rows = list_rows(root())
            out = []
            for r in rows:
                if athlete and r["athlete"] != athlete:
                    continue
                if shoe and r["shoe"] != shoe:
                    continue
                if sock and r["sock"] != sock:
                    continue
                day = (r.get("started_at") or "")[:10]
                if date_from and day < date_from[:10]:
                    continue
                if date_to and day > date_to[:10]:
                    continue
                out.append(
                    {
                        k: r.get(k)
                        for k in (
                            "id",
                            "athlete",
                            "shoe",
                            "sock",
                            "treadmill_speed_kmh",
                            "started_at",
                            "duration_s",
                            "source",
                            "gap_s",
                        )
                    }
                )
            return out

        return await run_in_threadpool(load)

    @router.get("/api/review/{session_id}")
    async def review(session_id: str) -> dict[str, Any]:
        """Everything the review page shows."""
        from review.figures import charts, maps_for_page
        from review.report import summary_sentences

        def build() -> dict[str, Any]:
            r = review_of(session_id)
            d = r.data
            steps = [
                {
                    "foot": s["foot"],
                    "heel_strike_s": s["heel_strike_s"],
                    "toe_off_s": s["toe_off_s"],
                }
                for s in d["steps"]
            ]
            return {
                "session": d["session"],
                "feet": d["feet"],
                "pivot": d["pivot"],
                "risk_label": d["risk_label"],
                "summary": d["summary"],
                "sentences": summary_sentences(r),
                "fatigue": d["fatigue"],
                "quality": d["quality"],
                "maps": maps_for_page(r),
                "charts": charts(r),
                "steps": steps,
                "cache": d.get("cache"),
            }

        return await run_in_threadpool(build)

    @router.get("/api/review/{session_id}/steps/{foot}/{k}")
    async def step_frames(session_id: str, foot: str, k: int) -> dict[str, Any]:
        """Frames of step ``k`` of ``foot`` as interpolated grids (≤ 60 frames, kPa)."""
        if foot not in ("left", "right"):
            raise HTTPException(404, "no such foot")

        def build() -> dict[str, Any]:

            from analysis.hotspots import InterpolationGrid
            from hardware.layout import load_layout
            from review.session import dense_weights, interpolate_many
            from store.schema import read_frame_rows

            r = review_of(session_id)
            if foot not in r.data["feet"]:
                raise HTTPException(404, "no such foot")
            win = r.arrays[f"{foot}/windows"]
            if not 0 <= k < len(win):
                raise HTTPException(404, "no such step")
            i0, _, i1 = (int(v) for v in win[k])
            d = session_dir(session_id)
            if i1 <= i0:
                raise HTTPException(404, "step has no frames")
            step = read_frame_rows(d / f"{foot}.parquet", i0, i1, foot, columns=[])
            t_s = step.t_s
            pressure = step.pressure_kpa
            info = r.data["feet"][foot]
            lay = load_layout(info["layout_id"], foot=foot, eu_size=info["eu_size"])
            grid = InterpolationGrid.from_layout(lay)
            w = dense_weights(grid, lay.n_sensels)
            if len(t_s) == 0:
                raise HTTPException(404, "step has no frames")
            idx = np.unique(np.linspace(0, len(t_s) - 1, min(len(t_s), 60)).astype(int))
            cells = interpolate_many(w, pressure[idx])
            frames = []
            for row in cells:
                g = np.full(grid.inside.shape, np.nan)
                g[grid.inside] = row
                frames.append(
                    [
                        [None if not np.isfinite(v) else round(float(v), 1) for v in line]
                        for line in g
                    ]
                )
            return {
                "foot": foot,
                "step": k,
                "t_s": [round(float(t), 4) for t in t_s[idx]],
                "x_mm": grid.x_mm.round(2).tolist(),
                "y_mm": grid.y_mm.round(2).tolist(),
                "unit": "kPa",
                "max_kpa": round(float(np.nanmax(cells)) if np.isfinite(cells).any() else 1.0, 1),
                "frames": frames,
            }

        return await run_in_threadpool(build)

    @router.get("/api/review/{session_id}/report.html", response_class=HTMLResponse)
    async def report(session_id: str) -> HTMLResponse:
        """The self-contained HTML report of a session."""
        from review.report import render_report

        html = await run_in_threadpool(lambda: render_report(review_of(session_id)))
        return HTMLResponse(html)

    @router.get("/api/compare")
    async def compare_api(
        by: str = Query("shoe,sock", max_length=100),
        athlete: str | None = Query(None, max_length=100),
        discard: int = Query(30, ge=0, le=10_000),
        min_steps: int = Query(60, ge=2, le=100_000),
    ) -> dict[str, Any]:
        """Comparison of all condition pairs (same defaults and seed as the CLI)."""
        from base.errors import PlantarError
        from review.compare import CompareOptions, compare, difference_maps, public
        from review.render import svg_boxplots

        def build() -> dict[str, Any]:
            keys = tuple(k.strip() for k in by.split(",") if k.strip())
            opts = CompareOptions(
                by=keys, athlete=athlete, discard_steps=discard, min_steps=min_steps
            )
            try:
                cmp = compare(opts, root=sessions_root)
            except PlantarError as err:
                raise HTTPException(422, str(err)) from None
            out = public(cmp)
            for i, pair in enumerate(out["comparisons"]):
                pair["difference_maps"] = difference_maps(cmp, i, discard)
                pair["plots"] = {
                    m["metric"]: svg_boxplots(
                        [(pair["a"], m["dist_a"]), (pair["b"], m["dist_b"])],
                        title=m["metric"],
                        unit=m["unit"],
                    )
                    for m in pair["metrics"]
                }
            return out

        return await run_in_threadpool(build)

    return router


review_router = make_review_router()
