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

  // Server-side settings and wording the scripts share with the templates (see render.py).
  const textsEl = document.getElementById("page-texts");
  const TEXTS = textsEl ? JSON.parse(textsEl.textContent) : { failureAdvice: {}, failureDefault: "" };

  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

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

  // A waiting job's place in the shared queue (labels.queue_text says the same).
  function queueText(position, startsAt) {
    const seconds = (Date.parse(startsAt) - Date.now()) / 1000;
    const place = position === 1 ? "next in line" : `${position - 1} ahead`;
    let starts = "in a few seconds";
    if (seconds >= 90) starts = `in about ${Math.round(seconds / 60)} min`;
    else if (seconds >= 5) starts = `in about ${Math.round(seconds)} s`;
    return `Queued · ${place} · starts ${starts}`;
  }

  function stageText(job) {
    if (TERMINAL.has(job.status)) return STATUS_TEXT[job.status];
    if (job.queue_position != null && job.estimated_start_at) {
      return queueText(job.queue_position, job.estimated_start_at);
    }
    let text = STAGE_TEXT[job.stage] || "Queued";
    if (job.stage === "generating" && job.progress != null) text += ` ${job.progress} %`;
    return text;
  }

  // The bar shows only what is measured (labels.stage_percent): the model's percentage while
  // it generates, full once generation is done, otherwise an indeterminate bar (null).
  function stagePercent(job) {
    if (job.status === "completed" || job.stage === "downloading" || job.stage === "storing") return 100;
    if (job.stage === "generating" && job.progress != null) {
      return Math.max(0, Math.min(100, job.progress));
    }
    return null;
  }

  function elapsedText(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - since) / 1000));
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
  }

  // Running widgets show how long their job has been going.
  setInterval(() => {
    document.querySelectorAll("[data-elapsed][data-since]").forEach((el) => {
      if (el.closest("[hidden]")) return;
      el.textContent = elapsedText(Date.parse(el.dataset.since));
    });
  }, 1000);

  // Updates every [data-progress] widget (and stage text) inside `root` from a job snapshot.
  function showProgress(root, job) {
    root.querySelectorAll("[data-stage-text]").forEach((el) => {
      el.textContent = stageText(job);
    });
    const percent = stagePercent(job);
    root.querySelectorAll("[data-progress-bar]").forEach((el) => {
      if (percent === null) {
        el.removeAttribute("value");
        el.textContent = "";
      } else {
        el.value = percent;
        el.textContent = `${percent} %`;
      }
    });
    root.querySelectorAll("[data-elapsed]").forEach((el) => {
      if (job.created_at && el.dataset.since !== job.created_at) {
        el.dataset.since = job.created_at;
        el.textContent = elapsedText(Date.parse(job.created_at));
      }
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
      if (job.result_type === "image") caption.append(...carryForward(job.id));
      caption.append(element("a", { href: "/library" }, "Library"));
      figure.append(caption);
      container.append(figure);
      return;
    }
    container.append(endedBox(job));
  }

  // "Use as reference" and "Animate": a finished image starts the next job, no re-upload.
  function carryForward(jobId) {
    const id = encodeURIComponent(jobId);
    return [
      element("a", { href: `/generate/image-to-image?source_job=${id}` }, "Use as reference"),
      element("a", { href: `/generate/image-to-video?source_job=${id}` }, "Animate"),
    ];
  }

  // Star buttons (templates/_star.html) anywhere on a page toggle the job's favourite mark.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest('button[data-action="star"]');
    if (!button || button.disabled) return;
    event.stopImmediatePropagation();
    const on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    try {
      await api(on ? "PUT" : "DELETE", `/api/v1/jobs/${encodeURIComponent(button.dataset.jobId)}/star`);
      // The same job's star may show twice (a card's row and its More menu).
      const selector = `button[data-action="star"][data-job-id="${CSS.escape(button.dataset.jobId)}"]`;
      document.querySelectorAll(selector).forEach((star) => {
        star.setAttribute("aria-pressed", String(on));
        star.querySelector("[data-star-glyph]").textContent = on ? "★" : "☆";
      });
    } catch (err) {
      window.alert(err.message);
    } finally {
      button.disabled = false;
    }
  }, true);

  function failureAdvice(code) {
    return (code && TEXTS.failureAdvice[code]) || TEXTS.failureDefault;
  }

  // The one sentence about an ended job's credit (labels.refund_line on the server).
  function refundLine(job) {
    if (job.credits_refunded > 0) {
      return `Your ${plural(job.credits_refunded, "credit")} ${job.credits_refunded === 1 ? "was" : "were"} returned.`;
    }
    if (job.status === "canceled" && job.credits_charged > 0) {
      return `Its ${plural(job.credits_charged, "credit")} ${job.credits_charged === 1 ? "was" : "were"} kept: the model had already started it.`;
    }
    return "";
  }

  // A failed or canceled job, as templates/_job_ended.html renders it.
  function endedBox(job) {
    const failed = job.status === "failed";
    const box = element("div", { class: `alert ${failed ? "alert-error" : "alert-neutral"}`, role: "alert" });
    const lead = element("p");
    lead.append(element("strong", {}, failed ? "This generation failed." : "This job was canceled."));
    if (failed) lead.append(document.createTextNode(` ${failureAdvice(job.error && job.error.code)}`));
    box.append(lead);
    const refund = refundLine(job);
    if (refund) box.append(element("p", { class: "refund" }, refund));
    if (failed && job.error) {
      const details = element("details");
      details.append(element("summary", {}, "Details"));
      const raw = element("p");
      raw.append(element("code", {}, job.error.code), document.createTextNode(` ${job.error.message}`));
      details.append(raw);
      box.append(details);
    }
    const actions = element("p", { class: "alert-actions" });
    actions.append(element("button", {
      type: "button", class: "button", "data-action": "retry", "data-job-id": job.id,
      "data-cost": String(job.credits_charged),
    }, failed ? "Try again" : "Retry"));
    box.append(actions);
    guardCredits(box);
    return box;
  }

  // Buttons that spend credits (data-cost) are disabled, saying why, while the balance is short.
  function guardCredits(root = document) {
    const have = credits();
    root.querySelectorAll("button[data-cost]").forEach((button) => {
      const short = have < Number(button.dataset.cost);
      button.disabled = short;
      if (short) button.title = `Needs ${plural(Number(button.dataset.cost), "credit")}; you have ${have}.`;
      else button.removeAttribute("title");
    });
  }

  // Asks first, with the refund rule that applies to this job right now, then cancels.
  // Returns the canceled job, or null if the person changed their mind.
  async function cancelJob(id) {
    const job = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
    if (TERMINAL.has(job.status)) return job;
    const credit = plural(job.credits_charged, "credit");
    const rule = job.task_id && TEXTS.cancelKeeps
      ? `The model has already started it, so its ${credit} will not come back.`
      : `Your ${credit} will come back.`;
    if (!window.confirm(`Cancel this job? ${rule}`)) return null;
    const canceled = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/cancel`);
    refreshCredits();
    return canceled;
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

  // Drafts (generate.js) belong to whoever is signed in: logging out forgets them.
  document.addEventListener("submit", (event) => {
    if (event.target.matches('form[action="/logout"]')) {
      try {
        sessionStorage.clear();
      } catch (err) {
        // Nothing stored, nothing to forget.
      }
    }
  });

  // Forms that undo something (revoke a key) ask first: <form data-confirm="…">.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("i2a:credits", () => guardCredits());
  // Times arrive in UTC (kept in the title); people read them in their own time zone.
  const LOCAL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localizeTimes(root = document) {
    root.querySelectorAll("time[data-local]").forEach((el) => {
      const moment = new Date(el.dateTime);
      if (!Number.isNaN(moment.getTime())) el.textContent = LOCAL_TIME.format(moment);
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    guardCredits();
    localizeTimes();
  });

  function showError(el, message) {
    if (!el) return;
    el.textContent = message || "";
    el.hidden = !message;
  }

  window.i2a = {
    ApiError, api, newKey, credits, setCredits, refreshCredits, stageText, stagePercent,
    showProgress, showResult, watchJob, retryJob, deleteJob, cancelJob, guardCredits, showError,
    carryForward, element,
    localizeTimes, TERMINAL, TEXTS,
  };
})();
