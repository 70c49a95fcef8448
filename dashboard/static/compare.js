"use strict";
// Comparison page: every condition pair (same athlete, same speed) with a plain verdict,
// effect sizes with bootstrap 95 % CIs (the numbers of `plantar compare --json`),
// difference maps and per-step distributions. The reference condition is chosen
// explicitly; sessions can be picked by hand. Only the latest request renders: a new one
// aborts the one in flight (AbortController).
(function () {
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  // Numbers for people: 3 significant digits, thousands separated, never an exponent.
  const num = (v) => (v === null || v === undefined ? "–" : Number(Number(v).toPrecision(3)).toLocaleString("en", {maximumFractionDigits: 3}));
  window.plantarCompare = {data: null, query: null, requests: 0, aborted: 0};
  let inFlight = null;

  async function loadSessions() {
    const rows = await (await fetch("/api/review/sessions")).json();
    $("#picker").innerHTML = rows.map((r) => `<label class="pick"><input type="checkbox" name="pick" value="${esc(r.id)}"> ${esc((r.started_at || "").slice(0, 16).replace("T", " "))} · ${esc(r.athlete || "–")} · ${esc(r.shoe || "–")} / ${esc(r.sock || "–")}</label>`).join("") || "no sessions";
  }

  function query() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("#opts"))) if (v !== "" && k !== "pick") q.set(k, v);
    const picked = Array.from(document.querySelectorAll("input[name=pick]:checked")).map((x) => x.value);
    if (picked.length) q.set("sessions", picked.join(","));
    return q;
  }

  async function run() {
    if (inFlight) { inFlight.abort(); window.plantarCompare.aborted += 1; }
    const ctl = new AbortController();
    inFlight = ctl;
    const q = query();
    window.plantarCompare.requests += 1;
    $("#result").innerHTML = "<p>computing… (each session is cached after its first analysis)</p>";
    let d, resp;
    try {
      resp = await fetch("/api/compare?" + q, {signal: ctl.signal});
      d = await resp.json();
    } catch (err) {
      if (err.name === "AbortError") return;  // a newer request replaced this one
      throw err;
    }
    if (inFlight !== ctl) return;  // belt and braces: only the latest answer renders
    inFlight = null;
    if (!resp.ok) { $("#result").innerHTML = `<p>${esc(d.detail)}</p>`; return; }
    window.plantarCompare.data = d;
    window.plantarCompare.query = q.toString();
    render(d);
  }

  function render(d) {
    const ref = $("#opts").elements.reference, keep = ref.value;
    ref.innerHTML = `<option value="">first in alphabetical order</option>` + d.conditions.map((c) => `<option${c.label === keep ? " selected" : ""}>${esc(c.label)}</option>`).join("");
    $("#conditions").innerHTML = "<h3>Conditions</h3><ul>" + d.conditions.map((c) =>
      `<li>${esc(c.label)} · athlete ${esc(c.athlete || "–")} · ${c.speed_kmh === null ? "speed unknown" : c.speed_kmh + " km/h"} · ${c.sessions.length} session(s), ${c.steps.toLocaleString("en")} steps</li>`).join("") + "</ul>";
    let h = "";
    if (!d.comparisons.length) h = "<p>Nothing to compare: need two conditions of one athlete at one speed.</p>";
    d.comparisons.forEach((c, i) => {
      h += `<section class="pair" data-index="${i}" data-athlete="${esc(c.athlete)}"><h3>A = ${esc(c.a)} vs B = ${esc(c.b)}</h3>`;
      h += `<p class="verdict ${c.verdict.clear ? "clear" : ""}">${esc(c.verdict.text)}</p>`;
      h += `<p>athlete ${esc(c.athlete || "–")} · ${c.speed_matched ? "speed-matched at " + c.speed_kmh + " km/h" : "speed unknown: not speed-matched"} · steps after acclimatisation A ${c.steps.a}, B ${c.steps.b} · bootstrap: ${esc(c.bootstrap.level)} (${c.bootstrap.n_boot} resamples)</p>`;
      if (c.note) h += `<p class="proxy">${esc(c.note)}</p>`;
      h += '<div class="maps">';
      for (const [foot, m] of Object.entries(c.difference_maps)) {
        if (!m.png) { h += `<p>${esc(foot)}: ${esc(m.note)}</p>`; continue; }
        for (const c of m.conditions || []) h += `<figure class="map" data-kind="${esc(c.kind)}" data-foot="${esc(foot)}"><img alt="${esc(c.title)}" src="${c.png}"><figcaption>${esc(foot)}: ${esc(c.title)} [${esc(c.unit)}], scale ${num(c.scale.min)} – ${num(c.scale.max)} ${esc(c.unit)}</figcaption></figure>`;
        h += `<figure class="map" data-kind="diff" data-foot="${esc(foot)}"><img alt="${esc(m.title)}" src="${m.png}"><figcaption>${esc(foot)}: ${esc(m.title)} [${esc(m.unit)}], scale ±${num(m.scale.max)} ${esc(m.unit)}</figcaption></figure>`;
      }
      h += "</div>";
      h += "<table><tr><th>metric</th><th>unit</th><th>n A/B</th><th>mean A</th><th>mean B</th><th>A − B</th><th>95 % CI</th><th>B vs A %</th><th>95 % CI</th><th>Hedges g [95 % CI]</th><th>risk per km change [95 % CI]</th></tr>";
      for (const m of c.metrics) {
        const lab = m.proxy ? ` <span class="proxy">(${esc(m.label)})</span>` : (m.group === "risk" ? ' <span class="proxy">(relative index, no clinical threshold)</span>' : "");
        if (m.status !== "ok") {
          h += `<tr data-metric="${esc(m.metric)}"><td>${esc(m.metric)}${lab}</td><td>${esc(m.unit)}</td><td>${m.n_a}/${m.n_b}</td><td colspan="8" class="few">${esc(m.status)}${m.need ? " (need " + m.need + " per condition)" : ""}</td></tr>`;
          continue;
        }
        const ci = m.effect_ci || [null, null], pci = m.pct_change_ci || [null, null], gci = m.hedges_g_ci || [null, null];
        const km = m.per_km_change !== undefined && m.per_km_change !== null ? `${num(m.per_km_change)} [${num(m.per_km_change_ci[0])}, ${num(m.per_km_change_ci[1])}]` : (m.per_km_note ? esc(m.per_km_note) : "");
        h += `<tr data-metric="${esc(m.metric)}" class="${m.ci_excludes_0 ? "sig" : ""}"><td>${esc(m.metric)}${lab}</td><td>${esc(m.unit)}</td><td>${m.n_a}/${m.n_b}</td>` +
          `<td class="num">${num(m.mean_a)}</td><td class="num">${num(m.mean_b)}</td><td class="num effect">${num(m.effect)}</td>` +
          `<td class="num ci" data-lo="${ci[0]}" data-hi="${ci[1]}">[${num(ci[0])}, ${num(ci[1])}]</td>` +
          `<td class="num">${num(m.pct_change)}</td><td class="num">[${num(pci[0])}, ${num(pci[1])}]</td>` +
          `<td class="num">${num(m.hedges_g)} [${num(gci[0])}, ${num(gci[1])}]</td><td class="num">${km}</td></tr>`;
      }
      h += "</table><h4>Per-step distributions (5–25–50–75–95 %)</h4><div class=\"plots\">";
      for (const m of c.metrics) if (c.plots[m.metric]) h += c.plots[m.metric];
      h += "</div></section>";
    });
    $("#result").innerHTML = h;
  }
  $("#opts").onsubmit = (e) => { e.preventDefault(); run(); };
  const q = new URLSearchParams(location.search);
  for (const k of ["by", "athlete", "discard"]) if (q.get(k)) $("#opts").elements[k].value = q.get(k);
  if (q.get("reference")) $("#opts").elements.reference.innerHTML = `<option selected>${esc(q.get("reference"))}</option>`;
  loadSessions();
  if (q.get("auto") !== "0") run();
})();
