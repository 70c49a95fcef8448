// Plantar live page: what the runner can hear (opt-in). Web Audio tones, with speech
// synthesis saying what a tone means where the browser has it.
//   cue("alert_start") / cue("alert_end"): the pivot alert of the analysis starts / ends
//   metronome: a click at the runner's cadence (or a set one), off by default
// Every cue and tick is appended to `log` and handed to `onCue` (the browser tests' hook)
// before any sound is made, so a browser without audio output still shows what it did.
"use strict";

window.PlantarAudio = (() => {
  const audio = {
    enabled: false,
    metronome: false,
    metronomeSpm: null, // fixed rate; null = follow the live cadence
    cadenceSpm: null,
    log: [],
    onCue: null,
  };
  let ctx = null;
  let timer = null;

  function context() {
    if (!ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return null;
      ctx = new AC();
    }
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    return ctx;
  }

  function tone(freqHz, startS, durS, gain) {
    const c = context();
    if (!c) return;
    const osc = c.createOscillator();
    const amp = c.createGain();
    osc.frequency.value = freqHz;
    const t0 = c.currentTime + startS;
    amp.gain.setValueAtTime(0, t0);
    amp.gain.linearRampToValueAtTime(gain, t0 + 0.01);
    amp.gain.exponentialRampToValueAtTime(0.0001, t0 + durS);
    osc.connect(amp).connect(c.destination);
    osc.start(t0);
    osc.stop(t0 + durS + 0.02);
  }

  function say(text) {
    if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) return;
    try {
      window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
    } catch (err) { /* no voice: the tone is enough */ }
  }

  function note(kind, detail) {
    const entry = { kind, detail: detail || null, t_ms: Date.now() };
    audio.log.push(entry);
    if (audio.log.length > 200) audio.log.shift();
    if (typeof audio.onCue === "function") audio.onCue(entry);
  }

  const CUES = {
    alert_start: { tones: [[660, 0, 0.18], [880, 0.22, 0.3]], words: "Pivot rising" },
    alert_end: { tones: [[880, 0, 0.18], [520, 0.22, 0.3]], words: "Pivot back to baseline" },
    marker: { tones: [[1000, 0, 0.08]], words: null },
    insole_lost: { tones: [[300, 0, 0.4]], words: null },
    insole_back: { tones: [[520, 0, 0.12], [780, 0.15, 0.12]], words: null },
  };

  /** Play one of CUES (when the runner opted in); `words` overrides what is said. */
  audio.cue = (kind, words) => {
    if (!audio.enabled) return false;
    const c = CUES[kind];
    if (!c) return false;
    note(kind, words || c.words);
    c.tones.forEach(([f, t, d]) => tone(f, t, d, 0.25));
    const text = words || c.words;
    if (text) say(text);
    return true;
  };

  function tick() {
    timer = null;
    if (!audio.metronome) return;
    const spm = audio.metronomeSpm || audio.cadenceSpm || 170;
    note("tick", spm);
    tone(1500, 0, 0.04, 0.2);
    timer = setTimeout(tick, 60000 / Math.min(Math.max(spm, 60), 240));
  }

  audio.setEnabled = (on) => {
    audio.enabled = !!on;
    if (on) context(); // inside the click that enabled it: browsers allow sound from here on
  };
  audio.setMetronome = (on) => {
    audio.metronome = !!on;
    if (on) {
      context();
      if (timer === null) tick();
    } else if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  };
  audio.setCadence = (spm) => {
    audio.cadenceSpm = spm && isFinite(spm) ? spm : null;
  };
  return audio;
})();
