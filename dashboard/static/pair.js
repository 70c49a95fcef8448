// The pairing page: scan, press on the left insole to tell left from right, save.
// State lives on the server (GET /api/pairing); the page polls it while a step runs.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const view = { state: "idle", chosen: [] };
  window.plantarPair = view; // test hook: the last state seen

  async function call(method, path, body) {
    const opts = { method, headers: {} };
    if (method !== "GET") body = body === undefined ? {} : body; // writes are JSON
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (err) {
      return { error: "The server cannot be reached: is plantar still running?" };
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) return { error: data.detail ? String(data.detail) : `error ${res.status}` };
    return data;
  }

  function fmt(v, unit) {
    return v === null || v === undefined ? "–" : `${v}${unit}`;
  }

  function render(st) {
    Object.assign(view, st);
    const msg = $("message");
    msg.textContent = st.message;
    msg.className = "message" + ({ error: " error", press: " press", saved: " ok",
      identified: " ok" }[st.state] || "");
    msg.dataset.state = st.state;
    const busy = ["scanning", "connecting", "baseline", "press"].includes(st.state);
    $("btn-scan").disabled = busy;
    const addresses = st.insoles.map((i) => i.address);
    view.chosen = view.chosen.filter((a) => addresses.includes(a));
    for (const a of addresses) if (view.chosen.length < 2 && !view.chosen.includes(a)) view.chosen.push(a);
    $("btn-identify").disabled = busy || view.chosen.length !== 2;
    $("btn-save").disabled = st.state !== "identified";
    const table = $("insoles");
    table.hidden = st.insoles.length === 0;
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const ins of st.insoles) {
      const tr = document.createElement("tr");
      tr.dataset.address = ins.address;
      const foot = Object.keys(st.pair).find((f) => st.pair[f] === ins.address.toUpperCase());
      const cells = [
        null,
        ins.name + (foot ? ` (${foot.toUpperCase()})` : ""),
        ins.address,
        fmt(ins.rssi_dbm, " dBm"),
        ins.layout_id ? `${ins.layout_id} (${ins.n_sensels} sensels)` : (ins.error || "?"),
        fmt(ins.battery_pct, " %"),
        fmt(st.rise_kpa[ins.address.toUpperCase()], " kPa"),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 0) {
          const box = document.createElement("input");
          box.type = "checkbox";
          box.checked = view.chosen.includes(ins.address);
          box.disabled = busy;
          box.addEventListener("change", () => {
            view.chosen = box.checked ? [...view.chosen, ins.address].slice(-2)
              : view.chosen.filter((a) => a !== ins.address);
            render(view);
          });
          td.append(box);
        } else {
          td.textContent = text;
        }
        if (i === 2) td.className = "opt";
        if (i === 6) td.className = "rise";
        tr.append(td);
      });
      body.append(tr);
    }
    const sim = $("sim");
    sim.hidden = !st.simulated || st.simulated.length === 0;
    const box = $("sim-buttons");
    box.replaceChildren();
    for (const s of st.simulated || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.sim = s.name;
      b.textContent = s.pressed ? `Release ${s.name}` : `Press on ${s.name}`;
      b.addEventListener("click", async () => {
        const r = await call("POST", `/api/pairing/simulated/${s.address}/press`, { pressed: !s.pressed });
        if (r.error) showError(r.error); else render(r);
      });
      box.append(b);
    }
    schedule(busy || st.state === "saved" ? 300 : 2000);
  }

  function showError(text) {
    const msg = $("message");
    msg.textContent = text;
    msg.className = "message error";
    msg.dataset.state = "error";
    view.state = "error";
  }

  let timer = null;
  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }
  async function refresh() {
    const st = await call("GET", "/api/pairing");
    if (st.error) { showError(st.error); schedule(3000); return; }
    render(st);
    if (st.state === "saved") showLinks();
  }

  async function showLinks() {
    const status = await call("GET", "/api/status");
    const links = status.links || status.feet || null;
    if (!links) return;
    const states = ["left", "right"].map((f) => (links[f] && links[f].state) || "?");
    if (states.every((s) => s === "streaming")) {
      const msg = $("message");
      msg.textContent = `${view.message.split(";")[0]}; both insoles streaming. `;
      const back = document.createElement("a");
      back.href = "/";
      back.textContent = "Back to the live page";
      msg.append(back);
      msg.dataset.state = "streaming";
    }
  }

  async function step(path, body) {
    const r = await call("POST", path, body);
    if (r.error) { showError(r.error); refresh(); return; }
    render(r);
  }

  $("btn-scan").addEventListener("click", () => {
    const msg = $("message");
    msg.textContent = "Scanning for insoles ...";
    msg.dataset.state = "scanning";
    $("btn-scan").disabled = true;
    step("/api/pairing/scan");
  });
  $("btn-identify").addEventListener("click", () => step("/api/pairing/identify", { addresses: view.chosen }));
  $("btn-save").addEventListener("click", () => step("/api/pairing/save"));
  $("btn-cancel").addEventListener("click", () => step("/api/pairing/cancel"));
  refresh();
})();
