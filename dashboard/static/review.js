"use strict";
// Post-run review page: session list (date, duration, source) with filters, tags that can
// be fixed, maps on fixed colour scales (or auto), charts on the session clock, data
// quality as merged gap spans, and an animated replay of one step's frames.
// Every time shown is session time: 0 = session start (m:ss from one minute on).
(function () {
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (v, nd = 1) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toLocaleString("en", {maximumFractionDigits: nd, minimumFractionDigits: nd}));
  // Session clock, as review/timebase.py clock_text: "42.0 s" under a minute, else "m:ss.s".
  const clock = (t, nd = 1) => {
    if (t === null || t === undefined) return "–";
    if (t < 60) return `${t.toFixed(nd)} s`;
    const m = Math.floor(t / 60), s = t - 60 * m;
    return `${m}:${s.toFixed(nd).padStart(nd ? 3 + nd : 2, "0")}`;
  };
  const duration = (d) => (d === null || d === undefined ? "–" : d < 60 ? `${Math.round(d)} s` : `${Math.floor(d / 60)} min ${Math.round(d % 60)} s`);
  const day = (iso) => { const t = new Date(iso); return Number.isNaN(t.getTime()) ? (iso || "–") : t.toLocaleString("en-GB", {day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit"}); };
  // The live page's colour scale (live.js STOPS), 0..400 kPa unless "auto".
  const STOPS = [[0.0, [20, 24, 60]], [0.12, [30, 80, 200]], [0.3, [0, 190, 220]], [0.48, [60, 210, 90]], [0.65, [250, 220, 40]], [0.85, [240, 60, 30]], [1.0, [255, 235, 235]]];
  function colour(f) {
    f = Math.max(0, Math.min(1, f));
    for (let i = 1; i < STOPS.length; i++) {
      if (f <= STOPS[i][0]) {
        const [f0, c0] = STOPS[i - 1], [f1, c1] = STOPS[i], u = (f - f0) / (f1 - f0);
        return `rgb(${c0.map((v, k) => Math.round(v + u * (c1[k] - v))).join(",")})`;
      }
    }
    return "rgb(255,235,235)";
  }
  // "75", "75.5" or "1:15" → seconds (null when empty).
  const seconds = (text) => {
    const t = String(text || "").trim();
    if (!t) return null;
    const parts = t.split(":").map(Number);
    return parts.length === 2 ? 60 * parts[0] + parts[1] : parts[0];
  };
  window.plantarReview = {loaded: null, replay: null, current: null};

  async function loadList() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("#filters"))) if (v) q.set(k, v);
    const rows = await (await fetch("/api/review/sessions?" + q)).json();
    const ul = $("#sessions");
    ul.innerHTML = "";
    for (const r of rows) {
      const li = document.createElement("li");
      li.dataset.id = r.id;
      li.innerHTML = `<b>${esc(day(r.started_at))}</b> · ${esc(duration(r.duration_s))} · ${esc(r.source || "–")}<br>${esc(r.athlete || "–")} · ${esc(r.shoe || "–")} / ${esc(r.sock || "–")}<br><small>${esc(r.id)}</small>`;
      li.onclick = () => { for (const x of ul.children) x.classList.remove("sel"); li.classList.add("sel"); show(r.id); };
      ul.appendChild(li);
    }
    if (!rows.length) ul.innerHTML = "<li>no sessions</li>";
  }

  function mapFigure(kind, m) {
    let h = `<figure class="map" data-kind="${esc(kind)}"${m.scale ? ` data-scale-max="${m.scale.max}"` : ""}><img alt="${esc(m.title)}" src="${m.png}"><figcaption>${esc(m.title)}`;
    if (m.unit) h += ` [${esc(m.unit)}]`;
    if (m.label) h += `<br><span class="proxy">${esc(m.label)}</span>`;
    if (m.scale) h += `<br><span class="ends">scale 0 – ${fmt(m.scale.max, m.scale.max >= 100 ? 0 : 1)} ${esc(m.unit)}</span>`;
    return h + "</figcaption></figure>";
  }

  function tagForm(s) {
    return `<form id="tags" class="tags">` +
      ["athlete", "shoe", "sock"].map((k) => `<label>${k} <input name="${k}" value="${esc(s[k])}"></label>`).join("") +
      `<label>note <input name="note" value="${esc(s.notes)}" size="30"></label><button type="submit">save tags</button> <span id="tag-status"></span></form>`;
  }

  async function show(id) {
    const det = $("#detail");
    window.plantarReview.current = id;
    det.innerHTML = "<p>computing… (cached after the first time)</p>";
    const params = new URLSearchParams({scale: $("#scale").value});
    const rf = seconds($("#range").elements.from.value), rt = seconds($("#range").elements.to.value);
    if (rf !== null) params.set("t0", rf);
    if (rt !== null) params.set("t1", rt);
    const resp = await fetch(`/api/review/${encodeURIComponent(id)}?${params}`);
    if (window.plantarReview.current !== id) return;
    if (!resp.ok) { det.innerHTML = `<p class="warn">${esc((await resp.json()).detail)}</p>`; return; }
    const d = await resp.json();
    const s = d.session;
    let h = `<h2>${esc(d.title)}</h2><p>${esc(d.when)} · ${esc(duration(d.duration_s))} · source ${esc(s.source || "–")} · ${s.treadmill_speed_kmh ? fmt(s.treadmill_speed_kmh) + " km/h" : "speed not recorded"}</p>`;
    h += tagForm(s);
    if (d.range) h += `<p class="range-note" id="range-note">Every number, map and curve below covers ${clock(d.range.t0_s, 0)} – ${clock(d.range.t1_s, 0)} only (${d.range.steps} steps); change points: whole session.</p>`;
    h += "<ul>" + d.sentences.map((x) => `<li>${esc(x)}</li>`).join("") + "</ul>";
    h += `<p><a href="/api/review/${encodeURIComponent(id)}/report.html" download="report-${esc(id)}.html">download the runner's report (HTML)</a> · <a href="/api/review/${encodeURIComponent(id)}/report.pdf" download="report-${esc(id)}.pdf">PDF</a></p>`;
    // a force plate has no pressure map: no maps and no step replay, the rest is the plate's
    const noMap = Object.values(d.feet).map((f) => f.no_map).find((x) => x);
    if (noMap) {
      h += `<p class="note" id="no-map">${esc(noMap)}: no maps and no step replay. The steps, the twist at push-off (the plate's free moment) and the trends below are the plate's.</p>`;
    } else {
      for (const [foot, kinds] of Object.entries(d.maps)) {
        h += `<h3>${esc(foot)} foot</h3><div class="maps" id="maps-${esc(foot)}">`;
        for (const [kind, m] of Object.entries(kinds)) h += mapFigure(kind, m);
        h += "</div>";
      }
      h += `<h3>Step replay</h3><div class="replay-controls"><label>foot <select id="rp-foot"><option>left</option><option>right</option></select></label>
        <button id="rp-play" type="button">▶ play</button>
        <input id="rp-step" type="range" min="0" max="0" value="0" style="width:300px"> <span id="rp-label"></span></div>
        <canvas id="replay" width="160" height="330"></canvas><div id="rp-scale" class="ends"></div>`;
    }
    h += `<h3>Per-step series</h3><p>Time since the start of the session. Red bands: gaps in the data (${esc(d.gap_summary)}).</p>`;
    for (const k of ["contact_time", "cadence", "pivot", "forefoot_peak", "symmetry"]) if (!(noMap && k === "forefoot_peak")) h += d.charts[k];
    h += `<h3>Average step</h3>${d.curves}`;
    if (d.pivot.kind === "proxy") h += `<p class="proxy">Twist at push-off: ${esc(d.pivot.quantity)} (${esc(d.pivot.unit)}), ${esc(d.pivot.label || "proxy")}</p>`;
    h += "<h3>Trends and change points</h3>";
    h += `<div class="maps">${Object.entries(d.charts).filter(([k]) => k.startsWith("trend:")).map(([, v]) => v).join("")}</div>`;
    h += `<h3>Blister-risk index <small>(${esc(d.risk_label)})</small></h3><table><tr><th>region</th><th>kind</th><th>per step</th><th>per km</th></tr>`;
    for (const [r, v] of Object.entries(d.summary.risk || {})) h += `<tr><td>${esc(r)}</td><td>${esc(v.kind === "proxy" ? "proxy (not shear)" : v.kind === "shear" ? "shear" : "not measured")}</td><td>${fmt(v.per_step, 3)}</td><td>${fmt(v.per_km, 0)}</td></tr>`;
    h += "</table>";
    const q = d.quality;
    h += `<h3 id="quality">Gaps and data quality</h3><p class="gaps">${esc(d.gap_summary)}; ${q.steps_with_gaps} steps with a gap inside stance.</p><table><tr><th>foot</th><th>frames</th><th>sampling rate</th><th>lost frames</th><th>missing samples</th><th>rejected steps</th></tr>`;
    for (const [f, v] of Object.entries(q.per_foot)) h += `<tr><td>${esc(f)}</td><td>${fmt(v.frames, 0)}</td><td>${fmt(v.rate_hz)} Hz</td><td>${v.lost_frames} (${fmt(v.lost_pct, 2)} %)</td><td>${v.missing_samples} (${fmt(v.missing_pct, 2)} %)</td><td>${v.rejected_steps}</td></tr>`;
    h += "</table>";
    if (d.gap_spans.length) {
      h += `<table class="spans"><tr><th>from (session time)</th><th>to</th><th>feet</th><th>kind</th><th>frames</th></tr>`;
      for (const g of d.gap_spans.slice(0, 40)) h += `<tr data-t0="${g.t0_s}" data-t1="${g.t1_s}"><td>${esc(g.from)}</td><td>${esc(g.to)}</td><td>${esc(g.feet.join(", "))}</td><td>${esc(g.kinds.join(", "))}</td><td>${g.frames}</td></tr>`;
      h += "</table>";
      if (d.gap_spans.length > 40) h += `<p>… and ${d.gap_spans.length - 40} more spans.</p>`;
    }
    det.innerHTML = h;
    window.plantarReview.loaded = d;
    $("#tags").onsubmit = (e) => { e.preventDefault(); saveTags(id); };
    if (!noMap) setupReplay(id, d);
  }

  async function saveTags(id) {
    const body = Object.fromEntries(new FormData($("#tags")));
    const resp = await fetch(`/api/review/${encodeURIComponent(id)}/tags`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const r = await resp.json();
    $("#tag-status").textContent = resp.ok ? "saved" : r.detail;
    if (resp.ok) loadList();
  }

  function setupReplay(id, d) {
    const footSel = $("#rp-foot"), range = $("#rp-step"), label = $("#rp-label"), cv = $("#replay"), btn = $("#rp-play");
    let timer = null, playing = false, token = 0;
    const stepsOf = (foot) => d.steps.filter((s) => s.foot === foot);
    function setMax() { range.max = Math.max(stepsOf(footSel.value).length - 1, 0); }
    async function load() {
      const foot = footSel.value, k = Number(range.value), mine = ++token;
      const st = stepsOf(foot)[k];
      label.textContent = st ? `step ${k + 1}: ${clock(st.heel_strike_s, 2)} – ${clock(st.toe_off_s, 2)}` : "no steps";
      if (!st) return null;
      const r = await (await fetch(`/api/review/${encodeURIComponent(id)}/steps/${foot}/${k}`)).json();
      if (mine !== token || !cv.isConnected) return null;  // replaced by a newer step or page
      const top = $("#scale").value === "auto" ? r.max_kpa : r.scale_kpa;
      $("#rp-scale").innerHTML = `<span style="background:linear-gradient(to right,${STOPS.map(([f]) => colour(f)).join(",")});display:inline-block;width:160px;height:10px"></span> 0 – ${fmt(top, 0)} kPa`;
      window.plantarReview.replay = {foot, step: k, frames: r.frames.length, t0_s: r.t_s[0], t1_s: r.t_s[r.t_s.length - 1], scale_kpa: top};
      return {r, top};
    }
    function draw(r, top, i) {
      const ctx = cv.getContext("2d"), ny = r.y_mm.length, nx = r.x_mm.length;
      const cs = Math.min(cv.width / nx, cv.height / ny), g = r.frames[i];
      ctx.clearRect(0, 0, cv.width, cv.height);
      for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
        const v = g[y][x];
        if (v === null) continue;
        ctx.fillStyle = colour(v / top);
        ctx.fillRect(x * cs, (ny - 1 - y) * cs, cs + 0.5, cs + 0.5);
      }
    }
    async function show() {
      clearInterval(timer);
      const got = await load();
      if (!got) return;
      let i = 0;
      draw(got.r, got.top, 0);
      timer = setInterval(() => {
        if (!cv.isConnected) { clearInterval(timer); return; }
        i += 1;
        if (i >= got.r.frames.length) {
          i = 0;
          if (playing && Number(range.value) < Number(range.max)) { range.value = Number(range.value) + 1; show(); return; }
        }
        draw(got.r, got.top, i);
      }, 40);
    }
    btn.onclick = () => { playing = !playing; btn.textContent = playing ? "❚❚ pause" : "▶ play"; };
    footSel.onchange = () => { setMax(); range.value = 0; show(); };
    range.oninput = show;
    setMax();
    show();
  }

  $("#filters").onsubmit = (e) => { e.preventDefault(); loadList(); };
  const again = () => { if (window.plantarReview.current) show(window.plantarReview.current); };
  $("#scale").onchange = again;
  $("#range").onsubmit = (e) => { e.preventDefault(); again(); };
  $("#range-clear").onclick = () => { $("#range").reset(); again(); };
  loadList().then(() => {
    const want = new URLSearchParams(location.search).get("session");
    if (want) show(want);
  });
})();
