// The Library as a gallery: thumbnail size, filters that apply as you type, and selecting
// cards to compare two, or star, download or delete several.
"use strict";

(function () {
  const results = document.getElementById("library-results");
  const filters = document.querySelector("form.filters");
  if (!results || !filters) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const FILTER_DELAY_MS = 300;
  let filterTimer = null;
  let filterSeq = 0;

  // --- thumbnail size, remembered in this browser ---------------------------------------
  const size = $("thumb-size");
  function applySize() {
    results.style.setProperty("--thumb", `${size.value}px`);
  }
  try {
    const saved = localStorage.getItem("i2a:thumb");
    if (saved && Number(saved) >= Number(size.min) && Number(saved) <= Number(size.max)) size.value = saved;
  } catch (err) {
    // No storage: the default size.
  }
  size.addEventListener("input", () => {
    applySize();
    try {
      localStorage.setItem("i2a:thumb", size.value);
    } catch (err) {
      // Not remembered; it still applies.
    }
  });
  applySize();

  // --- filters that apply as you type -----------------------------------------------------
  $("filter-submit").hidden = true;

  async function applyFilters() {
    const params = new URLSearchParams(new FormData(filters));
    for (const [name, value] of Array.from(params)) if (!value) params.delete(name);
    const url = `/library${params.toString() ? `?${params}` : ""}`;
    const seq = ++filterSeq;
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(`Could not load the results (${response.status}).`);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      if (seq !== filterSeq) return;
      results.replaceChildren(...page.getElementById("library-results").childNodes);
      $("result-count").textContent = page.getElementById("result-count").textContent;
      history.replaceState(null, "", url);
      i2a.guardCredits(results);
      i2a.localizeTimes(results);
      updatePicked();
      document.dispatchEvent(new CustomEvent("i2a:results"));
    } catch (err) {
      i2a.showError($("library-error"), err.message);
    } finally {
      if (seq === filterSeq) results.removeAttribute("aria-busy");
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(filterTimer);
    applyFilters();
  });
  filters.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(applyFilters, FILTER_DELAY_MS);
  });

  // --- selecting cards ---------------------------------------------------------------------
  const toggle = $("select-toggle");
  const bulk = $("bulk-bar");
  const picked = () => Array.from(results.querySelectorAll("input[data-pick]:checked"));

  function updatePicked() {
    const boxes = picked();
    results.querySelectorAll(".job-card").forEach((card) => {
      const box = card.querySelector("input[data-pick]");
      card.classList.toggle("picked", Boolean(box && box.checked));
    });
    $("picked-count").textContent = `${boxes.length} selected`;
    const finished = boxes.filter((box) => box.closest(".job-card").dataset.resultUrl);
    bulk.querySelector('[data-bulk="compare"]').disabled = !(boxes.length === 2 && finished.length === 2);
    bulk.querySelector('[data-bulk="delete"]').disabled = boxes.length === 0;
    bulk.querySelector('[data-bulk="star"]').disabled = boxes.length === 0;
    bulk.querySelector('[data-bulk="download"]').disabled = finished.length === 0;
  }

  function setSelecting(on) {
    results.classList.toggle("selecting", on);
    toggle.setAttribute("aria-pressed", String(on));
    bulk.hidden = !on;
    if (!on) results.querySelectorAll("input[data-pick]").forEach((box) => { box.checked = false; });
    updatePicked();
  }

  async function deletePicked() {
    const boxes = picked();
    const n = boxes.length;
    if (!window.confirm(`Delete ${n} job${n === 1 ? "" : "s"} and their files? This cannot be undone.`)) return;
    for (const box of boxes) {
      await i2a.deleteJob(box.value);
      box.closest(".job-card").remove();
    }
    i2a.refreshCredits();
    updatePicked();
  }

  async function starPicked() {
    for (const box of picked()) {
      await i2a.api("PUT", `/api/v1/jobs/${encodeURIComponent(box.value)}/star`);
      box.closest(".job-card").querySelectorAll('button[data-action="star"]').forEach((star) => {
        star.setAttribute("aria-pressed", "true");
        star.querySelector("[data-star-glyph]").textContent = "★";
      });
    }
  }

  // One archive of the chosen finished results, streamed by the server (GET /results.zip).
  function downloadPicked() {
    const ids = picked()
      .filter((box) => box.closest(".job-card").dataset.resultUrl)
      .map((box) => box.value);
    const link = document.createElement("a");
    link.href = `/api/v1/results.zip?ids=${ids.map(encodeURIComponent).join(",")}`;
    link.download = "";
    document.body.append(link);
    link.click();
    link.remove();
  }

  toggle.addEventListener("click", () => setSelecting(toggle.getAttribute("aria-pressed") !== "true"));
  // While selecting, a click on a result picks it instead of opening it.
  results.addEventListener("click", (event) => {
    const thumb = event.target.closest(".thumb");
    if (!thumb || !results.classList.contains("selecting")) return;
    event.preventDefault();
    const box = thumb.closest(".job-card").querySelector("input[data-pick]");
    box.checked = !box.checked;
    updatePicked();
  });
  results.addEventListener("change", (event) => {
    if (event.target.matches("input[data-pick]")) updatePicked();
  });
  bulk.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-bulk]");
    if (!button || button.disabled) return;
    i2a.showError($("library-error"), "");
    try {
      if (button.dataset.bulk === "done") setSelecting(false);
      else if (button.dataset.bulk === "delete") await deletePicked();
      else if (button.dataset.bulk === "star") await starPicked();
      else if (button.dataset.bulk === "download") downloadPicked();
      else if (button.dataset.bulk === "compare") {
        const cards = picked().map((box) => box.closest(".job-card"));
        document.dispatchEvent(new CustomEvent("i2a:compare", { detail: cards }));
      }
    } catch (err) {
      i2a.showError($("library-error"), err.message);
    }
  });
})();
