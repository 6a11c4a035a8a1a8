// interfacegan editor, the entry point: wires the page's controls and starts from /api/config and the URL.
// Loaded last by index.html, after helpers.js, render.js, directions.js and sources.js.
"use strict";

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

start();
