// Plantar live page. Plain canvas, no build step, no external code.
// Display messages (binary, /ws/live): see live/display_wire.py for the layout.
// Events (JSON, /ws/events): snapshot, step, gauge, metrics, link, recording, alert, pong.
"use strict";

(() => {
  const FEET = ["left", "right"];
  const query = new URLSearchParams(location.search);
  const token = query.get("token");
  const withToken = (path) => (token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path);
  const wsUrl = (path) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${withToken(path)}`;

  // State visible to tests (window.plantar) and to the drawing code.
  const state = {
    geometry: null,
    kpaMax: 400,
    frames: { left: null, right: null }, // newest received
    drawn: { left: null, right: null }, // what the canvases show now
    hotCells: { left: [], right: [] },
    gauges: {},
    alerts: [],
    alertActive: false,
    messages: 0,
    draws: 0,
    clockOffsetMs: 0, // server clock - client clock
    latencies: [],
    latency: null,
    recording: { state: "idle" },
    links: {},
    dirty: false,
  };
  window.plantar = state;

  // ---------------------------------------------------------------- colour scale
  // Fixed LUT over 0..kpaMax: dark blue -> cyan -> green -> yellow -> red -> white.
  const STOPS = [
    [0.0, [20, 24, 60]],
    [0.12, [30, 80, 200]],
    [0.3, [0, 190, 220]],
    [0.48, [60, 210, 90]],
    [0.65, [250, 220, 40]],
    [0.85, [240, 60, 30]],
    [1.0, [255, 235, 235]],
  ];
  function colourAt(f) {
    for (let i = 1; i < STOPS.length; i++) {
      if (f <= STOPS[i][0]) {
        const [f0, c0] = STOPS[i - 1];
        const [f1, c1] = STOPS[i];
        const u = (f - f0) / (f1 - f0);
        return c0.map((v, k) => Math.round(v + u * (c1[k] - v)));
      }
    }
    return STOPS[STOPS.length - 1][1];
  }
  const LUT = new Uint8ClampedArray(256 * 4);
  for (let code = 1; code < 256; code++) {
    const c = colourAt((code - 1) / 254);
    LUT.set([c[0], c[1], c[2], 255], code * 4);
  }
  // code 0: outside the outline -> transparent

  function drawScale() {
    const cv = document.getElementById("scale");
    const ctx = cv.getContext("2d");
    const w = cv.width, h = cv.height;
    ctx.clearRect(0, 0, w, h);
    const x0 = 10, x1 = w - 30, barH = 22;
    for (let x = x0; x <= x1; x++) {
      const c = colourAt((x - x0) / (x1 - x0));
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.fillRect(x, 4, 1, barH);
    }
    ctx.fillStyle = "#f2f4f7";
    ctx.font = "bold 18px system-ui, sans-serif";
    ctx.textAlign = "center";
    const step = state.kpaMax >= 300 ? 100 : 50;
    for (let v = 0; v <= state.kpaMax; v += step) {
      const x = x0 + (v / state.kpaMax) * (x1 - x0);
      ctx.fillRect(x, 4 + barH, 1, 5);
      ctx.fillText(v === state.kpaMax ? `${v} kPa` : `${v}`, Math.min(x, w - 40), h - 4);
    }
  }

  // ---------------------------------------------------------------- binary decode
  function decodeDisplay(buf) {
    const dv = new DataView(buf);
    const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
    if (magic !== "PLD1") return null;
    const msg = { seq: dv.getUint32(4, true), tSendMs: dv.getFloat64(8, true), feet: [] };
    const nFeet = dv.getUint8(16);
    msg.kpaMax = dv.getFloat32(20, true);
    let off = 24;
    for (let i = 0; i < nFeet; i++) {
      const foot = FEET[dv.getUint8(off)];
      const flags = dv.getUint8(off + 1);
      const ny = dv.getUint16(off + 2, true), nx = dv.getUint16(off + 4, true);
      const nShear = dv.getUint16(off + 6, true), nCop = dv.getUint16(off + 8, true);
      const f = {
        foot, ny, nx,
        hasData: (flags & 1) !== 0,
        stance: (flags & 2) !== 0,
        tS: dv.getFloat64(off + 12, true),
        tSampleMs: dv.getFloat64(off + 20, true),
        tRecvMs: dv.getFloat64(off + 28, true),
        forceN: dv.getFloat32(off + 36, true),
        peakKpa: dv.getFloat32(off + 40, true),
      };
      off += 44;
      f.grid = new Uint8Array(buf, off, ny * nx);
      off += ny * nx + ((4 - ((ny * nx) % 4)) % 4);
      f.shear = new Float32Array(buf, off, nShear * 3);
      off += nShear * 12;
      f.cop = new Float32Array(buf, off, nCop * 2);
      off += nCop * 8;
      msg.feet.push(f);
    }
    return msg;
  }

  // ---------------------------------------------------------------- foot drawing
  const offscreen = {};
  function footTransform(cv, geo) {
    const xs = geo.outline_mm.map((p) => p[0]), ys = geo.outline_mm.map((p) => p[1]);
    const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
    const pad = 12;
    const s = Math.min((cv.width - 2 * pad) / (maxX - minX), (cv.height - 2 * pad) / (maxY - minY));
    const ox = cv.width / 2 - s * (minX + maxX) / 2;
    const oy = cv.height / 2 + s * (minY + maxY) / 2;
    return { s, ox, oy };
  }

  function fitCanvas(cv) {
    const r = cv.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(100, Math.round(r.width * dpr)), h = Math.max(100, Math.round(r.height * dpr));
    if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; }
  }

  function drawFoot(foot) {
    const geo = state.geometry && state.geometry.feet[foot];
    const cv = document.getElementById(`foot-${foot}`);
    if (!geo || !cv) return;
    fitCanvas(cv);
    const ctx = cv.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, cv.width, cv.height);
    const { s, ox, oy } = footTransform(cv, geo);
    // mm -> px: x right, y (anterior) up; seen from above, toes up.
    ctx.setTransform(s, 0, 0, -s, ox, oy);
    const outline = new Path2D();
    geo.outline_mm.forEach((p, i) => (i ? outline.lineTo(p[0], p[1]) : outline.moveTo(p[0], p[1])));
    outline.closePath();
    ctx.fillStyle = "#1f2530";
    ctx.fill(outline);

    const f = state.frames[foot];
    const g = geo.grid;
    if (f && f.hasData) {
      let off = offscreen[foot];
      if (!off || off.width !== f.nx || off.height !== f.ny) {
        off = document.createElement("canvas");
        off.width = f.nx; off.height = f.ny;
        offscreen[foot] = off;
      }
      const octx = off.getContext("2d");
      const img = octx.createImageData(f.nx, f.ny);
      for (let i = 0; i < f.grid.length; i++) img.data.set(LUT.subarray(f.grid[i] * 4, f.grid[i] * 4 + 4), i * 4);
      octx.putImageData(img, 0, 0);
      ctx.save();
      ctx.clip(outline);
      ctx.imageSmoothingEnabled = true;
      // Row 0 of the grid is the most posterior row; the flipped transform puts it at the bottom.
      ctx.drawImage(off, g.x0_mm - g.cell_mm / 2, g.y0_mm - g.cell_mm / 2, f.nx * g.cell_mm, f.ny * g.cell_mm);
      ctx.restore();
    }
    ctx.lineWidth = 2 / s;
    ctx.strokeStyle = "#c8d0dc";
    ctx.stroke(outline);

    drawHotCells(ctx, foot, g, s);
    if (f && f.hasData) {
      drawCop(ctx, f, s);
      drawShear(ctx, f, geo, s);
    }
  }

  function drawHotCells(ctx, foot, g, s) {
    const cells = state.hotCells[foot];
    if (!cells || !cells.length) return;
    ctx.strokeStyle = "#ff3df2";
    const hot = new Set(cells);
    const c = g.cell_mm;
    ctx.beginPath();
    for (const idx of cells) {
      const iy = Math.floor(idx / g.nx), ix = idx % g.nx;
      const x0 = g.x0_mm + (ix - 0.5) * c, y0 = g.y0_mm + (iy - 0.5) * c;
      if (ix === 0 || !hot.has(idx - 1)) { ctx.moveTo(x0, y0); ctx.lineTo(x0, y0 + c); }
      if (ix === g.nx - 1 || !hot.has(idx + 1)) { ctx.moveTo(x0 + c, y0); ctx.lineTo(x0 + c, y0 + c); }
      if (iy === 0 || !hot.has(idx - g.nx)) { ctx.moveTo(x0, y0); ctx.lineTo(x0 + c, y0); }
      if (iy === g.ny - 1 || !hot.has(idx + g.nx)) { ctx.moveTo(x0, y0 + c); ctx.lineTo(x0 + c, y0 + c); }
    }
    ctx.strokeStyle = "#ff3df2";
    ctx.lineWidth = 3 / s;
    ctx.stroke();
  }

  function drawCop(ctx, f, s) {
    if (f.cop.length < 4) return;
    ctx.beginPath();
    ctx.moveTo(f.cop[0], f.cop[1]);
    for (let i = 2; i < f.cop.length; i += 2) ctx.lineTo(f.cop[i], f.cop[i + 1]);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 3 / s;
    ctx.stroke();
    const n = f.cop.length;
    ctx.beginPath();
    ctx.arc(f.cop[n - 2], f.cop[n - 1], 4, 0, 2 * Math.PI);
    ctx.fillStyle = "#ffffff";
    ctx.fill();
  }

  const SHEAR_MM_PER_KPA = 1.5;
  function drawShear(ctx, f, geo, s) {
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "#ffffff";
    geo.shear_sites.forEach((site, k) => {
      const tx = f.shear[3 * k], ty = f.shear[3 * k + 1];
      const x0 = site.x_mm, y0 = site.y_mm;
      ctx.beginPath();
      ctx.arc(x0, y0, 2.5, 0, 2 * Math.PI);
      ctx.fill();
      const len = Math.hypot(tx, ty);
      if (len < 0.5) return;
      const x1 = x0 + tx * SHEAR_MM_PER_KPA, y1 = y0 + ty * SHEAR_MM_PER_KPA;
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1);
      ctx.lineWidth = 6 / s; ctx.strokeStyle = "#000000"; ctx.stroke();
      ctx.lineWidth = 3 / s; ctx.strokeStyle = "#ffffff"; ctx.stroke();
      const ux = tx / len, uy = ty / len, hd = 5;
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - hd * ux + hd * 0.5 * uy, y1 - hd * uy - hd * 0.5 * ux);
      ctx.lineTo(x1 - hd * ux - hd * 0.5 * uy, y1 - hd * uy + hd * 0.5 * ux);
      ctx.closePath(); ctx.fill();
    });
  }

  // ---------------------------------------------------------------- gauges, metrics, links
  function fmt(v, nd = 0) { return v === null || v === undefined || !isFinite(v) ? "–" : Number(v).toFixed(nd); }

  function drawGauge(foot) {
    const g = state.gauges[foot];
    const cv = document.getElementById(`gauge-${foot}-canvas`);
    const ctx = cv.getContext("2d");
    fitCanvas(cv);
    const w = cv.width, h = cv.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const maxR = 2.5;
    const xOf = (r) => (Math.min(Math.max(r, 0), maxR) / maxR) * w;
    ctx.fillStyle = "#262c36";
    ctx.fillRect(0, 0, w, h);
    if (!g) return;
    const thr = g.threshold || 1.3;
    // bar of the latest step
    if (g.ratio !== null && g.ratio !== undefined) {
      ctx.fillStyle = g.alert ? "#ff4d4f" : g.ratio > thr ? "#ffb020" : "#3ddc84";
      ctx.fillRect(0, h * 0.55, xOf(g.ratio), h * 0.45);
    }
    // sparkline of the last steps
    const hist = g.history_ratio || [];
    if (hist.length > 1) {
      ctx.beginPath();
      hist.forEach((r, i) => {
        const x = (i / (hist.length - 1)) * w, y = h * 0.5 - (Math.min(r || 0, maxR) / maxR) * h * 0.48;
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.strokeStyle = "#c8d0dc"; ctx.lineWidth = 2; ctx.stroke();
      const yThr = h * 0.5 - (thr / maxR) * h * 0.48;
      ctx.strokeStyle = "#ff4d4f"; ctx.setLineDash([6, 4]);
      ctx.beginPath(); ctx.moveTo(0, yThr); ctx.lineTo(w, yThr); ctx.stroke(); ctx.setLineDash([]);
    }
    // baseline (1.0x) and threshold marks on the bar
    ctx.fillStyle = "#ffffff"; ctx.fillRect(xOf(1) - 1, h * 0.5, 3, h * 0.5);
    ctx.fillStyle = "#ff4d4f"; ctx.fillRect(xOf(thr) - 1, h * 0.5, 3, h * 0.5);
  }

  function updateGaugeText(foot) {
    const g = state.gauges[foot];
    if (!g) return;
    document.getElementById(`gauge-${foot}-value`).textContent = g.ratio !== null && g.ratio !== undefined ? `${fmt(g.ratio, 2)}×` : "–";
    const note = document.getElementById(`gauge-${foot}-note`);
    if (!g.baseline_ready) {
      note.textContent = `baseline: collecting (${g.baseline_steps}/${g.baseline_steps_needed} steps after ${g.acclimatisation_steps})`;
    } else {
      note.textContent = `× own baseline ${fmt(g.baseline, 0)} ${g.unit} · last ${g.recent_steps} steps ${fmt(g.recent_ratio, 2)}× (alert above ${fmt(g.threshold, 2)}×)`;
    }
    drawGauge(foot);
    refreshAlert();
  }

  function refreshAlert() {
    const active = FEET.filter((f) => state.gauges[f] && state.gauges[f].alert);
    state.alertActive = active.length > 0;
    const banner = document.getElementById("alert");
    banner.hidden = !state.alertActive;
    if (state.alertActive) {
      const g = state.gauges[active[0]];
      document.getElementById("alert-text").textContent =
        `PIVOT RISING · ${fmt(g.recent_ratio, 2)}× early-run level`;
    }
    FEET.forEach((f) => document.getElementById(`panel-${f}`).classList.toggle("alerting", active.includes(f)));
  }

  function updateMetrics(m) {
    document.getElementById("m-cadence").textContent = fmt(m.cadence_spm, 0);
    const c = m.contact_time_ms || {};
    document.getElementById("m-contact").textContent = `${fmt(c.left, 0)} / ${fmt(c.right, 0)}`;
    document.getElementById("m-symmetry").textContent = m.symmetry_contact_pct === null || m.symmetry_contact_pct === undefined ? "–" : `${fmt(m.symmetry_contact_pct, 1)}`;
  }

  // "waiting": plantar run is looking for this insole (off, flat, out of range, unplugged);
  // "ready": it answered, the other one has not yet; "connecting": the first attempt is
  // under way. Shown over the foot in plain words until the insoles stream.
  function updateWaiting(l) {
    const box = document.getElementById(`waiting-${l.foot}`);
    const shown = l.state === "waiting" || l.state === "ready" || l.state === "connecting";
    box.hidden = !shown;
    if (!shown) return;
    const ready = l.state === "ready";
    const other = l.foot === "left" ? "right" : "left";
    box.classList.toggle("ready", ready);
    box.querySelector(".waiting-title").textContent = ready
      ? `${l.foot.toUpperCase()} insole found`
      : l.state === "connecting"
        ? `Connecting to the ${l.foot} insole…`
        : `Waiting for the ${l.foot} insole`;
    box.querySelector(".waiting-hint").textContent = ready
      ? `Waiting for the ${other} insole.`
      : "Switch it on and check it is charged.";
    box.querySelector(".waiting-url").textContent = l.url ? `looking for ${l.url}` : "";
    box.querySelector(".waiting-detail").textContent = ready ? "" : l.detail || "";
  }

  function updateLink(l) {
    state.links[l.foot] = l;
    const el = document.getElementById(`link-${l.foot}`);
    const rssi = l.rssi_dbm === null || l.rssi_dbm === undefined ? "RSSI n/a" : `RSSI ${fmt(l.rssi_dbm, 0)} dBm`;
    let text = `${l.state} · ${fmt(l.rate_hz, 0)} Hz · loss ${fmt(l.loss_pct, 1)} % · ${rssi}`;
    if (l.state === "waiting") text = `waiting for insole · ${l.url || ""}`;
    else if (l.state === "ready") text = "found · waiting for the other insole";
    el.querySelector(".link-text").textContent = text;
    const bad = l.state !== "streaming" || l.rate_hz === null;
    const warn = !bad && l.loss_pct !== null && l.loss_pct > 1;
    el.classList.toggle("ok", !bad && !warn);
    el.classList.toggle("warn", warn);
    el.classList.toggle("bad", bad);
    updateWaiting(l);
  }

  function updateRecording(r) {
    state.recording = r;
    const on = r.state === "recording";
    const el = document.getElementById("rec-status");
    el.classList.toggle("on", on);
    const written = r.frames_written ? Object.values(r.frames_written).reduce((a, b) => a + b, 0) : 0;
    el.textContent = on ? `● REC ${r.session_id || ""} · ${written} frames` : r.session_id ? `stopped · ${r.session_id}` : "not recording";
    if (!on && r.waiting) el.textContent = r.autostart ? "waiting for the insoles · recording starts when both stream" : "waiting for the insoles";
    document.getElementById("btn-start").disabled = on || r.live === false || !!r.waiting;
    document.getElementById("btn-stop").disabled = !on;
  }

  // CPU share of the live process (live/cpu_budget.py): a warning near its one-core limit
  function updateCpu(c) {
    const el = document.getElementById("cpu");
    if (!el || c.cores === null || c.cores === undefined) return;
    el.textContent = `CPU ${c.cores.toFixed(2)} core${c.warning ? " \u26a0" : ""}`;
    el.classList.toggle("warn", !!c.warning);
    el.title = c.warning || `CPU share of the live process: ${c.cores.toFixed(2)} of ${c.limit_cores} core`;
  }

  // ---------------------------------------------------------------- latency
  function noteLatency(f) {
    if (!f.hasData || !isFinite(f.tSampleMs)) return;
    const lat = Date.now() + state.clockOffsetMs - f.tSampleMs;
    state.latencies.push(lat);
    if (state.latencies.length > 300) state.latencies.shift();
  }
  function percentile(arr, p) {
    const s = [...arr].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  }
  let fpsCount = 0, fpsT0 = performance.now();
  function reportLatency() {
    const now = performance.now();
    const fps = (fpsCount * 1000) / (now - fpsT0);
    fpsCount = 0; fpsT0 = now;
    if (!state.latencies.length) return;
    const p50 = percentile(state.latencies, 0.5), p95 = percentile(state.latencies, 0.95);
    state.latency = { p50_ms: p50, p95_ms: p95, max_ms: Math.max(...state.latencies), n: state.latencies.length, fps };
    document.getElementById("latency").textContent = `latency ${fmt(p50, 0)} ms (p95 ${fmt(p95, 0)}) · ${fmt(fps, 0)} fps`;
    if (eventsWs && eventsWs.readyState === 1) eventsWs.send(JSON.stringify({ type: "latency", ...state.latency }));
  }

  // ---------------------------------------------------------------- render loop
  function frame() {
    if (state.dirty && state.geometry) {
      state.dirty = false;
      FEET.forEach(drawFoot);
      FEET.forEach((f) => {
        const fr = state.frames[f];
        if (!fr) return;
        noteLatency(fr);
        state.drawn[f] = { forceN: fr.forceN, stance: fr.stance, tS: fr.tS };
      });
      state.draws++;
      fpsCount++;
    }
    requestAnimationFrame(frame);
  }

  // ---------------------------------------------------------------- sockets
  let liveWs = null, eventsWs = null;
  function connectLive() {
    liveWs = new WebSocket(wsUrl("/ws/live"));
    liveWs.binaryType = "arraybuffer";
    liveWs.onmessage = (ev) => {
      const msg = decodeDisplay(ev.data);
      if (!msg) return;
      state.messages++;
      msg.feet.forEach((f) => (state.frames[f.foot] = f));
      state.dirty = true;
    };
    liveWs.onclose = () => setTimeout(connectLive, 1000);
  }

  function onEvent(e) {
    switch (e.type) {
      case "snapshot":
        Object.values(e.gauges || {}).forEach((g) => { state.gauges[g.foot] = g; updateGaugeText(g.foot); });
        if (e.metrics) updateMetrics(e.metrics);
        Object.values(e.links || {}).forEach(updateLink);
        if (e.recording) updateRecording(e.recording);
        if (e.cpu) updateCpu(e.cpu);
        (e.steps || []).forEach((s) => (state.hotCells[s.foot] = s.hot_cells || []));
        state.alerts = e.alerts || [];
        break;
      case "step":
        state.hotCells[e.foot] = e.hot_cells || [];
        state.dirty = true;
        break;
      case "gauge":
        state.gauges[e.foot] = e;
        updateGaugeText(e.foot);
        break;
      case "metrics": updateMetrics(e); break;
      case "link": updateLink(e); break;
      case "recording": updateRecording(e); break;
      case "cpu": updateCpu(e); break;
      case "alert": state.alerts.push(e); break;
      case "pong": {
        const now = Date.now();
        const rtt = now - e.t_client_ms;
        const offset = e.t_server_ms - (e.t_client_ms + now) / 2;
        if (!state.bestRtt || rtt <= state.bestRtt * 1.5) {
          state.bestRtt = Math.min(state.bestRtt || rtt, rtt);
          state.clockOffsetMs = offset;
        }
        break;
      }
      default: break;
    }
  }

  function connectEvents() {
    eventsWs = new WebSocket(wsUrl("/ws/events"));
    eventsWs.onopen = () => ping();
    eventsWs.onmessage = (ev) => onEvent(JSON.parse(ev.data));
    eventsWs.onclose = () => setTimeout(connectEvents, 1000);
  }
  function ping() {
    if (eventsWs && eventsWs.readyState === 1) eventsWs.send(JSON.stringify({ type: "ping", t_client_ms: Date.now() }));
  }

  // ---------------------------------------------------------------- controls
  async function api(method, path, body) {
    const write = method !== "GET";
    const res = await fetch(withToken(path), {
      method,
      // write routes take JSON only (the server refuses anything an HTML form could send)
      headers: write ? { "content-type": "application/json" } : {},
      body: write ? JSON.stringify(body || {}) : undefined,
      credentials: "same-origin",
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.detail || res.statusText);
    return data;
  }
  function formMeta() {
    const meta = {};
    const shoe = document.getElementById("in-shoe").value.trim();
    const sock = document.getElementById("in-sock").value.trim();
    const speed = document.getElementById("in-speed").value;
    if (shoe) meta.shoe = shoe;
    if (sock) meta.sock = sock;
    if (speed !== "") meta.treadmill_speed_kmh = Number(speed);
    return meta;
  }
  function showError(err) { document.getElementById("rec-status").textContent = `error: ${err.message}`; }
  function wireControls() {
    document.getElementById("btn-start").onclick = () => api("POST", "/api/recording/start", formMeta()).then(updateRecording).catch(showError);
    document.getElementById("btn-stop").onclick = () => api("POST", "/api/recording/stop").then(updateRecording).catch(showError);
    ["in-shoe", "in-sock", "in-speed"].forEach((id) => {
      document.getElementById(id).onchange = () => api("PUT", "/api/session", formMeta()).catch(showError);
    });
    api("GET", "/api/session").then((s) => {
      const m = s.meta || {};
      if (m.shoe) document.getElementById("in-shoe").value = m.shoe;
      if (m.sock) document.getElementById("in-sock").value = m.sock;
      if (m.treadmill_speed_kmh !== null && m.treadmill_speed_kmh !== undefined) document.getElementById("in-speed").value = m.treadmill_speed_kmh;
      if (s.recording) updateRecording(s.recording);
    }).catch(() => updateRecording({ state: "idle", live: false }));
  }

  async function start() {
    state.geometry = await api("GET", "/api/layout");
    state.kpaMax = state.geometry.kpa_max;
    drawScale();
    wireControls();
    connectLive();
    connectEvents();
    setInterval(ping, 5000);
    setInterval(reportLatency, 1000);
    window.addEventListener("resize", () => { state.dirty = true; FEET.forEach(drawGauge); });
    requestAnimationFrame(frame);
  }
  start().catch((err) => { document.getElementById("latency").textContent = `error: ${err.message}`; });
})();
