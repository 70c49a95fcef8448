"use strict";
// Post-run review page: session list with filters, maps, series, fatigue, data quality,
// and a small replay of one step's frames. All numbers come from /api/review/*.
(function () {
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (v, nd = 1) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(nd));
  window.plantarReview = {loaded: null, replay: null};

  async function loadList() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("#filters"))) if (v) q.set(k, v);
    const rows = await (await fetch("/api/review/sessions?" + q)).json();
    const ul = $("#sessions");
    ul.innerHTML = "";
    for (const r of rows) {
      const li = document.createElement("li");
      li.dataset.id = r.id;
      li.textContent = `${r.id} · ${r.athlete || "–"} · ${r.shoe || "–"} / ${r.sock || "–"}`;
      li.onclick = () => { for (const x of ul.children) x.classList.remove("sel"); li.classList.add("sel"); show(r.id); };
      ul.appendChild(li);
    }
    if (!rows.length) ul.innerHTML = "<li>no sessions</li>";
  }

  function mapFigure(kind, m) {
    let h = `<figure class="map" data-kind="${esc(kind)}"><img alt="${esc(m.title)}" src="${m.png}"><figcaption>${esc(m.title)}`;
    if (m.unit) h += ` [${esc(m.unit)}]`;
    if (m.proxy || m.label) h += `<br><span class="proxy">${esc(m.label || "proxy")}</span>`;
    if (m.scale) h += `<div class="scale" style="background:${m.gradient}"></div><div class="ends"><span>${fmt(m.scale.min)}</span><span>${fmt(m.scale.max)} ${esc(m.unit)}</span></div>`;
    return h + "</figcaption></figure>";
  }

  async function show(id) {
    const det = $("#detail");
    det.innerHTML = "<p>computing… (cached after the first time)</p>";
    const resp = await fetch(`/api/review/${encodeURIComponent(id)}`);
    if (!resp.ok) { det.innerHTML = `<p class="warn">${esc((await resp.json()).detail)}</p>`; return; }
    const d = await resp.json();
    const s = d.session;
    let h = `<h2>${esc(s.id)}</h2><p>athlete ${esc(s.athlete || "–")} · shoe ${esc(s.shoe || "–")} · sock ${esc(s.sock || "–")} · ${fmt(s.treadmill_speed_kmh)} km/h · ${esc(s.source)}</p>`;
    h += "<ul>" + d.sentences.map((x) => `<li>${x}</li>`).join("") + "</ul>";
    h += `<p><a href="/api/review/${encodeURIComponent(id)}/report.html" download="report-${esc(id)}.html">download report (HTML)</a></p>`;
    for (const [foot, kinds] of Object.entries(d.maps)) {
      h += `<h3>${esc(foot)} foot</h3><div class="maps" id="maps-${esc(foot)}">`;
      for (const [kind, m] of Object.entries(kinds)) h += mapFigure(kind, m);
      h += "</div>";
    }
    h += `<h3>Step replay</h3><label>foot <select id="rp-foot"><option>left</option><option>right</option></select></label>
      <input id="rp-step" type="range" min="0" max="0" value="0" style="width:300px"> <span id="rp-label"></span><br>
      <canvas id="replay" width="160" height="330"></canvas>`;
    h += "<h3>Per-step series</h3><p>Red bands: gaps in the data.</p>";
    for (const k of ["contact_time", "cadence", "pivot", "forefoot_peak", "symmetry"]) h += `<div class="chart" data-chart="${k}">${d.charts[k]}</div>`;
    if (d.pivot.kind === "proxy") h += `<p class="proxy">Pivot: ${esc(d.pivot.label || "proxy")}</p>`;
    h += "<h3>Trends and change points</h3>";
    h += d.fatigue.flags.length ? `<p class="warn">${esc(d.fatigue.flags.join("; "))}</p>` : "<p>No change flagged.</p>";
    h += `<div class="maps">${d.charts.fatigue}</div>`;
    h += `<h3>Blister-risk index <small>(${esc(d.risk_label)})</small></h3><table><tr><th>region</th><th>kind</th><th>per step</th><th>per km</th></tr>`;
    for (const [r, v] of Object.entries(d.summary.risk || {})) h += `<tr><td>${esc(r)}</td><td>${esc(v.kind === "proxy" ? "proxy (not shear)" : v.kind === "shear" ? "shear" : "not measured")}</td><td>${fmt(v.per_step, 3)}</td><td>${fmt(v.per_km, 1)}</td></tr>`;
    h += "</table>";
    const q = d.quality;
    h += `<h3 id="quality">Gaps and data quality</h3><p class="gaps">${q.n_gaps} gaps, ${fmt(q.gap_s_total, 2)} s in total; ${q.steps_with_gaps} steps with a gap inside stance.</p><table><tr><th>foot</th><th>frames</th><th>rate (Hz)</th><th>lost frames</th><th>missing samples</th><th>rejected steps</th></tr>`;
    for (const [f, v] of Object.entries(q.per_foot)) h += `<tr><td>${esc(f)}</td><td>${v.frames}</td><td>${fmt(v.rate_hz)}</td><td>${v.lost_frames} (${fmt(v.lost_pct, 2)} %)</td><td>${v.missing_samples} (${fmt(v.missing_pct, 2)} %)</td><td>${v.rejected_steps}</td></tr>`;
    h += "</table>";
    det.innerHTML = h;
    window.plantarReview.loaded = d;
    setupReplay(id, d);
  }

  function colour(v, max) {
    const t = Math.max(0, Math.min(1, v / max));
    const stops = [[0, 30, 40, 110], [0.25, 33, 120, 170], [0.5, 60, 180, 120], [0.75, 240, 210, 50], [1, 200, 30, 30]];
    for (let i = 1; i < stops.length; i++) {
      if (t <= stops[i][0]) {
        const a = stops[i - 1], b = stops[i], u = (t - a[0]) / (b[0] - a[0]);
        return `rgb(${a[1] + u * (b[1] - a[1])},${a[2] + u * (b[2] - a[2])},${a[3] + u * (b[3] - a[3])})`;
      }
    }
    return "rgb(200,30,30)";
  }

  function setupReplay(id, d) {
    const footSel = $("#rp-foot"), range = $("#rp-step"), label = $("#rp-label"), cv = $("#replay");
    let timer = null;
    const stepsOf = (foot) => d.steps.filter((s) => s.foot === foot);
    function setMax() { range.max = Math.max(stepsOf(footSel.value).length - 1, 0); }
    async function play() {
      const foot = footSel.value, k = Number(range.value);
      const st = stepsOf(foot)[k];
      label.textContent = st ? `step ${k}: ${st.heel_strike_s.toFixed(2)}–${st.toe_off_s.toFixed(2)} s` : "no steps";
      if (!st) return;
      const r = await (await fetch(`/api/review/${encodeURIComponent(id)}/steps/${foot}/${k}`)).json();
      window.plantarReview.replay = {foot, step: k, frames: r.frames.length};
      const ctx = cv.getContext("2d"), ny = r.y_mm.length, nx = r.x_mm.length;
      const cs = Math.min(cv.width / nx, cv.height / ny);
      let i = 0;
      clearInterval(timer);
      timer = setInterval(() => {
        const g = r.frames[i];
        ctx.clearRect(0, 0, cv.width, cv.height);
        for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
          const v = g[y][x];
          if (v === null) continue;
          ctx.fillStyle = colour(v, r.max_kpa);
          ctx.fillRect(x * cs, (ny - 1 - y) * cs, cs + 0.5, cs + 0.5);
        }
        i = (i + 1) % r.frames.length;
      }, 40);
    }
    footSel.onchange = () => { setMax(); range.value = 0; play(); };
    range.oninput = play;
    setMax();
    play();
  }

  $("#filters").onsubmit = (e) => { e.preventDefault(); loadList(); };
  loadList().then(() => {
    const want = new URLSearchParams(location.search).get("session");
    if (want) show(want);
  });
})();
