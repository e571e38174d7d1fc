// One job's page: live progress while it runs, then the page shows the finished job.
"use strict";

(function () {
  const detail = document.getElementById("job-detail");
  if (!detail) return;
  const i2a = window.i2a;
  const id = detail.dataset.jobId;

  if (!i2a.TERMINAL.has(detail.dataset.status)) {
    const progress = document.getElementById("job-progress");
    i2a.watchJob(id, (job) => {
      i2a.showProgress(progress, job);
      // Re-render on the server: the recipe's times and credits change at the end too.
      if (i2a.TERMINAL.has(job.status)) window.location.reload();
    });
  }

  // Copy buttons copy the text of the element they name (the recipe's SHA-256).
  detail.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch (err) {
        window.getSelection().selectAllChildren(source);
        button.textContent = "Press Ctrl+C";
      }
    });
  });

  detail.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    const errorBox = document.getElementById("job-error");
    i2a.showError(errorBox, "");
    button.disabled = true;
    try {
      if (button.dataset.action === "retry") {
        const job = await i2a.retryJob(id);
        window.location.assign(`/jobs/${encodeURIComponent(job.id)}`);
      } else if (button.dataset.action === "cancel") {
        // The page shows the canceled job once its stream reports the end (or now).
        if (await i2a.cancelJob(id)) window.location.reload();
      } else if (window.confirm("Delete this job and its files? This cannot be undone.")) {
        await i2a.deleteJob(id);
        window.location.assign("/library");
      }
    } catch (err) {
      i2a.showError(errorBox, err.message);
    } finally {
      button.disabled = false;
      i2a.guardCredits(detail);
    }
  });
})();
