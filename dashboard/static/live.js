// Plantar live page. Plain canvas, no build step, no external code.
// Display messages (binary, /ws/live): see live/display_wire.py for the layout.
// Events (JSON, /ws/events): snapshot, step, gauge, metrics, link, recording, session,
// clock, marker, alert, pong. The session state (athlete, shoe, ...) lives on the server:
// this page shows it and sends changes; Record/Stop act on it.
// Sound (opt-in): live-audio.js, as window.plantar.audio.
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
    lost: { left: false, right: false },
    metrics: {},
    session: {},
    clock: {},
    markers: [],
    gaps: 0,
    online: null, // the events socket: null before the first try
    lastEventMs: 0,
    audio: window.PlantarAudio,
    dirty: false,
  };
  window.plantar = state;

  // One panel per foot from the page's template: "{foot}" in its data-id attributes
  // becomes the foot (ids foot-left, gauge-right-note ...); inserted before the side panel.
  function buildFootPanels() {
    const tpl = document.getElementById("foot-panel");
    const side = document.querySelector(".live .side");
    FEET.forEach((foot) => {
      const panel = tpl.content.firstElementChild.cloneNode(true);
      panel.querySelectorAll("[data-id]").forEach((el) => { el.id = el.dataset.id.replace("{foot}", foot); });
      panel.id = `panel-${foot}`;
      panel.querySelector("[data-text=title]").textContent = foot.toUpperCase();
      panel.querySelector(".foot-canvas").setAttribute("aria-label", `${foot} foot pressure`);
      side.before(panel);
    });
  }
  buildFootPanels();

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
        held: (flags & 4) !== 0, // the grid is the last stance's peak map (in swing)
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
    if (f && f.hasData && !f.held) {
      drawCop(ctx, f, s);
      drawShear(ctx, f, geo, s);
    }
    document.getElementById(`held-${foot}`).hidden = !(f && f.held) || state.lost[foot];
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

  // Shear glyphs sized to be read from the treadmill: 3 mm of arrow per kPa.
  const SHEAR_MM_PER_KPA = 3;
  function drawShear(ctx, f, geo, s) {
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "#ffffff";
    geo.shear_sites.forEach((site, k) => {
      const tx = f.shear[3 * k], ty = f.shear[3 * k + 1];
      const x0 = site.x_mm, y0 = site.y_mm;
      ctx.beginPath();
      ctx.arc(x0, y0, 4, 0, 2 * Math.PI);
      ctx.fill();
      const len = Math.hypot(tx, ty);
      if (len < 0.5) return;
      const x1 = x0 + tx * SHEAR_MM_PER_KPA, y1 = y0 + ty * SHEAR_MM_PER_KPA;
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1);
      ctx.lineWidth = 10 / s; ctx.strokeStyle = "#000000"; ctx.stroke();
      ctx.lineWidth = 5 / s; ctx.strokeStyle = "#ffffff"; ctx.stroke();
      const ux = tx / len, uy = ty / len, hd = 11;
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
    // bar of the latest step (no multiple until the runner's own baseline exists)
    if (g.baseline_ready && g.ratio !== null && g.ratio !== undefined) {
      ctx.fillStyle = g.alert ? "#ff4d4f" : g.ratio > thr ? "#ffb020" : "#3ddc84";
      ctx.fillRect(0, h * 0.55, xOf(g.ratio), h * 0.45);
    }
    // sparkline of the last steps
    const hist = g.baseline_ready ? g.history_ratio || [] : [];
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
    const shown = g.baseline_ready && !state.lost[foot];
    document.getElementById(`gauge-${foot}-value`).textContent = shown && g.ratio !== null && g.ratio !== undefined ? `${fmt(g.ratio, 2)}×` : "–";
    const note = document.getElementById(`gauge-${foot}-note`);
    if (!g.baseline_ready) {
      note.textContent = `collecting baseline · ${g.baseline_steps}/${g.baseline_steps_needed} steps`;
    } else {
      note.textContent = `× own baseline · last ${g.recent_steps} steps ${fmt(g.recent_ratio, 2)}× · alert > ${fmt(g.threshold, 2)}×`;
    }
    drawGauge(foot);
    refreshAlert();
  }

  // The alert is the analysis' (its one pivot policy, published in the gauges): the page
  // only shows it, and cues its start and end when the runner asked for sound.
  function refreshAlert() {
    const active = FEET.filter((f) => state.gauges[f] && state.gauges[f].alert);
    const was = state.alertActive;
    state.alertActive = active.length > 0;
    if (state.alertActive !== was && state.online) state.audio.cue(state.alertActive ? "alert_start" : "alert_end");
    const banner = document.getElementById("alert");
    banner.hidden = !state.alertActive;
    if (state.alertActive) {
      const g = state.gauges[active[0]];
      document.getElementById("alert-text").textContent =
        `PIVOT RISING · ${fmt(g.recent_ratio, 2)}× early-run level`;
    }
    FEET.forEach((f) => document.getElementById(`panel-${f}`).classList.toggle("alerting", active.includes(f)));
  }

  // A lost insole's numbers are blanked (and so are those that need both feet), never
  // shown half-true (one foot's steps would halve the cadence).
  function updateMetrics(m) {
    state.metrics = m;
    const anyLost = state.lost.left || state.lost.right;
    state.audio.setCadence(anyLost ? null : m.cadence_spm);
    document.getElementById("m-cadence").textContent = anyLost ? "–" : fmt(m.cadence_spm, 0);
    const c = m.contact_time_ms || {};
    FEET.forEach((f) => { document.getElementById(`m-contact-${f}`).textContent = state.lost[f] ? "–" : fmt(c[f], 0); });
    document.getElementById("m-symmetry").textContent = anyLost ? "–" : fmt(m.symmetry_contact_pct, 1);
  }

  function clockText(sec) {
    if (sec === null || sec === undefined || !isFinite(sec)) return "–";
    const t = Math.max(0, Math.floor(sec));
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s2 = t % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s2).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // Time, belt distance and steps: from the server (distance = treadmill speed × time).
  function updateClock(c) {
    state.clock = c;
    const rec = state.recording.state === "recording";
    const steps = c.steps ? c.steps.left + c.steps.right : null;
    document.getElementById("m-steps").textContent = fmt(steps, 0);
    document.getElementById("m-elapsed").textContent = clockText(c.elapsed_s);
    const dist = rec ? state.recording.recording_distance_m : c.distance_m;
    document.getElementById("m-distance").textContent = fmt(dist === undefined || dist === null ? null : dist / 1000, 2);
    document.getElementById("m-rectime").textContent = rec ? `REC ${clockText(state.recording.recording_s)}` : "not recording";
  }

  function updateSession(meta) {
    state.session = meta || {};
    const m = state.session;
    const speed = m.treadmill_speed_kmh ? `${fmt(m.treadmill_speed_kmh, 1)} km/h` : null;
    const incline = m.treadmill_incline_pct ? `${fmt(m.treadmill_incline_pct, 1)} %` : null;
    const parts = [m.athlete || "athlete not set", m.shoe, m.sock, speed, incline].filter(Boolean);
    document.getElementById("runner").textContent = parts.join(" · ");
    for (const [id, key] of FIELDS) {
      const el = document.getElementById(id);
      if (document.activeElement === el) continue; // never overwrite what is being typed
      const v = m[key];
      el.value = v === null || v === undefined ? "" : v;
    }
  }

  let announceTimer = null;
  function announce(text) {
    const el = document.getElementById("announce");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  // A lost insole: its foot hatched with "LEFT INSOLE LOST · 4 s", its numbers blank, and
  // while recording a warning that the recording has a gap. Its return is announced.
  function updateLost(l) {
    const foot = l.foot, lost = !!l.lost, was = state.lost[foot];
    state.lost[foot] = lost;
    document.getElementById(`panel-${foot}`).classList.toggle("insole-lost", lost);
    const box = document.getElementById(`lost-${foot}`);
    box.hidden = !lost;
    if (lost) box.querySelector(".lost-text").textContent = `${foot.toUpperCase()} INSOLE LOST · ${fmt(l.lost_for_s, 0)} s`;
    if (lost && !was) {
      if (state.recording.state === "recording") state.gaps++;
      state.audio.cue("insole_lost", `${foot} insole lost`);
    }
    if (!lost && was) {
      announce(`${foot.toUpperCase()} INSOLE BACK · streaming`);
      state.audio.cue("insole_back", `${foot} insole back`);
    }
    if (lost !== was) {
      updateMetrics(state.metrics);
      if (state.gauges[foot]) updateGaugeText(foot);
      state.dirty = true;
    }
    refreshRecWarning();
  }

  function refreshRecWarning() {
    const lost = FEET.filter((f) => state.lost[f]);
    const el = document.getElementById("rec-warning");
    const rec = state.recording.state === "recording";
    el.hidden = !(rec && lost.length);
    if (!el.hidden) {
      const what = lost.map((f) => `${f.toUpperCase()} ${fmt(state.links[f] && state.links[f].lost_for_s, 0)} s`).join(", ");
      el.textContent = `⚠ RECORDING GAP · insole lost: ${what}`;
    }
  }

  // "waiting": plantar run is looking for this insole (off, flat, out of range, unplugged);
  // "ready": it answered, the other one has not yet; "connecting": the first attempt is
  // under way. Shown over the foot in plain words until the insoles stream.
  function updateWaiting(l) {
    const box = document.getElementById(`waiting-${l.foot}`);
    const shown = !l.lost && (l.state === "waiting" || l.state === "ready" || l.state === "connecting");
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
    updateLost(l);
  }

  function updateRecording(r) {
    state.recording = r;
    const on = r.state === "recording";
    const el = document.getElementById("rec-status");
    el.classList.toggle("on", on);
    const written = r.frames_written ? Object.values(r.frames_written).reduce((a, b) => a + b, 0) : 0;
    const gaps = state.gaps ? ` · ${state.gaps} gap${state.gaps > 1 ? "s" : ""}` : "";
    const who = state.session.athlete ? ` · ${state.session.athlete}` : "";
    el.textContent = on ? `● REC${who} · ${written} frames${gaps}` : r.session_id ? `stopped · ${r.session_id}` : "not recording";
    if (!on) state.gaps = 0;
    if (!on && r.waiting) el.textContent = r.autostart ? "waiting for the insoles · recording starts when both stream" : "waiting for the insoles";
    document.getElementById("btn-start").disabled = on || r.live === false || !!r.waiting;
    document.getElementById("btn-stop").disabled = !on;
    document.getElementById("btn-marker").disabled = !on;
    refreshRecWarning();
    updateClock(state.clock);
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
        state.drawn[f] = { forceN: fr.forceN, stance: fr.stance, held: fr.held, tS: fr.tS, lost: state.lost[f] };
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

  // The server: lost when the events socket closes or goes silent (link status comes
  // every 0.5 s); the page dims under an overlay and reconnects by itself.
  const SILENT_MS = 2000;
  function setOnline(on) {
    if (on === state.online) return;
    state.online = on;
    document.getElementById("offline").hidden = on;
    document.body.classList.toggle("offline-state", !on);
    if (on && state.wasOffline) announce("RECONNECTED TO THE SERVER");
    if (!on) state.wasOffline = true;
  }
  function watchdog() {
    if (state.online && Date.now() - state.lastEventMs > SILENT_MS) {
      setOnline(false);
      if (eventsWs) eventsWs.close();
      if (liveWs) liveWs.close();
    }
  }

  function onEvent(e) {
    switch (e.type) {
      case "snapshot":
        if (e.session) updateSession(e.session.meta);
        if (e.clock) updateClock(e.clock);
        state.markers = e.markers || [];
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
      case "session": updateSession(e.meta); break;
      case "clock": updateClock(e); break;
      case "marker": state.markers.push(e); break;
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
    eventsWs.onmessage = (ev) => {
      state.lastEventMs = Date.now();
      setOnline(true);
      onEvent(JSON.parse(ev.data));
    };
    eventsWs.onclose = () => {
      setOnline(false);
      setTimeout(connectEvents, 1000);
    };
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
  // Form fields of the one session state: [element id, session key].
  const FIELDS = [
    ["in-athlete", "athlete"],
    ["in-shoe", "shoe"],
    ["in-sock", "sock"],
    ["in-speed", "treadmill_speed_kmh"],
    ["in-incline", "treadmill_incline_pct"],
    ["in-notes", "notes"],
  ];
  function fieldValue(el) {
    const v = el.value.trim();
    if (el.type !== "number") return v;
    return v === "" ? null : Number(v);
  }
  function showError(err) { document.getElementById("rec-status").textContent = `error: ${err.message}`; }
  // Another screen pressed Record (or Stop) first: the events bring the state; no error.
  const ignoreRace = (text) => (err) => (err.message.includes(text) ? null : showError(err));
  function mark() {
    if (state.recording.state !== "recording") return;
    api("POST", "/api/marker", { label: "hot spot felt now" })
      .then((m) => { state.audio.cue("marker"); announce(`MARKED · ${m.label} · ${fmt(m.t_s, 1)} s`); })
      .catch(showError);
  }
  function wireControls() {
    document.getElementById("btn-start").onclick = () => api("POST", "/api/recording/start").then(updateRecording).catch(ignoreRace("already recording"));
    document.getElementById("btn-stop").onclick = () => api("POST", "/api/recording/stop").then(updateRecording).catch(ignoreRace("not recording"));
    document.getElementById("btn-marker").onclick = mark;
    document.addEventListener("keydown", (ev) => {
      const t = ev.target;
      const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "BUTTON" || t.tagName === "SUMMARY");
      if (ev.code === "Space" && !typing && !ev.repeat) { ev.preventDefault(); mark(); }
    });
    for (const [id, key] of FIELDS) {
      const el = document.getElementById(id);
      let timer = null;
      el.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const v = fieldValue(el);
          if (el.type === "number" && v !== null && !el.checkValidity()) return;
          api("PUT", "/api/session", { [key]: v === null ? undefined : v }).catch(showError);
        }, 200);
      });
    }
    document.getElementById("opt-audio").onchange = (ev) => state.audio.setEnabled(ev.target.checked);
    document.getElementById("opt-metronome").onchange = (ev) => state.audio.setMetronome(ev.target.checked);
    api("GET", "/api/session").then((s2) => {
      updateSession(s2.meta);
      if (s2.recording) updateRecording(s2.recording);
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
    setInterval(watchdog, 500);
    setInterval(reportLatency, 1000);
    window.addEventListener("resize", () => { state.dirty = true; FEET.forEach(drawGauge); });
    requestAnimationFrame(frame);
  }
  start().catch((err) => { document.getElementById("latency").textContent = `error: ${err.message}`; });
})();
