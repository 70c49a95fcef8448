"""``plantar report --compare``: the shoe × sock comparison as one self-contained HTML
file for the runner and the physio. Page 1: the verdict of every pair with its 95 % CI
and the sessions and steps behind it, in plain words; then the technical appendix (each
metric with effect, CI and Hedges g, per-step distributions, difference maps)."""

from __future__ import annotations

from typing import Any

from review.figures import boxplots
from review.labels import metric_words, number
from review.report import esc, page
from review.verdict import pair_verdict

#: Metric groups shown in the appendix tables, in order.
APPENDIX_GROUPS = ("pivot", "shear", "timing", "pressure", "risk")


def _condition_line(c: dict[str, Any]) -> str:
    speed = f"{number(c['speed_kmh'], 'km/h')}" if c["speed_kmh"] is not None else "speed unknown"
    n = len(c["sessions"])
    return f"{c['label']}: {n} session{'s' if n != 1 else ''}, {c['steps']:,} steps at {speed}"


def _metric_rows(pair: dict[str, Any]) -> list[str]:
    out = [
        "<table><tr><th>what</th><th>mean A</th><th>mean B</th><th>B vs A</th>"
        "<th>95 % CI</th><th>Hedges g [95 % CI]</th><th>steps A / B</th></tr>"
    ]
    for group in APPENDIX_GROUPS:
        for m in (x for x in pair["metrics"] if x["group"] == group):
            what = esc(metric_words(m["metric"]))
            if m.get("proxy"):
                what += f" <span class='proxy'>({esc(m['label'])})</span>"
            if m["status"] != "ok":
                out.append(
                    f"<tr><td>{what}</td><td colspan='5' class='label'>{esc(m['status'])}</td>"
                    f"<td class='num'>{m['n_a']} / {m['n_b']}</td></tr>"
                )
                continue
            ci = m.get("pct_change_ci") or [None, None]
            g, gci = m.get("hedges_g"), m.get("hedges_g_ci") or [None, None]
            out.append(
                f"<tr data-metric='{esc(m['metric'])}'><td>{what}</td>"
                f"<td class='num'>{number(m['mean_a'], m['unit'])}</td>"
                f"<td class='num'>{number(m['mean_b'], m['unit'])}</td>"
                f"<td class='num'>{number(m.get('pct_change'), '%', digits=2)}</td>"
                f"<td class='num'>[{number(ci[0], digits=2)}, {number(ci[1], digits=2)}] %</td>"
                f"<td class='num'>{number(g, digits=2)} [{number(gci[0], digits=2)}, "
                f"{number(gci[1], digits=2)}]</td>"
                f"<td class='num'>{m['n_a']} / {m['n_b']}</td></tr>"
            )
    out.append("</table>")
    return out


def render_compare_report(result: dict[str, Any], diff_maps: list[dict[str, Any]]) -> str:
    """HTML of a comparison (``review.compare.public(compare(...))``) with the difference
    maps of each pair (``review.compare.difference_maps``)."""
    athletes = sorted({c["athlete"] for c in result["conditions"] if c["athlete"]})
    who = ", ".join(athletes) or "unnamed runner"
    by = " × ".join(result["by"])
    body = [
        f"<h1>Which {esc(by)} suits {esc(who)} best</h1>",
        "<p class='meta'>Comparison of the runs recorded in each condition, at the same "
        "treadmill speed. The first "
        f"{result['discard_steps_per_foot']} steps of each foot in every run are left out "
        "(getting used to the shoe).</p>",
        "<h2>Verdict</h2><ul class='runner verdicts'>",
    ]
    verdicts = [pair_verdict(p) for p in result["comparisons"]]
    if not verdicts:
        body.append(
            "<li>Nothing to compare: record at least two conditions of one runner at one "
            "speed.</li>"
        )
    body += [f"<li class='verdict'>{esc(v['text'])}</li>" for v in verdicts]
    body.append("</ul><h2>Conditions</h2><ul class='runner'>")
    body += [f"<li>{esc(_condition_line(c))}</li>" for c in result["conditions"]]
    body.append("</ul><h2>What it means</h2><ul class='runner'>")
    body.append(
        "<li>Less twist at push-off means less rubbing of the skin over the ball of the "
        "foot, where friction blisters form.</li>"
        "<li>The range in brackets is the 95 % confidence interval: where it does not include "
        "no change, the difference is unlikely to be chance alone.</li>"
        "<li>With fewer than 3 runs per condition the range covers step-to-step variation "
        "only: a difference between days or insole placement looks the same.</li>"
    )
    body.append("</ul><h2>What to try</h2><ul class='runner'>")
    clear = [v for v in verdicts if v["clear"] and (v["pct_change"] or 0) < 0]
    body.append(
        "<li>" + esc(f"Prefer {clear[0]['text'].split(':')[0]} for long runs.") + "</li>"
        if clear
        else "<li>No condition is clearly better yet: record more runs per condition.</li>"
    )
    body.append("</ul>")
    body.append("<section class='appendix'><h2>Technical appendix</h2>")
    body.append(
        f"<p class='label'>{esc(result['effect_definition'])}. 95 % CIs from a block bootstrap "
        "(blocks of consecutive steps; sessions resampled first with 3 or more sessions per "
        f"condition). Blister-risk dose: {esc(result['risk_label'])}.</p>"
    )
    for pair, maps in zip(result["comparisons"], diff_maps, strict=True):
        body.append(f"<h3>A = {esc(pair['a'])} vs B = {esc(pair['b'])}</h3>")
        body.append(
            f"<p class='label'>bootstrap: {esc(pair['bootstrap']['level'])}, "
            f"{pair['bootstrap']['n_boot']:,} resamples; sessions A: "
            f"{esc(', '.join(pair['sessions']['a']))}; B: {esc(', '.join(pair['sessions']['b']))}"
            "</p>"
        )
        body += _metric_rows(pair)
        body.append("<div class='maps'>")
        for foot, m in maps.items():
            for c in m.get("conditions", []):
                body.append(
                    f"<figure class='map' data-kind='{esc(c['kind'])}'>"
                    f"<img alt='{esc(c['title'])}' src='{c['png']}'>"
                    f"<figcaption>{esc(foot)}: {esc(c['title'])}</figcaption></figure>"
                )
            if m.get("png"):
                body.append(
                    f"<figure class='map' data-foot='{esc(foot)}'><img alt='{esc(m['title'])}' "
                    f"src='{m['png']}'><figcaption>{esc(foot)}: {esc(m['title'])}</figcaption>"
                    "</figure>"
                )
            else:
                body.append(f"<p>{esc(foot)}: {esc(m['note'])}</p>")
        for m in pair["metrics"]:
            if m["group"] in ("pivot", "timing"):
                body.append(
                    boxplots(
                        m["metric"],
                        [(pair["a"], m["dist_a"]), (pair["b"], m["dist_b"])],
                        title=metric_words(m["metric"]),
                        unit=m["unit"],
                    )
                )
        body.append("</div>")
    body.append("</section>")
    return page(f"Comparison: {who}", body)
