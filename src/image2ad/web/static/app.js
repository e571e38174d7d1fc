// Shared by every page: calls to our JSON API, the credit balance, live job progress.
"use strict";

(function () {
  const TERMINAL = new Set(["completed", "failed", "canceled"]);
  const STAGES = ["queued", "submitting", "waiting", "generating", "downloading", "storing"];
  const STAGE_TEXT = {
    queued: "Queued",
    submitting: "Sending to the model",
    waiting: "Waiting for the model",
    generating: "Generating",
    downloading: "Downloading the result",
    storing: "Saving to your library",
  };
  const STATUS_TEXT = { completed: "Done", failed: "Failed", canceled: "Canceled" };
  const STAGE_PERCENT = { queued: 5, submitting: 15, waiting: 25, downloading: 92, storing: 97 };
  const DEFAULT_ERRORS = {
    402: "You do not have enough credits for this.",
    404: "This no longer exists.",
    413: "That file is too large (10 MB at most).",
    415: "That file type is not supported. Use JPEG, PNG or WebP.",
    429: "Too many requests. Wait a moment and try again.",
  };

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null;
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(method, url, options = {}) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
    Object.assign(headers, options.headers || {});
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, credentials: "same-origin" });
    } catch (err) {
      throw new ApiError(0, "network", "Could not reach the server. Check your connection.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const fallback = DEFAULT_ERRORS[response.status] || `Request failed (${response.status}).`;
      throw new ApiError(response.status, error.code || "http_error", error.message || fallback,
        error.field);
    }
    return data;
  }

  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function credits() {
    const el = document.getElementById("credit-balance");
    return el ? Number(el.dataset.credits) : 0;
  }

  function setCredits(value) {
    const el = document.getElementById("credit-balance");
    if (!el || Number(el.dataset.credits) === value) return;
    el.dataset.credits = String(value);
    el.textContent = String(value);
    el.classList.remove("bump");
    void el.offsetWidth; // restart the animation
    el.classList.add("bump");
    document.dispatchEvent(new CustomEvent("i2a:credits", { detail: value }));
  }

  async function refreshCredits() {
    try {
      setCredits((await api("GET", "/api/v1/me")).credits);
    } catch (err) {
      // The balance is a convenience; the next refresh will fix it.
    }
  }

  function stageText(job) {
    if (TERMINAL.has(job.status)) return STATUS_TEXT[job.status];
    let text = STAGE_TEXT[job.stage] || "Queued";
    if (job.stage === "generating" && job.progress != null) text += ` ${job.progress} %`;
    return text;
  }

  function stagePercent(job) {
    if (job.status === "completed") return 100;
    if (job.stage === "generating") {
      return 25 + Math.round(0.65 * Math.max(0, Math.min(100, job.progress || 0)));
    }
    return STAGE_PERCENT[job.stage] || 5;
  }

  // Updates every [data-progress] widget (and stage text) inside `root` from a job snapshot.
  function showProgress(root, job) {
    root.querySelectorAll("[data-stage-text]").forEach((el) => {
      el.textContent = stageText(job);
    });
    root.querySelectorAll("[data-progress-bar]").forEach((el) => {
      el.value = stagePercent(job);
      el.textContent = `${stagePercent(job)} %`;
    });
    const current = TERMINAL.has(job.status) ? STAGES.length : STAGES.indexOf(job.stage || "queued");
    root.querySelectorAll("[data-step]").forEach((el) => {
      const index = STAGES.indexOf(el.dataset.step);
      el.classList.toggle("done", index < current);
      el.classList.toggle("current", index === current);
    });
  }

  function element(tag, attrs = {}, text = "") {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
    }
    if (text) el.textContent = text;
    return el;
  }

  // Renders a finished job: the image, the video, or what went wrong.
  function showResult(container, job) {
    container.replaceChildren();
    if (job.status === "completed") {
      const figure = element("figure");
      if (job.result_type === "video") {
        figure.append(element("video", {
          src: job.result_url, poster: job.poster_url, controls: "", playsinline: "",
          preload: "metadata", "aria-label": "Generated video",
        }));
      } else {
        figure.append(element("img", {
          src: job.result_url, alt: `Generated image: ${job.prompt.slice(0, 100)}`,
          width: job.result_width, height: job.result_height,
        }));
      }
      const caption = element("figcaption");
      if (job.result_width) caption.append(element("span", {}, `${job.result_width} × ${job.result_height}`));
      caption.append(element("a", { href: `/api/v1/jobs/${job.id}/result`, download: "" }, "Download"));
      caption.append(element("a", { href: `/jobs/${job.id}` }, "Details"));
      caption.append(element("a", { href: "/library" }, "Library"));
      figure.append(caption);
      container.append(figure);
      return;
    }
    const box = element("div", { class: "alert alert-error", role: "alert" });
    const lead = element("p");
    lead.append(element("strong", {}, job.status === "canceled" ? "This job was canceled. " : "This generation failed. "));
    lead.append(document.createTextNode((job.error && job.error.message) || ""));
    box.append(lead);
    if (job.credits_refunded > 0) {
      const unit = job.credits_refunded === 1 ? "credit was" : "credits were";
      box.append(element("p", { class: "refund" }, `Your ${job.credits_refunded} ${unit} returned.`));
    }
    container.append(box);
  }

  // Follows a job over Server-Sent Events (polling if the stream is unavailable) until it ends.
  function watchJob(id, onUpdate) {
    let done = false;
    let source = null;
    let timer = null;
    const stop = () => {
      done = true;
      if (source) source.close();
      clearTimeout(timer);
    };
    const handle = (job) => {
      if (done) return;
      if (TERMINAL.has(job.status)) stop();
      onUpdate(job);
    };
    const poll = async () => {
      if (done) return;
      try {
        handle(await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`));
      } catch (err) {
        if (err.status === 404) return stop();
      }
      if (!done) timer = setTimeout(poll, 1500);
    };
    if ("EventSource" in window) {
      source = new EventSource(`/api/v1/jobs/${encodeURIComponent(id)}/events`);
      source.addEventListener("job", (event) => handle(JSON.parse(event.data)));
      source.onerror = () => {
        // CONNECTING means the browser retries by itself; CLOSED means it gave up.
        if (!done && source.readyState === EventSource.CLOSED) poll();
      };
    } else {
      poll();
    }
    return { stop };
  }

  async function retryJob(id) {
    return api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/retry`, {
      headers: { "Idempotency-Key": newKey() },
    });
  }

  async function deleteJob(id) {
    return api("DELETE", `/api/v1/jobs/${encodeURIComponent(id)}`);
  }

  function showError(el, message) {
    if (!el) return;
    el.textContent = message || "";
    el.hidden = !message;
  }

  window.i2a = {
    ApiError, api, newKey, credits, setCredits, refreshCredits, stageText, stagePercent,
    showProgress, showResult, watchJob, retryJob, deleteJob, showError, TERMINAL,
  };
})();
