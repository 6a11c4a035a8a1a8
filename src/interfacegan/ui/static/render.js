// interfacegan editor, page state and requests: the state, its payload and URL, the image, inspect and strip.
// Plain JavaScript, no build step, no external assets; the page's scripts share one global scope (index.html).
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
