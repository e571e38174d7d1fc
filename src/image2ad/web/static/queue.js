// The queue drawer: the user's unfinished jobs on every page, live over one event stream per
// tab (/api/v1/events), with Cancel per job and for everything not yet sent to the model.
"use strict";

(function () {
  const drawer = document.getElementById("queue-drawer");
  const toggle = document.getElementById("queue-toggle");
  if (!drawer || !toggle) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const element = i2a.element;
  const list = $("queue-list");
  let jobs = [];
  let source = null;

  function item(job) {
    const li = element("li", { class: "queue-item", "data-job-id": job.id });
    const link = element("a", { href: `/jobs/${encodeURIComponent(job.id)}`, class: "queue-prompt" }, job.prompt);
    const progress = element("div", { class: "progress", "data-progress": "" });
    const stage = element("p", { class: "progress-stage" });
    stage.append(element("span", { "data-stage-text": "" }), element("span", { class: "elapsed muted", "data-elapsed": "" }));
    progress.append(stage, element("progress", { max: "100", "data-progress-bar": "", "aria-label": "Progress" }));
    const cancel = element("button", {
      type: "button", class: "button small", "data-action": "cancel", "data-job-id": job.id,
    }, "Cancel");
    cancel.append(element("span", { class: "visually-hidden" }, ` ${job.prompt.slice(0, 60)}`));
    li.append(link, progress, cancel);
    return li;
  }

  function render() {
    const known = new Map(Array.from(list.children, (li) => [li.dataset.jobId, li]));
    const rows = jobs.map((job) => {
      const li = known.get(job.id) || item(job);
      i2a.showProgress(li, job);
      return li;
    });
    list.replaceChildren(...rows);
    $("queue-empty").hidden = jobs.length > 0;
    $("queue-count").hidden = jobs.length === 0;
    $("queue-count-n").textContent = String(jobs.length);
    const cancelQueuedButton = $("queue-cancel-queued");
    const hadFocus = drawer.contains(document.activeElement);
    cancelQueuedButton.hidden = !jobs.some((job) => !job.task_id);
    // A removed or hidden button must not drop keyboard focus out of the drawer.
    const lostFocus = hadFocus && !drawer.contains(document.activeElement);
    const onHidden = document.activeElement === cancelQueuedButton && cancelQueuedButton.hidden;
    if (lostFocus || onHidden) $("queue-title").focus();
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/api/v1/events");
    source.addEventListener("queue", (event) => {
      const before = jobs.map((job) => job.id).join();
      jobs = JSON.parse(event.data).items;
      render();
      // Jobs started elsewhere (another tab, the API) were charged there: show the balance.
      if (jobs.map((job) => job.id).join() !== before) i2a.refreshCredits();
    });
    source.addEventListener("job", (event) => {
      // A job ended: its page, card or generator may want the final word.
      document.dispatchEvent(new CustomEvent("i2a:job-ended", { detail: JSON.parse(event.data) }));
      i2a.refreshCredits();
    });
    // The server closes the stream when nothing is unfinished; EventSource comes back by itself
    // after the interval the server set, and at once when this tab starts a job.
  }

  function open() {
    drawer.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    $("queue-title").focus();
  }

  function close() {
    drawer.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  }

  async function cancelQueued() {
    const queued = jobs.filter((job) => !job.task_id);
    const credits = queued.reduce((sum, job) => sum + job.credits_charged, 0);
    const message = `Cancel ${queued.length} queued job${queued.length === 1 ? "" : "s"}? `
      + `${credits} credit${credits === 1 ? "" : "s"} come${credits === 1 ? "s" : ""} back.`;
    if (!window.confirm(message)) return;
    for (const job of queued) {
      try {
        await i2a.api("POST", `/api/v1/jobs/${encodeURIComponent(job.id)}/cancel`);
      } catch (err) {
        // One that started or ended meanwhile is not an error worth stopping for.
        if (err.status !== 409) throw err;
      }
    }
    i2a.refreshCredits();
  }

  drawer.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || button.disabled) return;
    if (button.id === "queue-close") return close();
    i2a.showError($("queue-error"), "");
    button.disabled = true;
    try {
      if (button.id === "queue-cancel-queued") await cancelQueued();
      else if (button.dataset.action === "cancel") await i2a.cancelJob(button.dataset.jobId);
    } catch (err) {
      i2a.showError($("queue-error"), err.message);
    } finally {
      button.disabled = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !drawer.hidden) close();
  });
  toggle.addEventListener("click", () => (drawer.hidden ? open() : close()));
  document.addEventListener("i2a:job-started", connect);
  connect();
})();
