// The Library: make another, retry, cancel and delete from a card, and keep unfinished cards current.
// Unfinished jobs are polled (two list requests every few seconds) rather than streamed: one
// EventSource per card would use up the browser's six connections per host.
"use strict";

(function () {
  const results = document.getElementById("library-results");
  if (!results) return;
  // The grid is swapped when the filters change (gallery.js): always look it up.
  const grid = () => document.getElementById("job-grid");
  const i2a = window.i2a;
  const POLL_MS = 3000;
  const ACTIVE = ["pending", "processing"];
  let timer = null;

  const activeCards = () =>
    Array.from(grid().querySelectorAll(".job-card")).filter((c) => ACTIVE.includes(c.dataset.status));

  async function cardFor(id) {
    const response = await fetch(`/jobs/${encodeURIComponent(id)}/card`, { credentials: "same-origin" });
    if (!response.ok) return null;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    return template.content.firstElementChild;
  }

  async function replaceCard(card) {
    const fresh = await cardFor(card.dataset.jobId);
    if (fresh) {
      card.replaceWith(fresh);
      i2a.guardCredits(fresh);
      i2a.localizeTimes(fresh);
    } else {
      card.remove();
    }
  }

  async function poll() {
    timer = null;
    const cards = activeCards();
    if (cards.length === 0) return;
    if (!document.hidden) {
      try {
        const lists = await Promise.all(
          ACTIVE.map((s) => i2a.api("GET", `/api/v1/jobs?status=${s}&limit=100`)));
        const running = new Map();
        lists.forEach((list) => list.items.forEach((job) => running.set(job.id, job)));
        let finished = false;
        for (const card of cards) {
          const job = running.get(card.dataset.jobId);
          if (job) {
            i2a.showProgress(card, job);
          } else {
            finished = true;
            await replaceCard(card);
          }
        }
        if (finished) i2a.refreshCredits();
      } catch (err) {
        // A missed poll is harmless; the next one catches up.
      }
    }
    schedule();
  }

  function schedule() {
    if (timer === null && activeCards().length > 0) timer = setTimeout(poll, POLL_MS);
  }

  async function regenerate(button) {
    const job = await i2a.retryJob(button.dataset.jobId);
    const card = await cardFor(job.id);
    if (card) {
      card.classList.add("fresh");
      i2a.localizeTimes(card);
      grid().prepend(card);
      const empty = document.getElementById("job-grid-empty");
      if (empty) empty.hidden = true;
    }
    i2a.refreshCredits();
    document.dispatchEvent(new CustomEvent("i2a:job-started"));
    schedule();
  }

  async function cancel(button) {
    const card = button.closest(".job-card");
    if ((await i2a.cancelJob(button.dataset.jobId)) && card) await replaceCard(card);
  }

  async function remove(button) {
    if (!window.confirm("Delete this job and its files? This cannot be undone.")) return;
    await i2a.deleteJob(button.dataset.jobId);
    const card = button.closest(".job-card");
    if (card) card.remove();
    i2a.refreshCredits();
  }

  results.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    const errorBox = document.getElementById("library-error");
    i2a.showError(errorBox, "");
    button.disabled = true;
    try {
      if (button.dataset.action === "retry") await regenerate(button);
      else if (button.dataset.action === "cancel") await cancel(button);
      else if (button.dataset.action === "delete") await remove(button);
    } catch (err) {
      i2a.showError(errorBox, err.message);
    } finally {
      const menu = button.closest("[popover]");
      if (menu && menu.matches(":popover-open")) menu.hidePopover();
      if (button.isConnected) button.disabled = false;
      i2a.guardCredits(results);
    }
  });

  // New results from the filters may hold unfinished jobs to follow.
  document.addEventListener("i2a:results", schedule);
  schedule();
})();
