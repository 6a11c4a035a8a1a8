// interfacegan editor, pure helpers: no DOM, no page state; formatting, request pumps, W+ layer ranges, the URL
// state and the strip frame under a click. Loaded first by index.html; tests/test_ui.py loads it in Node.
"use strict";

async function detailOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail ?? body);
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

function fmt(value, digits = 2) {
  const v = Number(value);
  return (v > 0 ? "+" : "") + v.toFixed(digits);
}

// Runs `task` again after it finishes when asked meanwhile: follows slider drags at server speed, no backlog.
function pump(task) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again);
    } finally {
      running = false;
    }
  };
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// 'all', '0-3,6' -> sorted unique indices (display only: the server validates)
function parseLayers(text, count) {
  if (text === null || text === undefined || text.trim() === "" || text.trim().toLowerCase() === "all") {
    return [...Array(count).keys()];
  }
  const out = new Set();
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map((s) => parseInt(s.trim(), 10));
    if (Number.isNaN(a)) return null;
    const hi = Number.isNaN(b) || b === undefined ? a : b;
    for (let i = a; i <= hi; i++) if (i >= 0 && i < count) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function formatLayers(indices) {
  const parts = [];
  let start = null;
  let prev = null;
  for (const i of indices) {
    if (start === null) start = prev = i;
    else if (i === prev + 1) prev = i;
    else {
      parts.push(start === prev ? `${start}` : `${start}-${prev}`);
      start = prev = i;
    }
  }
  if (start !== null) parts.push(start === prev ? `${start}` : `${start}-${prev}`);
  return parts.join(",");
}

// The URL fragment holds the request payload, uploads included: a reload comes back to the same edit (an upload
// only while this editor process still holds it; `restoreUpload` says so plainly when it does not).
function urlHash(p) {
  return "#" + encodeURIComponent(JSON.stringify(p));
}

function applyUrlState(hash, state, config) {
  if (!hash || hash.length < 2) return;
  try {
    const p = JSON.parse(decodeURIComponent(hash.slice(1)));
    const s = p.source || {};
    if (s.kind === "seed") {
      state.source.seed = Number(s.seed) || 0;
      state.source.truncation = s.truncation ?? state.source.truncation;
    }
    if (s.kind === "run" && config.run) {
      state.source.kind = "run";
      state.source.row = Number(s.row) || 0;
    }
    if (s.kind === "upload" && typeof s.upload === "string" && /^[0-9a-f]{1,64}$/.test(s.upload)) {
      state.source.kind = "upload";
      state.source.upload = s.upload;
    }
    for (const [key, d] of Object.entries(p.directions || {})) {
      if (!(key in state.directions)) continue;
      Object.assign(state.directions[key], {
        value: Number(d.value) || 0,
        conditions: (d.conditions || []).filter((c) => c in state.directions && c !== key),
        layers: d.layers || null,
      });
    }
  } catch (_) {
    /* a hand-edited or stale URL: start fresh */
  }
}

// The value of the strip frame under a click at `x` pixels from the left of an image `width` pixels wide.
function frameValue(x, width, values) {
  if (!values.length || !(width > 0)) return null;
  const i = Math.floor((x / width) * values.length);
  return values[Math.max(0, Math.min(values.length - 1, i))];
}

// What the page says about an inverted upload: space, time, steps, PSNR, and whether the face was aligned.
function uploadNote(info) {
  const psnr = info.psnr !== undefined ? `, reconstruction PSNR ${Number(info.psnr).toFixed(1)} dB` : "";
  const framing = info.aligned ? "face aligned" : "centre crop, not aligned";
  return `${framing}, inverted into ${info.space} in ${info.seconds} s (${info.steps} steps${psnr})`;
}


function describeModel(cfg) {
  const m = cfg.model;
  const space = cfg.space === "wp" ? `W+ (${cfg.num_layers} layers)` : cfg.space.toUpperCase();
  return `${m.spec || m.name} · ${m.resolution}×${m.resolution} · editing in ${space}`;
}

if (typeof module !== "undefined") {
  module.exports = { applyUrlState, frameValue, uploadNote, urlHash };
}
