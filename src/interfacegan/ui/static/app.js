// interfacegan editor: plain JavaScript, no build step, no external assets.
// The server is stateless: every request carries the whole editing state
//   {source: {kind, seed | row | upload, truncation}, directions: {key: {value, conditions, layers}}}.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

const ui = {
  config: null,
  state: { source: { kind: "seed", seed: 0, row: 0, upload: null, truncation: 1 }, directions: {} },
  stripKey: null,
  cards: {},
  lastImage: null, // Blob of the image on screen
  lastUpload: null, // upload id of the last inverted image
  stripFrames: [], // slider values of the strip's frames on screen (the server's X-Strip-Values)
};
const STRIP = { lo: -3, hi: 3, steps: 7 };

// ---- helpers ---------------------------------------------------------------------------------------------
async function detailOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail ?? body);
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

function postJSON(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text || "";
  el.classList.toggle("error", Boolean(isError && text));
}

function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 2000);
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

// ---- state -> request --------------------------------------------------------------------------------------
function payload() {
  const directions = {};
  for (const [key, d] of Object.entries(ui.state.directions)) {
    if (d.value !== 0 || d.conditions.length || d.layers) {
      directions[key] = { value: d.value, conditions: d.conditions, layers: d.layers || null };
    }
  }
  const s = ui.state.source;
  const source = { kind: s.kind };
  if (s.kind === "seed") Object.assign(source, { seed: s.seed, truncation: s.truncation });
  if (s.kind === "run") source.row = s.row;
  if (s.kind === "upload") source.upload = s.upload;
  return { source, directions };
}

