// The generator form: upload with preview, live counter and cost, submit, live progress.
"use strict";

(function () {
  const form = document.getElementById("generate-form");
  if (!form) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const price = Number(form.dataset.price);
  const promptMax = Number(form.dataset.promptMax);
  const needsImage = form.dataset.needsImage === "true";
  const prompt = $("prompt");
  const button = $("generate-button");
  // The Idempotency-Key for this form: resubmitting it (double click, retry) makes one job.
  let formToken = form.dataset.formToken;
  let uploadId = null;
  let uploading = false;
  let submitting = false;
  let watcher = null;

  // The server counts code points of the trimmed prompt.
  const promptLength = () => Array.from(prompt.value.trim()).length;

  function updateCounter() {
    const n = promptLength();
    $("prompt-length").textContent = n.toLocaleString("en");
    $("prompt-count").classList.toggle("over", n > promptMax);
    if (n <= promptMax) fieldError("prompt", "");
  }

  function updateCost() {
    const left = i2a.credits() - price;
    $("credits-after").textContent = String(Math.max(left, 0));
    $("cost").classList.toggle("short", left < 0);
    $("cost-short").hidden = left >= 0;
    button.disabled = submitting || left < 0;
  }

  function fieldError(name, message) {
    const input = name === "prompt" ? prompt : $("image-input");
    i2a.showError($(`${name === "prompt" ? "prompt" : "upload"}-error`), message);
    if (input) input.toggleAttribute("aria-invalid", Boolean(message));
  }

  async function upload(file) {
    fieldError("upload", "");
    i2a.showError($("form-error"), "");
    if (!file) return;
    const preview = $("image-preview");
    if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    $("dropzone-text").hidden = true;
    $("upload-status").textContent = "Uploading…";
    uploadId = null;
    uploading = true;
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const saved = await i2a.api("POST", "/api/v1/uploads", { body });
      uploadId = saved.id;
      $("upload-status").textContent = `Ready · ${saved.width} × ${saved.height} px. Click or drop to replace.`;
    } catch (err) {
      $("upload-status").textContent = "";
      preview.hidden = true;
      $("dropzone-text").hidden = false;
      fieldError("upload", err.message);
    } finally {
      uploading = false;
    }
  }

  function wireDropzone() {
    const zone = $("dropzone");
    const input = $("image-input");
    if (!zone || !input) return;
    input.addEventListener("change", () => upload(input.files[0]));
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const file = event.dataTransfer.files[0];
      if (file) upload(file);
    });
  }

  function chosen(name) {
    const input = form.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : undefined;
  }

  function validate() {
    let ok = true;
    if (promptLength() === 0) {
      fieldError("prompt", "Write a prompt first.");
      ok = false;
    } else if (promptLength() > promptMax) {
      fieldError("prompt", `The prompt is ${promptLength()} characters; the limit is ${promptMax}.`);
      ok = false;
    }
    if (needsImage && uploading) {
      fieldError("upload", "Wait for the image to finish uploading.");
      ok = false;
    } else if (needsImage && !uploadId) {
      fieldError("upload", "Add a reference image first.");
      ok = false;
    }
    return ok;
  }

  function showJob(job) {
    if (watcher) watcher.stop();
    const progress = $("job-progress");
    $("job-empty").hidden = true;
    $("job-result").replaceChildren();
    progress.hidden = false;
    i2a.showProgress(progress, job);
    // On narrow screens the panel sits below the form: bring it into view.
    $("job-panel").scrollIntoView({ block: "nearest" });
    const update = (snapshot) => {
      i2a.showProgress(progress, snapshot);
      if (i2a.TERMINAL.has(snapshot.status)) {
        progress.hidden = true;
        i2a.showResult($("job-result"), snapshot);
        i2a.refreshCredits();
      }
    };
    if (i2a.TERMINAL.has(job.status)) update(job);
    else watcher = i2a.watchJob(job.id, update);
  }

  async function submit(event) {
    event.preventDefault();
    i2a.showError($("form-error"), "");
    if (submitting || !validate()) return;
    const body = { type: form.dataset.type, prompt: prompt.value };
    for (const name of ["aspect_ratio", "output_format", "n_frames"]) {
      if (chosen(name) !== undefined) body[name] = chosen(name);
    }
    if (needsImage) body.source_upload_id = uploadId;
    submitting = true;
    button.disabled = true;
    button.textContent = "Starting…";
    try {
      let job;
      try {
        job = await i2a.api("POST", "/api/v1/jobs", {
          json: body, headers: { "Idempotency-Key": formToken },
        });
      } catch (err) {
        if (err.code !== "idempotency_key_reused") throw err;
        // The form changed since its token was used: this is a new job.
        formToken = i2a.newKey();
        job = await i2a.api("POST", "/api/v1/jobs", {
          json: body, headers: { "Idempotency-Key": formToken },
        });
      }
      formToken = i2a.newKey();
      showJob(job);
      i2a.refreshCredits();
    } catch (err) {
      if (err.field === "prompt") fieldError("prompt", err.message);
      else if (err.field === "source_upload_id") fieldError("upload", err.message);
      else i2a.showError($("form-error"), err.message);
      if (err.status === 402) i2a.refreshCredits();
    } finally {
      submitting = false;
      button.textContent = "Generate";
      updateCost();
    }
  }

  prompt.addEventListener("input", updateCounter);
  document.addEventListener("i2a:credits", updateCost);
  form.addEventListener("submit", submit);
  wireDropzone();
  updateCounter();
  updateCost();
})();
