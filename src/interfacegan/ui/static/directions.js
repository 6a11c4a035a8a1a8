// interfacegan editor, the direction cards: slider, value, conditions and W+ layers of each direction.
"use strict";

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