function sourceName() {
  const s = ui.state.source;
  if (s.kind === "seed") return `seed${s.seed}`;
  if (s.kind === "run") return `row${s.row}`;
  return `upload-${s.upload}`;
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

function saveToUrl() {
  history.replaceState(null, "", urlHash(payload()));
}

function loadFromUrl() {
  applyUrlState(location.hash, ui.state, ui.config);
  if (ui.state.source.kind === "upload") ui.lastUpload = ui.state.source.upload;
}

// ---- rendering ---------------------------------------------------------------------------------------------
const renderNow = pump(async () => {
  const started = performance.now();
  const spin = setTimeout(() => ($("#busy").hidden = false), 200);
  try {
    const response = await postJSON("/api/render", payload());
    if (!response.ok) {
      setStatus(await detailOf(response), true);
      return;
    }
    const blob = await response.blob();
    ui.lastImage = blob;
    const img = $("#image");
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    setStatus(`rendered in ${Math.round(performance.now() - started)} ms`);
  } catch (err) {
    setStatus(`the server did not answer (${err.message}): is 'interfacegan ui' still running?`, true);
  } finally {
    clearTimeout(spin);
    $("#busy").hidden = true;
  }
});

const inspectNow = pump(async () => {
  const response = await postJSON("/api/inspect", payload());
  if (!response.ok) return; // render shows the error
  const report = await response.json();
  for (const [key, card] of Object.entries(ui.cards)) {
    const r = report.directions[key] || {};
    const d = ui.state.directions[key];
    card.position.textContent = r.position === undefined ? "" : `at ${fmt(r.position)}`;
    card.position.title = "signed distance n·x + b of the edited code to this direction's hyperplane";
    card.cosine.textContent = d.conditions.length && r.cosine !== null && r.cosine !== undefined
      ? `cos ${r.cosine.toFixed(3)} with the original` : "";
    card.layersText.textContent = r.layers ? `layers ${r.layers}` : "";
    card.error.textContent = r.error || "";
    card.root.classList.toggle("bad", Boolean(r.error));
  }
  const scores = report.source.scores;
  const table = $("#row-scores");
  table.innerHTML = "";
  if (scores && ui.state.source.kind === "run") {
    for (const [name, value] of Object.entries(scores)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = name;
      tr.insertCell().textContent = value === null ? "—" : Number(value).toFixed(3);
    }
  }
});

const stripNow = pump(async () => {
  const key = ui.stripKey;
  if (!key) return;
  const response = await postJSON("/api/strip", { state: payload(), direction: key, ...STRIP });
  if (!response.ok) return;
  const blob = await response.blob();
  const img = $("#strip");
  const old = img.src;
  img.src = URL.createObjectURL(blob);
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  ui.stripFrames = (response.headers.get("X-Strip-Values") || "").split(",").map(Number).filter(Number.isFinite);
  drawStripValues();
});

// The value of the strip frame under a click at `x` pixels from the left of an image `width` pixels wide.
function frameValue(x, width, values) {
  if (!values.length || !(width > 0)) return null;
  const i = Math.floor((x / width) * values.length);
  return values[Math.max(0, Math.min(values.length - 1, i))];
}

function stripValues() {
  const { lo, hi, steps } = STRIP;
  return [...Array(steps).keys()].map((i) => lo + ((hi - lo) * i) / (steps - 1));
}

function drawStripValues() {
  const box = $("#strip-values");
  box.innerHTML = "";
  const current = ui.stripKey ? ui.state.directions[ui.stripKey].value : null;
  for (const v of stripValues()) {
    const span = document.createElement("span");
    span.textContent = fmt(v, 1);
    span.classList.toggle("current", current !== null && Math.abs(current - v) < 1e-9);
    span.addEventListener("click", () => setValue(ui.stripKey, v));
    box.appendChild(span);
  }
}

const slowUpdates = debounce(() => {
  inspectNow();
  stripNow();
  saveToUrl();
}, 150);

function changed() {
  renderNow();
  slowUpdates();
}

// ---- directions --------------------------------------------------------------------------------------------
function setValue(key, value) {
  if (!key) return;
  const limit = 100;
  const v = Math.max(-limit, Math.min(limit, Number(value) || 0));
  ui.state.directions[key].value = Math.round(v * 1000) / 1000;
  syncCard(key);
  changed();
}

function selectStrip(key) {
  ui.stripKey = key;
  for (const [k, card] of Object.entries(ui.cards)) {
    card.root.classList.toggle("active", k === key);
    card.pick.checked = k === key;
  }
  const d = ui.config.directions.find((x) => x.key === key);
  $("#strip-name").textContent = d ? d.label : "—";
  $("#strip-range").textContent = `(${fmt(STRIP.lo, 0)} … ${fmt(STRIP.hi, 0)}; click a frame to use it)`;
  stripNow();
}

function effectiveLayers(key) {
  const d = ui.state.directions[key];
  const def = ui.config.directions.find((x) => x.key === key).layers;
  return parseLayers(d.layers ?? def, ui.config.num_layers) || [];
}

function syncCard(key) {
  const card = ui.cards[key];
  const d = ui.state.directions[key];
  card.slider.value = d.value;
  card.num.value = d.value.toFixed(2);
  card.root.classList.toggle("moved", d.value !== 0);
  for (const box of $$("input[type=checkbox]", card.conditions)) box.checked = d.conditions.includes(box.value);
  if (ui.config.num_layers) {
    card.layersInput.value = d.layers || "";
    const on = new Set(effectiveLayers(key));
    $$("button", card.grid).forEach((b, i) => b.classList.toggle("on", on.has(i)));
  }
  if (key === ui.stripKey) drawStripValues();
}

function buildCard(info) {
  const cfg = ui.config;
  const root = $("#direction-template").content.firstElementChild.cloneNode(true);
  const card = {
    root,
    pick: $(".pick", root),
    slider: $(".slider", root),
    num: $(".num", root),
    position: $(".position", root),
    cosine: $(".cosine", root),
    layersText: $(".layers-text", root),
    conditions: $(".conditions", root),
    grid: $(".layer-grid", root),
    layersInput: $(".layers", root),
    error: $(".error", root),
  };
  root.dataset.key = info.key;
  $(".name", root).textContent = info.label;
  $(".name", root).title = `${info.key} (${info.space}-space ${info.kind})`;
  $(".note", root).textContent = info.note;
  card.slider.min = cfg.slider.min;
  card.slider.max = cfg.slider.max;
  card.slider.step = cfg.slider.step;
  card.num.step = cfg.slider.step;

  card.slider.addEventListener("input", () => setValue(info.key, parseFloat(card.slider.value)));
  card.num.addEventListener("change", () => setValue(info.key, parseFloat(card.num.value)));
  $(".zero", root).addEventListener("click", () => setValue(info.key, 0));
  card.pick.addEventListener("change", () => selectStrip(info.key));
  $(".name", root).addEventListener("click", () => selectStrip(info.key));

  // Condition boxes are built when the panel first opens: hundreds of directions stay cheap.
  $("details", root).addEventListener("toggle", () => buildConditions(info, card), { once: true });
  if (cfg.directions.length < 2) card.conditions.textContent = "(needs a second direction)";

  if (cfg.num_layers) {
    let anchor = null;
    for (let i = 0; i < cfg.num_layers; i++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = i;
      b.title = `layer ${i}`;
      b.addEventListener("click", (event) => {
        const on = new Set(effectiveLayers(info.key));
        if (event.shiftKey && anchor !== null) {
          const [a, z] = [Math.min(anchor, i), Math.max(anchor, i)];
          for (let j = a; j <= z; j++) on.add(j);
        } else if (on.has(i)) on.delete(i);
        else on.add(i);
        anchor = i;
        if (on.size === 0) {
          setStatus("a slider moves at least one layer: select another layer first", true);
          return;
        }
        setLayers(info.key, formatLayers([...on].sort((x, y) => x - y)));
      });
      card.grid.appendChild(b);
    }
    card.layersInput.placeholder = info.layers || "all";
    card.layersInput.addEventListener("change", () => setLayers(info.key, card.layersInput.value.trim() || null));
    const presets = $(".presets", root);
    for (const [name, text] of Object.entries(cfg.layer_presets)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = name;
      b.title = `layers ${text}`;
      b.addEventListener("click", () => setLayers(info.key, text));
      presets.appendChild(b);
    }
  } else {
    $(".layer-box", root).remove();
    $(".layers-summary", root).remove();
  }
  ui.cards[info.key] = card;
  return root;
}

function buildConditions(info, card) {
  for (const other of ui.config.directions) {
    if (other.key === info.key) continue;
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = other.key;
    box.checked = ui.state.directions[info.key].conditions.includes(other.key);
    box.addEventListener("change", () => {
      const d = ui.state.directions[info.key];
      d.conditions = box.checked ? [...d.conditions, other.key] : d.conditions.filter((c) => c !== other.key);
      changed();
    });
    label.append(box, document.createTextNode(other.label));
    card.conditions.appendChild(label);
  }
}

function setLayers(key, text) {
  ui.state.directions[key].layers = text || null;
  syncCard(key);
  changed();
}

function resetEdits() {
  for (const key of Object.keys(ui.state.directions)) {
    ui.state.directions[key] = { value: 0, conditions: [], layers: null };
    syncCard(key);
  }
  changed();
}

// ---- sources -----------------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of $$(".tab")) tab.classList.toggle("active", tab.dataset.tab === name);
  for (const body of $$(".tab-body")) body.hidden = body.dataset.body !== name;
}

