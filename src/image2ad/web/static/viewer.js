// The Library's viewer: a finished result large, ← and → (or the buttons) through the finished
// results on the page, Escape to close; and two chosen results side by side (Compare).
"use strict";

(function () {
  const dialog = document.getElementById("viewer");
  const results = document.getElementById("library-results");
  if (!dialog || !results || typeof dialog.showModal !== "function") return;
  const stage = document.getElementById("viewer-stage");
  let cards = [];
  let index = 0;

  const finishedCards = () => Array.from(results.querySelectorAll(".job-card[data-result-url]"));

  function media(card) {
    const figure = document.createElement("figure");
    let el;
    if (card.dataset.resultType === "video") {
      el = document.createElement("video");
      el.controls = true;
      el.playsInline = true;
      el.preload = "metadata";
      if (card.dataset.posterUrl) el.poster = card.dataset.posterUrl;
    } else {
      el = document.createElement("img");
      el.alt = `Generated image: ${card.querySelector(".job-prompt").title.slice(0, 100)}`;
    }
    el.src = card.dataset.resultUrl;
    const caption = document.createElement("figcaption");
    const open = document.createElement("a");
    open.href = `/jobs/${encodeURIComponent(card.dataset.jobId)}`;
    open.textContent = "Open job";
    const download = document.createElement("a");
    download.href = `/api/v1/jobs/${encodeURIComponent(card.dataset.jobId)}/result`;
    download.download = card.dataset.download || "";
    download.textContent = "Download";
    caption.append(open, " · ", download);
    if (card.dataset.resultType === "image") {
      for (const link of window.i2a.carryForward(card.dataset.jobId)) caption.append(" · ", link);
    }
    figure.append(el, caption);
    return figure;
  }

  function show(shown, title, position) {
    stage.replaceChildren(...shown.map(media));
    document.getElementById("viewer-title").textContent = title;
    document.getElementById("viewer-position").textContent = position;
    const single = shown.length === 1 && cards.length > 1;
    dialog.querySelectorAll('[data-viewer="prev"], [data-viewer="next"]').forEach((b) => { b.hidden = !single; });
    if (!dialog.open) dialog.showModal();
  }

  function showAt(i) {
    index = (i + cards.length) % cards.length;
    const card = cards[index];
    show([card], card.querySelector(".job-prompt").title, `${index + 1} of ${cards.length}`);
  }

  results.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-view]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (results.classList.contains("selecting")) return;
    event.preventDefault();
    cards = finishedCards();
    showAt(cards.indexOf(link.closest(".job-card")));
  });
  document.addEventListener("i2a:compare", (event) => {
    cards = event.detail;
    show(cards, "Compare", "");
  });
  dialog.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-viewer]");
    if (event.target === dialog || (button && button.dataset.viewer === "close")) dialog.close();
    else if (button && button.dataset.viewer === "prev") showAt(index - 1);
    else if (button && button.dataset.viewer === "next") showAt(index + 1);
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.target.closest("video")) return;
    const single = stage.children.length === 1 && cards.length > 1;
    if (single && event.key === "ArrowRight") showAt(index + 1);
    else if (single && event.key === "ArrowLeft") showAt(index - 1);
  });
  // Nothing keeps playing behind a closed viewer.
  dialog.addEventListener("close", () => stage.replaceChildren());
})();
