"""``plantar report``: one self-contained HTML file per session, written for the runner.

Page 1 is in plain words (who, when, how long, what was measured, what was found, what it
means, what to try); the technical appendix follows on the next pages (maps on the
fixed colour scales, charts on the session clock, blister-risk index, data quality).

Maps are ``data:`` PNG URIs, charts inline SVG, styles inline; there is no script and no
reference to another file, so the file opens offline and prints to PDF
(:mod:`review.pdf`).
"""

from __future__ import annotations

import html
from typing import Any

from analysis.risk import RISK_LABEL
from review.figures import charts, duration_of, gap_spans, step_curves
from review.findings import Findings, findings
from review.labels import number, region_words
from review.maps import maps_for_page
from review.session import SessionReview
from review.timebase import clock_text, gap_summary

#: Gap spans listed in the report (the largest; all of them are drawn on the charts).
REPORT_SPANS = 10

CSS = """
@page{size:A4;margin:16mm}
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:2px}
.meta{color:#444;font-size:1.05em}.runner li{margin:4px 0}
.appendix{break-before:page;page-break-before:always}
.maps{display:flex;flex-wrap:wrap;gap:10px}.map{width:180px;font-size:11px;margin:0}
.map img{display:block;width:180px}figure.chart{margin:4px 0}
figure.chart svg{max-width:100%;height:auto}
.proxy{color:#8e44ad;font-weight:bold}.warn{color:#c0392b}.label{font-style:italic;color:#555}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
td.num{text-align:right}
"""


def esc(v: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(v))


def page(title: str, body: list[str]) -> str:
    """A self-contained HTML document."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    return (
        f"<h2>{esc(title)}</h2><ul class='runner'>"
        + "".join(f"<li>{esc(x)}</li>" for x in items)
        + "</ul>"
    )


def runner_page(f: Findings) -> list[str]:
    """Page 1: the runner's words."""
    return [
        f"<h1>{esc(f.title)}</h1>",
        f"<p class='meta'>{esc(f.when)} · {esc(f.duration)} · {esc(f.gear)}</p>",
        _list("What was measured", f.measured),
        _list("What we found", f.found),
        _list("What it means", f.meaning),
        _list("What to try", f.try_next),
    ]


def map_figure(kind: str, m: dict[str, Any]) -> str:
    """One map with its caption (title, unit, proxy label, scale)."""
    parts = [f"<figure class='map' data-kind='{esc(kind)}'>"]
    parts.append(f"<img alt='{esc(m['title'])}' src='{m['png']}'>")
    parts.append(f"<figcaption>{esc(m['title'])}")
    if m.get("unit"):
        parts.append(f" [{esc(m['unit'])}]")
    if m.get("label"):
        parts.append(f"<br><span class='proxy'>{esc(m['label'])}</span>")
    parts.append("</figcaption></figure>")
    return "".join(parts)


def quality_section(review: SessionReview) -> list[str]:
    """Per-foot counts and the gap spans, on the session clock."""
    q = review.data["quality"]
    spans = gap_spans(review)
    out = [
        "<h2 id='quality'>Gaps and data quality</h2>",
        f"<p class='gaps'>{esc(gap_summary(q, spans))}; {q['steps_with_gaps']} steps with a gap "
        f"inside stance; dropped by the recorder: {q['dropped_frames']} frames.</p>",
        "<table><tr><th>foot</th><th>frames</th><th>sampling rate</th><th>lost frames</th>"
        "<th>missing samples</th><th>rejected steps</th></tr>",
    ]
    for foot, f in q["per_foot"].items():
        out.append(
            f"<tr><td>{esc(foot)}</td><td class='num'>{f['frames']:,}</td>"
            f"<td class='num'>{number(f['rate_hz'], 'Hz')}</td>"
            f"<td class='num'>{f['lost_frames']:,} ({number(f['lost_pct'], '%', digits=2)})</td>"
            f"<td class='num'>{f['missing_samples']:,} "
            f"({number(f['missing_pct'], '%', digits=2)})</td>"
            f"<td class='num'>{f['rejected_steps']}</td></tr>"
        )
    out.append("</table>")
    if spans:
        shown = sorted(sorted(spans, key=lambda s: -s.frames)[:REPORT_SPANS], key=lambda s: s.t0_s)
        out.append(
            f"<p>The {len(shown)} largest spans, in time order:</p>"
            "<table class='spans'><tr><th>from (session time)</th><th>to</th><th>feet</th>"
            "<th>kind</th><th>frames</th></tr>"
        )
        for s in shown:
            out.append(
                f"<tr><td>{clock_text(s.t0_s, decimals=1)}</td><td>{clock_text(s.t1_s, decimals=1)}"
                f"</td><td>{esc(', '.join(s.feet))}</td><td>{esc(', '.join(s.kinds))}</td>"
                f"<td class='num'>{s.frames:,}</td></tr>"
            )
        out.append("</table>")
        if len(spans) > len(shown):
            rest = [x for x in spans if x not in shown]
            out.append(
                f"<p>… and {len(rest)} smaller spans ({sum(x.frames for x in rest):,} frames).</p>"
            )
    return out