function useSource(kind) {
  const s = ui.state.source;
  if (kind === "upload" && !ui.lastUpload) return; // nothing inverted yet: keep editing the current code
  s.kind = kind;
  if (kind === "upload") s.upload = ui.lastUpload;
  showTab(kind);
  $("#target-frame").hidden = kind !== "upload";
  $("#image-caption").textContent = kind === "upload" ? "inverted and edited" : "edited";
  changed();
}

function setSeed(seed) {
  const s = Math.max(0, Math.min(4294967295, Math.floor(Number(seed) || 0)));
  ui.state.source.seed = s;
  $("#seed").value = s;
  useSource("seed");
}

function setRow(row) {
  const rows = ui.config.run ? ui.config.run.rows : 1;
  const r = Math.max(0, Math.min(rows - 1, Math.floor(Number(row) || 0)));
  ui.state.source.row = r;
  $("#row").value = r;
  useSource("run");
}

async function uploadFile(file) {
  if (!file) return;
  const limit = ui.config.upload.max_bytes;
  if (file.size > limit) {
    setStatus(`the image is larger than ${Math.round(limit / 2 ** 20)} MB: upload a smaller one`, true);
    return;
  }
  const form = new FormData();
  form.append("file", file);
  form.append("align", $("#align").checked ? "true" : "false");
  const bar = $("#upload-bar");
  const text = $("#upload-text");
  $("#upload-progress").hidden = false;
  bar.removeAttribute("value"); // indeterminate while uploading
  text.textContent = "uploading…";
  const response = await fetch("/api/upload", { method: "POST", body: form });
  if (!response.ok) {
    $("#upload-progress").hidden = true;
    const detail = await detailOf(response);
    $("#upload-info").textContent = detail;
    setStatus(detail, true);
    return;
  }
  const { job } = await response.json();
  text.textContent = "inverting…";
  for (;;) {
    await new Promise((r) => setTimeout(r, 400));
    const poll = await fetch(`/api/jobs/${job}`);
    if (!poll.ok) {
      setStatus(await detailOf(poll), true);
      $("#upload-progress").hidden = true;
      return;
    }
    const status = await poll.json();
    if (status.step) {
      bar.max = status.steps || 1;
      bar.value = status.step;
      text.textContent = `${status.stage}: step ${status.step}/${status.steps}, ${status.seconds} s`;
    } else {
      text.textContent = `${status.stage} (${status.steps} steps), ${status.seconds} s`;
    }
    if (status.status === "error") {
      $("#upload-progress").hidden = true;
      $("#upload-info").textContent = status.detail;
      setStatus(status.detail, true);
      return;
    }
    if (status.status === "done") {
      $("#upload-progress").hidden = true;
      ui.lastUpload = status.source.upload;
      $("#upload-info").textContent = uploadNote({ seconds: status.seconds, ...(status.info || {}) });
      $("#target").src = `/api/uploads/${ui.lastUpload}/target.png`;
      useSource("upload");
      return;
    }
  }
}

