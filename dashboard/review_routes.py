"""Review and comparison pages and their JSON API (an :class:`fastapi.APIRouter`).

Include it in the dashboard app with ``app.include_router(review_router)``; the pages
load ``/static/review.js`` and ``/static/compare.js`` from the app's static mount.

* ``GET /review`` the session review page; ``GET /compare`` the comparison page.
* ``GET /api/review/sessions?athlete=&shoe=&sock=&date_from=&date_to=`` sessions.
* ``GET /api/review/{id}`` maps (PNG data URIs, scales, units, proxy labels), per-step
  series and fatigue charts (SVG), summary, data quality.
* ``GET /api/review/{id}/steps/{foot}/{k}`` one step's frames as heat-map grids (replay).
* ``GET /api/review/{id}/report.html`` the self-contained report (``report.pdf``: as PDF).
* ``POST /api/review/{id}/tags`` fix athlete, shoe, sock or note.
* ``GET /api/compare?by=shoe,sock&athlete=&discard=30`` the same numbers as
  ``plantar compare --json``, plus difference maps and distribution plots.

Computations run in a worker thread and use the per-session cache (:mod:`review.cache`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def make_review_router(
    sessions_root: Path | None = None, compare_gate: Callable[[dict[str, Any]], None] | None = None
) -> APIRouter:
    """The router; ``sessions_root`` defaults to :func:`base.paths.sessions_dir`.

    ``compare_gate`` (tests only) is called with the query of every ``/api/compare``
    request, in its worker thread, before the comparison runs: a test holds one request
    there to have it in flight while it sends another."""
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
    async def review(
        session_id: str,
        scale: str = Query("fixed", pattern="^(fixed|auto)$"),
        t0: float | None = Query(None, ge=0.0, le=1e7),
        t1: float | None = Query(None, ge=0.0, le=1e7),
    ) -> dict[str, Any]:
        """Everything the review page shows (maps on fixed colour scales, or ``auto``);
        ``t0``/``t1`` (session clock, s) limit every metric to the steps starting there."""
        from base.errors import PlantarError
        from review.figures import charts, duration_of, gap_spans, step_curves
        from review.findings import findings
        from review.maps import maps_for_page
        from review.time_range import restrict
        from review.timebase import gap_summary

        def build() -> dict[str, Any]:
            r = full = review_of(session_id)
            if t0 is not None or t1 is not None:
                try:
                    r = restrict(r, t0 or 0.0, t1 if t1 is not None else duration_of(r))
                except PlantarError as err:
                    raise HTTPException(422, str(err)) from None
            d = r.data
            # the replay's step numbers are those of the whole session (its step windows)
            steps = [
                {
                    "foot": s["foot"],
                    "heel_strike_s": s["heel_strike_s"],
                    "toe_off_s": s["toe_off_s"],
                }
                for s in full.data["steps"]
            ]
            spans = gap_spans(r)
            f = findings(r)
            return {
                "session": d["session"],
                "duration_s": duration_of(r),
                "feet": d["feet"],
                "pivot": d["pivot"],
                "risk_label": d["risk_label"],
                "summary": d["summary"],
                "title": f.title,
                "when": f.when,
                "sentences": f.found + f.meaning,
                "fatigue": d["fatigue"],
                "quality": {**d["quality"], "gaps": None, "events": None},
                "gap_spans": [s.as_dict() for s in spans],
                "gap_summary": gap_summary(d["quality"], spans),
                "maps": maps_for_page(r, scale),
                "charts": {k: c.html() for k, c in charts(r).items()},
                "curves": step_curves(r),
                "range": d.get("range"),
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
            from review.plotting import PRESSURE_SCALE_KPA
            from review.session import dense_weights, interpolate_many
            from store.schema import read_frame_rows

            r = review_of(session_id)
            if foot not in r.data["feet"]:
                raise HTTPException(404, "no such foot")
            if r.data.get("no_map"):  # a force plate
                raise HTTPException(404, r.data["no_map"])
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
                "scale_kpa": PRESSURE_SCALE_KPA[1],
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

    @router.get("/api/review/{session_id}/report.pdf")
    async def report_pdf(session_id: str) -> Response:
        """The report as a PDF (headless Chromium on the server)."""
        import tempfile

        from base.errors import PlantarError
        from review.pdf import html_to_pdf
        from review.report import render_report

        def build() -> bytes:
            html = render_report(review_of(session_id))
            with tempfile.TemporaryDirectory(prefix="plantar-report-") as tmp:
                out = Path(tmp) / "report.pdf"
                try:
                    html_to_pdf(html, out)
                except PlantarError as err:
                    raise HTTPException(422, str(err)) from None
                return out.read_bytes()

        pdf = await run_in_threadpool(build)
        return Response(pdf, media_type="application/pdf")

    @router.post("/api/review/{session_id}/tags")
    async def tag(session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Fix a session's athlete, shoe, sock or note (``plantar tag`` does the same)."""
        from base.errors import PlantarError
        from review.tagging import TAG_FIELDS, tag_session

        fields = {k: body[k] for k in TAG_FIELDS if isinstance(body.get(k), str)}
        if not fields:
            raise HTTPException(422, f"give one of: {', '.join(TAG_FIELDS)}")
        if any(len(v) > 100 for v in fields.values()):
            raise HTTPException(422, "tags are at most 100 characters")
        try:
            return await run_in_threadpool(tag_session, session_dir(session_id), **fields)
        except PlantarError as err:
            raise HTTPException(422, str(err)) from None

    @router.get("/api/compare")
    async def compare_api(
        by: str = Query("shoe,sock", max_length=100),
        athlete: str | None = Query(None, max_length=100),
        reference: str | None = Query(None, max_length=200),
        sessions: str | None = Query(None, max_length=5000),
        discard: int = Query(30, ge=0, le=10_000),
        min_steps: int = Query(60, ge=2, le=100_000),
    ) -> dict[str, Any]:
        """Comparison of all condition pairs (same defaults and seed as the CLI), with the
        plain verdict of each; ``sessions`` (comma-separated ids) limits it to sessions
        picked by hand, ``reference`` names the condition the others are compared with."""
        from base.errors import PlantarError
        from review.compare import CompareOptions, compare, difference_maps, public
        from review.figures import boxplots
        from review.labels import metric_words
        from review.verdict import pair_verdict

        def build() -> dict[str, Any]:
            if compare_gate is not None:
                compare_gate({"by": by, "athlete": athlete, "sessions": sessions})
            keys = tuple(k.strip() for k in by.split(",") if k.strip())
            picked = tuple(x for x in (sessions or "").split(",") if x) or None
            opts = CompareOptions(
                by=keys,
                athlete=athlete or None,
                reference=reference or None,
                sessions=picked,
                discard_steps=discard,
                min_steps=min_steps,
            )
            try:
                cmp = compare(opts, root=sessions_root)
            except PlantarError as err:
                raise HTTPException(422, str(err)) from None
            out = public(cmp)
            for i, pair in enumerate(out["comparisons"]):
                pair["difference_maps"] = difference_maps(cmp, i, discard)
                pair["verdict"] = pair_verdict(pair)
                pair["plots"] = {
                    m["metric"]: boxplots(
                        m["metric"],
                        [(pair["a"], m["dist_a"]), (pair["b"], m["dist_b"])],
                        title=metric_words(m["metric"]),
                        unit=m["unit"],
                    )
                    for m in pair["metrics"]
                    if m["group"] in ("pivot", "timing", "shear")
                }
            return out

        return await run_in_threadpool(build)

    return router


review_router = make_review_router()
