// One pack's page: the grid fills in live, Pick stars a placement's winner, Delete removes it.
"use strict";

(function () {
  const page = document.getElementById("pack-page");
  if (!page) return;
  const i2a = window.i2a;
  const id = encodeURIComponent(page.dataset.packId);
  const errorBox = document.getElementById("pack-error");
  const REFRESH_MS = 2000;
  let timer = null;

  // The server renders the grid (the same partial as the page), so both always agree.
  async function refreshGrid() {
    const response = await fetch(`/packs/${id}/grid`, { credentials: "same-origin" });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("#pack-grid");
    const grid = document.getElementById("pack-grid");
    const focused = document.activeElement && document.activeElement.dataset.pick;
    grid.replaceWith(fresh);
    if (focused) {
      const again = fresh.querySelector(`[data-pick="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
    const finished = fresh.querySelectorAll('.pack-cell[data-status="completed"]').length;
    document.getElementById("pack-done").textContent = String(finished);
    document.getElementById("pack-zip").hidden = finished === 0;
    // The header's status and credits change once everything has ended: render it anew.
    if (page.dataset.status === "processing" && fresh.dataset.status !== "processing") {
      window.location.reload();
    }
  }

  function poll() {
    clearTimeout(timer);
    if (document.getElementById("pack-grid").dataset.status !== "processing") return;
    timer = setTimeout(async () => {
      try { await refreshGrid(); } catch (err) { /* the next tick tries again */ }
      poll();
    }, REFRESH_MS);
  }

  page.addEventListener("click", async (event) => {
    const pick = event.target.closest("button[data-pick]");
    if (pick && !pick.disabled) {
      i2a.showError(errorBox, "");
      pick.disabled = true;
      try {
        await i2a.api("POST", `/api/v1/packs/${id}/pick`, { json: { job_id: pick.dataset.pick } });
        await refreshGrid();
      } catch (err) {
        i2a.showError(errorBox, err.message);
        pick.disabled = false;
      }
      return;
    }
    if (event.target.closest("#pack-delete")) {
      if (!window.confirm("Delete this pack with all its results? Unfinished ones are canceled. This cannot be undone.")) return;
      try {
        await i2a.api("DELETE", `/api/v1/packs/${id}`);
        window.location.assign("/packs");
      } catch (err) {
        i2a.showError(errorBox, err.message);
      }
    }
  });
  document.addEventListener("i2a:job-ended", () => refreshGrid().catch(() => {}));
  poll();
})();