// What the page says about an inverted upload: space, time, steps, PSNR, and whether the face was aligned.
function uploadNote(info) {
  const psnr = info.psnr !== undefined ? `, reconstruction PSNR ${Number(info.psnr).toFixed(1)} dB` : "";
  const framing = info.aligned ? "face aligned" : "centre crop, not aligned";
  return `${framing}, inverted into ${info.space} in ${info.seconds} s (${info.steps} steps${psnr})`;
}

// After a reload on an upload: the server still holds it (show its target and note), or say plainly that it
// does not (uploads live only while this editor process runs) and go back to a seed.
async function restoreUpload() {
  const source = { kind: "upload", upload: ui.lastUpload };
  const response = await postJSON("/api/inspect", { source, directions: {} });
  if (!response.ok) {
    ui.lastUpload = null;
    ui.state.source.kind = "seed";
    const message = "the uploaded image of this link is gone: uploads live only while the editor that inverted "
      + "them runs; upload it again";
    $("#upload-info").textContent = message;
    setStatus(message, true);
    return;
  }
  const report = await response.json();
  $("#upload-info").textContent = uploadNote(report.source.info || {});
  $("#target").src = `/api/uploads/${ui.lastUpload}/target.png`;
  $("#target-frame").hidden = false;
  $("#image-caption").textContent = "inverted and edited";
}

// ---- start -------------------------------------------------------------------------------------------------
function describeModel(cfg) {
  const m = cfg.model;
  const space = cfg.space === "wp" ? `W+ (${cfg.num_layers} layers)` : cfg.space.toUpperCase();
  return `${m.spec || m.name} · ${m.resolution}×${m.resolution} · editing in ${space}`;
}

