"""``plantar report``: one self-contained HTML file per session (maps, trends, data
quality and a plain-language summary), suitable for sending to a physio.

Images are embedded as ``data:`` PNG URIs and inline SVG, styles are inline, there is
no script and no external reference, so the file opens offline in any browser.
"""

from __future__ import annotations

import html
import math
from typing import Any

from analysis.risk import RISK_LABEL
from review.figures import charts, maps_for_page
from review.session import SessionReview

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:1.5em;margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:2px}
.meta{color:#555}.maps{display:flex;flex-wrap:wrap;gap:14px}
.map{width:150px;font-size:11px}.map img{display:block;max-width:150px}
.scale{height:10px;border:1px solid #999}.ends{display:flex;justify-content:space-between}
.proxy{color:#8e44ad;font-weight:bold}.warn{color:#c0392b}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
.label{font-style:italic;color:#555}
"""


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return html.escape(str(v))


def summary_sentences(review: SessionReview) -> list[str]:
    """The plain-language summary, one sentence per item."""
    d = review.data
    s = d["summary"]
    out = []
    dur = d["session"].get("duration_s") or 0
    out.append(
        f"{s['steps']} steps in {dur / 60:.1f} min; cadence {_fmt(s.get('cadence_spm'), 0)} "
        f"steps/min; contact time left {_fmt((s['contact_time_s'] or {}).get('left'), 3)} s, "
        f"right {_fmt((s['contact_time_s'] or {}).get('right'), 3)} s."
    )
    for foot, kinds in d["maps"].items():
        mp = kinds["peak_pressure"]
        steps = [st for st in d["steps"] if st["foot"] == foot]
        if steps:
            regions: dict[str, list[float]] = {}
            for st in steps:
                for r, v in st["peak_pressure_kpa"].items():
                    if v is not None:
                        regions.setdefault(r, []).append(v)
            means = sorted(((sum(v) / len(v), r) for r, v in regions.items()), reverse=True)
            top = ", ".join(f"{r} ({m:.0f} kPa)" for m, r in means[:2])
            out.append(f"{foot.capitalize()} foot: most load under {top} (mean per-step peak).")
        del mp
    piv = d["pivot"]
    if piv["kind"] == "shear":
        out.append("Pivot (twisting) at toe-off is measured from the shear sensors (free moment).")
    elif piv["kind"] == "force_plate":
        out.append("Pivot (twisting) at toe-off is the force plate's free moment (measured).")
    else:
        out.append(
            "This insole has no shear sensors: the pivot shown is a proxy "
            f"({html.escape(piv['label'] or 'CoP and IMU signals, not shear')})."
        )
    flags = d["fatigue"]["flags"]
    out.append(
        "Change points: " + "; ".join(flags) + "." if flags else "Change points: none flagged."
    )
    q = d["quality"]
    lost = sum(f["lost_frames"] for f in q["per_foot"].values())
    missing = sum(f["missing_samples"] for f in q["per_foot"].values())
    out.append(
        f"Data quality: {q['n_gaps']} gaps ({_fmt(q['gap_s_total'], 2)} s in total), "
        f"{lost} lost frames, {missing} missing samples, {q['steps_with_gaps']} steps with a gap "
        "inside stance."
    )
    return out


def render_report(review: SessionReview) -> str:
    """The HTML text of the report."""
    d = review.data
    sess = d["session"]
    esc = html.escape
    title = f"Plantar session {sess['id']}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class='meta'>athlete {esc(sess['athlete'] or '–')} · shoe {esc(sess['shoe'] or '–')}"
        f" · sock {esc(sess['sock'] or '–')} · speed {_fmt(sess['treadmill_speed_kmh'])} km/h"
        f" · started {esc(sess['started_at'] or '–')} · source {esc(sess['source'] or '–')}</p>",
        "<h2>Summary</h2><ul>",
        *[f"<li>{x}</li>" for x in summary_sentences(review)],
        "</ul>",
    ]
    figs = maps_for_page(review)
    for foot, kinds in figs.items():
        parts.append(f"<h2>Maps: {esc(foot)} foot</h2><div class='maps'>")
        for kind, m in kinds.items():
            parts.append(f"<figure class='map' data-kind='{esc(kind)}'>")
            parts.append(f"<img alt='{esc(m['title'])}' src='{m['png']}'>")
            parts.append(f"<figcaption>{esc(m['title'])}")
            if m.get("unit"):
                parts.append(f" [{esc(m['unit'])}]")
            if m.get("proxy") or m.get("label"):
                parts.append(f"<br><span class='proxy'>{esc(m.get('label') or 'proxy')}</span>")
            if "scale" in m:
                parts.append(
                    f"<div class='scale' style='background:{m['gradient']}'></div>"
                    f"<div class='ends'><span>{_fmt(m['scale']['min'])}</span>"
                    f"<span>{_fmt(m['scale']['max'])} {esc(m['unit'])}</span></div>"
                )
            parts.append("</figcaption></figure>")
        parts.append("</div>")
    ch = charts(review)
    parts.append("<h2>Per-step series</h2>")
    parts.append(
        "<p class='label'>Red bands: gaps in the data (lost frames or missing samples).</p>"
    )
    for key in ("contact_time", "cadence", "pivot", "forefoot_peak", "symmetry"):
        parts.append(f"<div>{ch[key]}</div>")
    if d["pivot"]["kind"] == "proxy":
        parts.append(f"<p class='proxy'>Pivot: {esc(d['pivot']['label'] or 'proxy')}</p>")
    parts.append("<h2>Trends and change points</h2>")
    flags = d["fatigue"]["flags"]
    parts.append(
        "<p class='warn'>" + esc("; ".join(flags)) + "</p>"
        if flags
        else "<p>No change flagged.</p>"
    )
    parts.append(f"<div class='maps'>{ch['fatigue']}</div>")
    parts.append(
        f"<h2>Blister-risk index <span class='label'>({esc(RISK_LABEL)})</span></h2>"
        "<p class='label'>A relative index to compare one runner's shoe/sock conditions, "
        "never a probability; no clinical threshold exists.</p>"
        "<table><tr><th>region</th><th>kind</th><th>per step</th><th>per km</th></tr>"
    )
    for region, r in (d["summary"].get("risk") or {}).items():
        kind = r.get("kind")
        kind_txt = {
            "proxy": "proxy (pressure × CoP rotation, not shear)",
            "shear": "shear",
        }.get(kind, "not measured")
        parts.append(
            f"<tr><td>{esc(region)}</td><td>{esc(kind_txt)}</td><td>{_fmt(r.get('per_step'), 3)}"
            f"</td><td>{_fmt(r.get('per_km'), 1)}</td></tr>"
        )
    parts.append("</table>")
    q = d["quality"]
    parts.append("<h2 id='quality'>Gaps and data quality</h2>")
    parts.append(
        "<table><tr><th>foot</th><th>frames</th><th>rate (Hz)</th><th>lost frames</th>"
        "<th>missing samples</th><th>rejected steps</th></tr>"
    )
    for foot, f in q["per_foot"].items():
        parts.append(
            f"<tr><td>{esc(foot)}</td><td>{f['frames']}</td><td>{_fmt(f['rate_hz'])}</td>"
            f"<td>{f['lost_frames']} ({_fmt(f['lost_pct'], 2)} %)</td>"
            f"<td>{f['missing_samples']} ({_fmt(f['missing_pct'], 2)} %)</td>"
            f"<td>{f['rejected_steps']}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        f"<p class='gaps'>{q['n_gaps']} gaps, {_fmt(q['gap_s_total'], 2)} s in total; "
        f"{q['steps_with_gaps']} steps with a gap inside stance; dropped by the recorder: "
        f"{q['dropped_frames']}; lost at the end: {_fmt(q['lost_at_end_s'], 2)} s.</p>"
    )
    if q["gaps"]:
        parts.append(
            "<table><tr><th>foot</th><th>from (s)</th><th>to (s)</th><th>kind</th>"
            "<th>frames</th></tr>"
        )
        for g in q["gaps"][:50]:
            parts.append(
                f"<tr><td>{esc(g['foot'])}</td><td>{g['t0_s']:.2f}</td><td>{g['t1_s']:.2f}</td>"
                f"<td>{esc(g['kind'])}</td><td>{g['frames']}</td></tr>"
            )
        parts.append("</table>")
        if q["n_gaps"] > 50:
            parts.append(f"<p>… and {q['n_gaps'] - 50} more.</p>")
    parts.append(
        "<p class='label'>Definitions: docs/metrics.md and docs/review.md of Plantar. "
        f"Analysis version {esc(str((d.get('cache') or {}).get('version', '')))}.</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)
