// interfacegan editor, the sources: a seed, a run row, or an uploaded image inverted by the server.
"use strict";

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