function wire() {
  const cfg = ui.config;
  $("#reset").addEventListener("click", resetEdits);
  $("#download-png").addEventListener("click", async () => {
    const response = await postJSON("/api/render", payload());
    if (!response.ok) return setStatus(await detailOf(response), true);
    saveBlob(await response.blob(), `${cfg.model.name}-${sourceName()}-edited.png`);
  });
  $("#download-code").addEventListener("click", async () => {
    const response = await postJSON("/api/code", payload());
    if (!response.ok) return setStatus(await detailOf(response), true);
    saveBlob(await response.blob(), `${cfg.model.name}-${sourceName()}-edited_${cfg.space}.npy`);
  });
  const compare = $("#compare");
  let original = null;
  let holding = false;
  const showOriginal = async () => {
    holding = true;
    const response = await postJSON("/api/render", { source: payload().source, directions: {} });
    if (!response.ok) return;
    const blob = await response.blob();
    if (!holding) return; // released before the image arrived
    original = URL.createObjectURL(blob);
    $("#image").src = original;
    $("#image-caption").textContent = "unedited";
  };
  const showEdited = () => {
    holding = false;
    if (!original) return;
    URL.revokeObjectURL(original);
    original = null;
    if (ui.lastImage) $("#image").src = URL.createObjectURL(ui.lastImage);
    $("#image-caption").textContent = ui.state.source.kind === "upload" ? "inverted and edited" : "edited";
  };
  compare.addEventListener("pointerdown", showOriginal);
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) compare.addEventListener(name, showEdited);
  $("#pixelated").addEventListener("change", (e) => $(".pictures").classList.toggle("pixelated", e.target.checked));
  $("#strip").addEventListener("click", (e) => {
    const value = frameValue(e.offsetX, e.currentTarget.clientWidth, ui.stripFrames);
    if (value !== null) setValue(ui.stripKey, value);
  });

  for (const tab of $$(".tab")) {
    tab.addEventListener("click", () => {
      showTab(tab.dataset.tab);
      useSource(tab.dataset.tab);
    });
  }
  $("#seed").addEventListener("change", (e) => setSeed(e.target.value));
  $("#seed-prev").addEventListener("click", () => setSeed(ui.state.source.seed - 1));
  $("#seed-next").addEventListener("click", () => setSeed(ui.state.source.seed + 1));
  $("#new-sample").addEventListener("click", () => setSeed(Math.floor(Math.random() * 4294967296)));
  if (cfg.truncation.available) {
    $("#truncation-row").hidden = false;
    $("#truncation").addEventListener("input", (e) => {
      ui.state.source.truncation = parseFloat(e.target.value);
      $("#truncation-value").textContent = ui.state.source.truncation.toFixed(2);
      useSource("seed");
    });
  }
  if (cfg.run) {
    $("#tab-run").hidden = false;
    $("#row").max = cfg.run.rows - 1;
    $("#run-info").textContent = `${cfg.run.path}: ${cfg.run.rows} samples`;
    $("#row").addEventListener("change", (e) => setRow(e.target.value));
    $("#row-prev").addEventListener("click", () => setRow(ui.state.source.row - 1));
    $("#row-next").addEventListener("click", () => setRow(ui.state.source.row + 1));
    $("#row-random").addEventListener("click", () => setRow(Math.floor(Math.random() * cfg.run.rows)));
  }
  if (!cfg.upload.available) {
    $("#upload-note").hidden = false;
    $("#upload-note").textContent = cfg.upload.message;
    $("#file").disabled = true;
    $("#align").disabled = true;
  } else {
    $("#file").addEventListener("change", (e) => uploadFile(e.target.files[0]));
    const drop = $("#drop");
    drop.addEventListener("dragover", (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      uploadFile(e.dataTransfer.files[0]);
    });
  }
  $("#filter").addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const info of cfg.directions) {
      const hay = `${info.label} ${info.key} ${info.note}`.toLowerCase();
      ui.cards[info.key].root.hidden = q !== "" && !hay.includes(q);
    }
  });
}

async function start() {
  const response = await fetch("/api/config");
  if (!response.ok) {
    setStatus(await detailOf(response), true);
    return;
  }
  const cfg = (ui.config = await response.json());
  document.title = cfg.title;
  $("#model-info").textContent = describeModel(cfg);
  $("#dir-count").textContent = `(${cfg.directions.length})`;
  $("#space-note").textContent = cfg.num_layers
    ? "Style model: each slider moves the W+ layers chosen under “conditions & layers”."
    : "This model has only a Z space: every slider moves the whole code (no layer ranges).";
  for (const info of cfg.directions) ui.state.directions[info.key] = { value: 0, conditions: [], layers: null };
  ui.state.source.truncation = cfg.truncation.psi;
  const list = $("#directions");
  for (const info of cfg.directions) list.appendChild(buildCard(info));
  wire();
  loadFromUrl();
  if (ui.state.source.kind === "upload") await restoreUpload();
  $("#truncation").value = ui.state.source.truncation;
  $("#truncation-value").textContent = Number(ui.state.source.truncation).toFixed(2);
  $("#seed").value = ui.state.source.seed;
  $("#row").value = ui.state.source.row;
  showTab(ui.state.source.kind);
  for (const key of Object.keys(ui.cards)) syncCard(key);
  selectStrip(cfg.directions[0].key);
  changed();
}

if (typeof document !== "undefined") start();
else if (typeof module !== "undefined") module.exports = { applyUrlState, frameValue, uploadNote, urlHash };