def risk_table(review: SessionReview) -> list[str]:
    """The blister-risk index per region (relative index, never a probability)."""
    out = [
        f"<h2>Blister-risk index <span class='label'>({esc(RISK_LABEL)})</span></h2>",
        "<p class='label'>A relative index to compare one runner's shoe/sock conditions, never "
        "a probability; no clinical threshold exists. Compare the numbers between your own "
        "runs only.</p><table><tr><th>region</th><th>kind</th><th>per step</th><th>per km</th>"
        "</tr>",
    ]
    for region, r in (review.data["summary"].get("risk") or {}).items():
        kind = {"proxy": "proxy (pressure × CoP rotation, not shear)", "shear": "shear"}.get(
            r.get("kind"), "not measured"
        )
        out.append(
            f"<tr><td>{esc(region_words(region))} ({esc(region)})</td><td>{esc(kind)}</td>"
            f"<td class='num'>{number(r.get('per_step'))}</td>"
            f"<td class='num'>{number(r.get('per_km'))}</td></tr>"
        )
    out.append("</table>")
    return out


def appendix(review: SessionReview) -> list[str]:
    """The technical pages: maps, charts, trends, risk, data quality, definitions."""
    d = review.data
    out = ["<section class='appendix'><h2>Technical appendix</h2>"]
    out.append(
        f"<p class='label'>Session {esc(d['session']['id'])}, source "
        f"{esc(d['session'].get('source') or '–')}. Times are on the session clock: 0 = start, "
        f"{clock_text(duration_of(review))} = end. "
        + (
            f"{esc(d['no_map'])}.</p>"
            if d.get("no_map")
            else "Pressure maps use the live page's fixed 0-400 kPa colour scale.</p>"
        )
    )
    for foot, kinds in maps_for_page(review).items():
        if not kinds:  # a force plate
            continue
        out.append(f"<h3>Maps: {esc(foot)} foot</h3><div class='maps'>")
        out += [map_figure(kind, m) for kind, m in kinds.items()]
        out.append("</div>")
    ch = charts(review)
    out.append("<h3>Per-step series</h3>")
    out.append("<p class='label'>Red bands: gaps in the data (merged into spans).</p>")
    series = ("contact_time", "cadence", "pivot", "forefoot_peak", "symmetry")
    out += [ch[k].html() for k in series if not (d.get("no_map") and k == "forefoot_peak")]
    out.append("<h3>Average step</h3>")
    out.append(step_curves(review))
    if d["pivot"]["kind"] == "proxy":
        out.append(
            f"<p class='proxy'>Pivot: {esc(d['pivot']['quantity'])} ({esc(d['pivot']['unit'])})"
            f", {esc(d['pivot']['label'] or 'proxy')}</p>"
        )
    out.append("<h3>Trends and change points</h3>")
    flags = d["fatigue"]["flags"]
    out.append(
        f"<p class='warn'>{esc('; '.join(flags))} (minutes from the first step)</p>"
        if flags
        else "<p>No change flagged.</p>"
    )
    out.append("<div class='maps'>")
    out += [c.html() for k, c in ch.items() if k.startswith("trend:")]
    out.append("</div>")
    out += risk_table(review)
    out += quality_section(review)
    out.append(
        "<p class='label'>Definitions: docs/metrics.md and docs/review.md of Plantar. "
        f"Analysis version {esc((d.get('cache') or {}).get('version', ''))}.</p></section>"
    )
    return out


def render_report(review: SessionReview) -> str:
    """The HTML text of the runner's report of one session."""
    f = findings(review)
    return page(f"{f.title}, {f.when}", [*runner_page(f), *appendix(review)])
