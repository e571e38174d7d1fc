// The generator form: model picker, the model's parameters, upload with preview, live counter
// and quoted cost, submit, live progress.
"use strict";

(function () {
  const form = document.getElementById("generate-form");
  if (!form) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const QUOTE_DELAY_MS = 250;
  let price = Number(form.dataset.price);
  let promptMax = Number(form.dataset.promptMax);
  const needsImage = form.dataset.needsImage === "true";
  const prompt = $("prompt");
  const button = $("generate-button");
  // The Idempotency-Key for this form: resubmitting it (double click, retry) makes one job.
  let formToken = form.dataset.formToken;
  let uploadId = null;
  // "Use as reference" / "Animate": a finished image of yours, sent as source_job_id.
  let sourceJobId = form.dataset.sourceJob || null;
  let uploading = false;
  let submitting = false;
  let watcher = null;
  let currentJob = null;
  let showUpdate = () => {};
  let quoteTimer = null;
  let quoteSeq = 0;
  let quoteError = "";
  const paramsBox = $("model-params");
  const packBox = $("pack-box");

  // Ad pack: the placements ticked (none = one job as usual) and the variants of each.
  function packPlacements() {
    if (!packBox) return [];
    return Array.from(packBox.querySelectorAll('input[name="placement"]:checked'), (box) => box.value);
  }
  const packVariants = () => Number($("pack-variants").value);
  const packCount = () => packPlacements().length * packVariants();

  // In a pack each placement sets its own aspect ratio: the model's ratio control steps aside.
  function showPackMode() {
    const on = packPlacements().length > 0;
    paramsBox.querySelectorAll('[data-param="aspect_ratio"]').forEach((box) => { box.hidden = on; });
    $("pack-summary").textContent = on
      ? `${packCount()} ${form.dataset.resultType}s: ${packPlacements().length} placement${packPlacements().length === 1 ? "" : "s"} × ${packVariants()} variant${packVariants() === 1 ? "" : "s"}, each cropped to its exact size.`
      : "";
    button.textContent = buttonLabel();
  }
  const buttonLabel = () => (packPlacements().length ? `Make pack (${packCount()})` : "Generate");

  // This tab's work in progress, per generator type: the prompt, the model and its settings,
  // and the job on show survive leaving the page; the uploaded image is shared by the image
  // types. Kept in sessionStorage: it ends with the tab, and logging out clears it (app.js).
  const draft = (() => {
    const key = `i2a:draft:${form.dataset.type}`;
    const read = (name) => {
      try {
        return JSON.parse(sessionStorage.getItem(name) || "null");
      } catch (err) {
        return null;
      }
    };
    const write = (name, value) => {
      try {
        sessionStorage.setItem(name, JSON.stringify(value));
      } catch (err) {
        // Storage full or blocked: the draft is a convenience.
      }
    };
    return {
      get: () => read(key) || {},
      save: (fields) => write(key, { ...(read(key) || {}), ...fields }),
      saveJob: (id) => write(key, { ...(read(key) || {}), job: id }),
      upload: () => read("i2a:upload"),
      saveUpload: (saved) => write("i2a:upload", { id: saved.id, width: saved.width, height: saved.height }),
    };
  })();

  function saveDraft() {
    const model = selectedModel();
    draft.save({ prompt: prompt.value, model: model ? model.value : null, params: readParams() });
  }

  // The server counts code points of the trimmed prompt.
  const promptLength = () => Array.from(prompt.value.trim()).length;

  function updateCounter() {
    const n = promptLength();
    $("prompt-length").textContent = n.toLocaleString("en");
    $("prompt-count").classList.toggle("over", n > promptMax);
    if (n <= promptMax) fieldError("prompt", "");
  }

  function selectedModel() {
    return form.querySelector('input[name="model"]:checked');
  }

  function updateCost() {
    if (!selectedModel()) {
      button.disabled = true;
      return;
    }
    const left = i2a.credits() - price;
    $("cost-credits").textContent = `${price} credit${price === 1 ? "" : "s"}`;
    $("credits-after").textContent = String(Math.max(left, 0));
    $("credits-have").textContent = String(i2a.credits());
    $("credits-needed").textContent = String(Math.max(-left, 0));
    $("cost").classList.toggle("short", left < 0 || Boolean(quoteError));
    $("cost-after").hidden = left < 0;
    $("cost-short").hidden = left >= 0;
    i2a.showError($("cost-error"), quoteError);
    button.disabled = submitting || left < 0 || Boolean(quoteError);
  }

  // The selected model's parameters as the API takes them.
  function readParams() {
    const values = {};
    paramsBox.querySelectorAll("[data-param]").forEach((box) => {
      const name = box.dataset.param;
      const kind = box.dataset.kind;
      const input = box.querySelector("input:checked") || box.querySelector("input:not([type=radio])");
      if (name === "aspect_ratio" && packPlacements().length) return;
      if (kind === "bool") values[name] = input.checked;
      else if (input && kind === "int") values[name] = Number(input.value);
      else if (input) values[name] = input.value;
    });
    return values;
  }

  // Sets each control to its value in `values` where the control can take it.
  function applyParams(values) {
    paramsBox.querySelectorAll("[data-param]").forEach((box) => {
      const value = values[box.dataset.param];
      if (value === undefined) return;
      const radio = box.querySelector(`input[type=radio][value="${CSS.escape(String(value))}"]`);
      const range = box.querySelector("input[type=range]");
      const checkbox = box.querySelector("input[type=checkbox]");
      if (radio) radio.checked = true;
      if (checkbox && typeof value === "boolean") checkbox.checked = value;
      if (range && value >= Number(range.min) && value <= Number(range.max)) {
        range.value = String(value);
      }
    });
    showRangeValues();
  }

  function showRangeValues() {
    paramsBox.querySelectorAll("input[type=range]").forEach((range) => {
      range.parentElement.querySelector("output").textContent = range.value;
    });
  }

  // Swaps in the chosen model's controls, keeping the values it also takes.
  function switchModel() {
    const model = selectedModel();
    const template = form.querySelector(
      `template[data-model-params="${CSS.escape(model.value)}"]`);
    const kept = readParams();
    paramsBox.replaceChildren(template.content.cloneNode(true));
    paramsBox.dataset.model = model.value;
    applyParams(kept);
    promptMax = Number(model.dataset.promptMax);
    $("prompt-max").textContent = promptMax.toLocaleString("en");
    updateCounter();
    showPackMode();
    scheduleQuote();
  }

  function scheduleQuote() {
    clearTimeout(quoteTimer);
    $("cost").setAttribute("aria-busy", "true");
    quoteTimer = setTimeout(requestQuote, QUOTE_DELAY_MS);
  }

  // Asks the server what this form would charge; only the newest answer counts.
  async function requestQuote() {
    const model = selectedModel();
    const seq = ++quoteSeq;
    // The price depends on the model and its parameters only: the prompt is not sent.
    const body = { type: form.dataset.type, model: model.value, params: readParams() };
    const placements = packPlacements();
    let routed = "";
    try {
      let quote;
      if (placements.length) {
        const pack = await i2a.api("POST", "/api/v1/packs/quote", {
          json: { ...body, placements, variants: packVariants() },
        });
        quote = { credits: pack.credits, model: pack.jobs[0].model };
      } else {
        quote = await i2a.api("POST", "/api/v1/quotes", { json: body });
      }
      if (seq !== quoteSeq) return;
      price = quote.credits;
      quoteError = "";
      if (quote.model !== model.value) {
        const other = form.querySelector(`input[name="model"][value="${CSS.escape(quote.model)}"]`);
        const name = other ? other.dataset.label : quote.model;
        routed = `${model.dataset.label} is unavailable right now; ${name} will make this instead.`;
      }
    } catch (err) {
      if (seq !== quoteSeq) return;
      quoteError = err.message;
    }
    $("cost").removeAttribute("aria-busy");
    i2a.showError($("cost-model"), routed);
    updateCost();
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
    sourceJobId = null;
    uploading = true;
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const saved = await i2a.api("POST", "/api/v1/uploads", { body });
      uploadId = saved.id;
      showUploaded(saved);
      draft.saveUpload(saved);
    } catch (err) {
      $("upload-status").textContent = "";
      preview.hidden = true;
      $("dropzone-text").hidden = false;
      fieldError("upload", err.message);
    } finally {
      uploading = false;
    }
  }

  function showUploaded(saved) {
    $("upload-status").textContent = `Ready · ${saved.width} × ${saved.height} px. Click or drop to replace.`;
  }

  // Puts back an image uploaded earlier in this tab (on this or another image type).
  function restoreUpload(saved) {
    if (!needsImage || !saved || sourceJobId) return;
    uploadId = saved.id;
    const preview = $("image-preview");
    preview.src = `/api/v1/uploads/${encodeURIComponent(saved.id)}/file`;
    preview.hidden = false;
    $("dropzone-text").hidden = true;
    showUploaded(saved);
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

  function validate() {
    let ok = true;
    let first = null;
    if (promptLength() === 0) {
      fieldError("prompt", "Write a prompt first.");
      ok = false;
      first = prompt;
    } else if (promptLength() > promptMax) {
      fieldError("prompt", `The prompt is ${promptLength()} characters; the limit is ${promptMax}.`);
      ok = false;
      first = prompt;
    }
    if (needsImage && uploading) {
      fieldError("upload", "Wait for the image to finish uploading.");
      ok = false;
    } else if (needsImage && !uploadId && !sourceJobId) {
      fieldError("upload", "Add a reference image first.");
      ok = false;
      first = first || $("image-input");
    }
    // Keyboard and screen-reader users land on what needs fixing, not on the button.
    if (first) first.focus();
    return ok;
  }

  // Shows `job` in the Result panel and follows it to its end. `focus` moves keyboard focus
  // there (after Generate), so the next Tab continues from the result.
  function showJob(job, focus = false) {
    if (watcher) watcher.stop();
    currentJob = job;
    draft.saveJob(job.id);
    if (!i2a.TERMINAL.has(job.status)) document.dispatchEvent(new CustomEvent("i2a:job-started"));
    const progress = $("job-progress");
    $("job-empty").hidden = true;
    $("job-result").replaceChildren();
    progress.hidden = false;
    i2a.showProgress(progress, job);
    const panel = $("job-panel");
    if (focus) panel.focus({ preventScroll: true });
    // On narrow screens the panel sits below the form: bring it into view.
    panel.scrollIntoView({ block: "nearest" });
    const update = (snapshot) => {
      if (snapshot.id !== currentJob.id) return;
      i2a.showProgress(progress, snapshot);
      if (i2a.TERMINAL.has(snapshot.status)) {
        progress.hidden = true;
        i2a.showResult($("job-result"), snapshot);
        i2a.refreshCredits();
      }
    };
    showUpdate = update;
    if (i2a.TERMINAL.has(job.status)) update(job);
    else watcher = i2a.watchJob(job.id, update);
  }

  // The strip of this type's latest jobs under the result: a running job is never out of
  // sight when another starts, and any of them can be brought back into the panel.
  const RECENT_MAX = 8;
  let recentTimer = null;

  function recentItem(job) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "recent-item";
    button.dataset.jobId = job.id;
    if (currentJob && currentJob.id === job.id) button.setAttribute("aria-current", "true");
    const thumb = document.createElement("span");
    thumb.className = `recent-thumb recent-${job.status}`;
    const picture = job.result_type === "image" ? job.result_url : job.poster_url;
    if (job.status === "completed" && picture) {
      const img = document.createElement("img");
      img.src = picture;
      img.alt = "";
      img.loading = "lazy";
      thumb.append(img);
    } else {
      thumb.textContent = i2a.stageText(job);
    }
    const label = document.createElement("span");
    label.className = "recent-label";
    label.textContent = job.prompt;
    button.append(thumb, label);
    item.append(button);
    return item;
  }

  async function refreshRecent() {
    clearTimeout(recentTimer);
    try {
      const type = encodeURIComponent(form.dataset.type);
      const list = await i2a.api("GET", `/api/v1/jobs?type=${type}&limit=${RECENT_MAX}`);
      $("recent-list").replaceChildren(...list.items.map(recentItem));
      $("recent").hidden = list.items.length === 0;
      // Running jobs change stage: look again while any is unfinished.
      if (list.items.some((job) => !i2a.TERMINAL.has(job.status))) {
        recentTimer = setTimeout(refreshRecent, 3000);
      }
    } catch (err) {
      // The strip is a convenience; the next job start or end refreshes it.
    }
  }

  async function showFromRecent(event) {
    const button = event.target.closest(".recent-item");
    if (!button) return;
    try {
      showJob(await i2a.api("GET", `/api/v1/jobs/${encodeURIComponent(button.dataset.jobId)}`), true);
      refreshRecent();
    } catch (err) {
      i2a.showError($("form-error"), err.message);
    }
  }

  async function cancelCurrent() {
    const button = $("cancel-button");
    i2a.showError($("form-error"), "");
    button.disabled = true;
    try {
      const job = await i2a.cancelJob(currentJob.id);
      if (job) showUpdate(job);
    } catch (err) {
      i2a.showError($("form-error"), err.message);
    } finally {
      button.disabled = false;
    }
  }

  // "Try again" / "Retry" on an ended job: the same recipe as a new job, shown in its place.
  async function retryFromResult(event) {
    const button = event.target.closest('button[data-action="retry"]');
    if (!button || button.disabled) return;
    button.disabled = true;
    try {
      showJob(await i2a.retryJob(button.dataset.jobId), true);
      i2a.refreshCredits();
    } catch (err) {
      i2a.showError($("form-error"), err.message);
      if (err.status === 402) i2a.refreshCredits();
      button.disabled = false;
    }
  }

  async function submit(event) {
    event.preventDefault();
    i2a.showError($("form-error"), "");
    if (submitting || !validate()) return;
    const body = {
      type: form.dataset.type, prompt: prompt.value, model: selectedModel().value, params: readParams(),
    };
    if (needsImage && sourceJobId) body.source_job_id = sourceJobId;
    else if (needsImage) body.source_upload_id = uploadId;
    const placements = packPlacements();
    if (placements.length) {
      body.placements = placements;
      body.variants = packVariants();
    }
    const endpoint = placements.length ? "/api/v1/packs" : "/api/v1/jobs";
    submitting = true;
    button.disabled = true;
    button.textContent = "Starting…";
    try {
      let job;
      try {
        job = await i2a.api("POST", endpoint, {
          json: body, headers: { "Idempotency-Key": formToken },
        });
      } catch (err) {
        if (err.code !== "idempotency_key_reused") throw err;
        // The form changed since its token was used: this is a new job.
        formToken = i2a.newKey();
        job = await i2a.api("POST", endpoint, {
          json: body, headers: { "Idempotency-Key": formToken },
        });
      }
      formToken = i2a.newKey();
      if (placements.length) {
        window.location.assign(`/packs/${encodeURIComponent(job.id)}`);
        return;
      }
      showJob(job, true);
      i2a.refreshCredits();
    } catch (err) {
      if (err.field === "prompt") fieldError("prompt", err.message);
      else if (err.field === "source_upload_id" || err.field === "source_job_id") fieldError("upload", err.message);
      else i2a.showError($("form-error"), err.message);
      if (err.status === 402) i2a.refreshCredits();
    } finally {
      submitting = false;
      button.textContent = buttonLabel();
      updateCost();
    }
  }

  prompt.addEventListener("input", updateCounter);
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  $("model-picker").addEventListener("change", switchModel);
  paramsBox.addEventListener("input", showRangeValues);
  paramsBox.addEventListener("change", scheduleQuote);
  document.addEventListener("i2a:credits", updateCost);
  form.addEventListener("submit", submit);
  $("cancel-button").addEventListener("click", cancelCurrent);
  $("recent-list").addEventListener("click", showFromRecent);
  document.addEventListener("i2a:job-started", refreshRecent);
  document.addEventListener("i2a:job-ended", refreshRecent);
  $("job-result").addEventListener("click", retryFromResult);
  if (packBox) {
    packBox.addEventListener("change", () => {
      showPackMode();
      scheduleQuote();
    });
  }
  wireDropzone();
  updateCounter();
  updateCost();
  showRangeValues();
  restoreDraft();
  showPackMode();
  refreshRecent();

  // Puts back this type's draft (and the job it showed), unless the browser already restored
  // the form itself (reload, back).
  function restoreDraft() {
    const saved = draft.get();
    const navigation = performance.getEntriesByType("navigation")[0];
    const restoredByBrowser = navigation && navigation.type !== "navigate";
    if (!restoredByBrowser && saved.prompt && !prompt.value) {
      prompt.value = saved.prompt;
      updateCounter();
    }
    if (!restoredByBrowser && saved.model) {
      const radio = form.querySelector(`input[name="model"][value="${CSS.escape(saved.model)}"]:not(:disabled)`);
      if (radio) radio.checked = true;
    }
    // A reload, "back" or the draft may have chosen another model or other values than the
    // page was made with.
    const model = selectedModel();
    if (model && model.value !== paramsBox.dataset.model) switchModel();
    if (!restoredByBrowser && saved.params) {
      applyParams(saved.params);
      if (model) scheduleQuote();
    } else if (model && restoredByBrowser) {
      requestQuote();
    }
    restoreUpload(draft.upload());
    if (saved.job) {
      i2a.api("GET", `/api/v1/jobs/${encodeURIComponent(saved.job)}`)
        .then((job) => { if (!currentJob) showJob(job); })
        .catch(() => draft.save({ job: null }));
    }
  }
})();
