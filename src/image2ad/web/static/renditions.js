// A completed image's renditions (templates/_renditions.html): render one with the brand kit,
// list the earlier ones with download and delete, and outline the placement's safe zone.
"use strict";

(function () {
  const root = document.getElementById("renditions");
  if (!root) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const jobId = root.dataset.jobId;
  const base = `/api/v1/jobs/${encodeURIComponent(jobId)}/renditions`;
  let shown = null;

  function placementLabel(id) {
    const option = $("rendition-placement").querySelector(`option[value="${CSS.escape(id || "")}"]`);
    return option ? option.textContent : id || "";
  }

  // The safe zone of the placement chosen in the form, as insets of the preview.
  function drawSafeZone() {
    const zone = $("safe-zone");
    const note = $("safe-zone-note");
    const option = $("rendition-placement").selectedOptions[0];
    zone.hidden = note.hidden = !$("safe-zones").checked || !option;
    if (zone.hidden) return;
    zone.style.top = `${Number(option.dataset.safeTop) * 100}%`;
    zone.style.right = `${Number(option.dataset.safeRight) * 100}%`;
    zone.style.bottom = `${Number(option.dataset.safeBottom) * 100}%`;
    zone.style.left = `${Number(option.dataset.safeLeft) * 100}%`;
    note.textContent = `Dashed line: the ${option.textContent} safe zone. Keep words and logos inside it: the platform may cover or crop the shaded edges.`;
  }

  function describe(rendition) {
    const words = [rendition.headline, rendition.cta].filter(Boolean).join(" · ");
    return words || (rendition.logo ? "Logo only" : "");
  }

  function fileName(rendition) {
    return `rendition-${rendition.placement || "image"}-${rendition.id.slice(0, 8)}.${rendition.content_type === "image/jpeg" ? "jpg" : "png"}`;
  }

  function show(rendition) {
    shown = rendition;
    if (placementLabel(rendition.placement) !== rendition.placement) {
      $("rendition-placement").value = rendition.placement;
    }
    const img = $("rendition-image");
    img.src = rendition.url;
    img.width = rendition.width;
    img.height = rendition.height;
    img.alt = `Branded rendition for ${placementLabel(rendition.placement)}: ${describe(rendition)}`;
    $("rendition-preview").hidden = false;
    $("rendition-empty").hidden = true;
    const caption = $("rendition-caption");
    caption.replaceChildren(
      i2a.element("span", {}, `${placementLabel(rendition.placement)} · ${rendition.width} × ${rendition.height}`),
      i2a.element("a", { href: rendition.url, download: fileName(rendition) }, "Download"),
    );
    root.querySelectorAll(".rendition-item").forEach((item) => {
      item.classList.toggle("current", item.dataset.id === rendition.id);
    });
    drawSafeZone();
  }

  function item(rendition) {
    const li = i2a.element("li", { class: "rendition-item", "data-id": rendition.id });
    const open = i2a.element("button", { type: "button", class: "rendition-thumb", "data-show": rendition.id });
    open.append(i2a.element("img", { src: rendition.url, alt: "", width: rendition.width, height: rendition.height }));
    open.append(i2a.element("span", { class: "visually-hidden" }, `Show the ${placementLabel(rendition.placement)} rendition`));
    const meta = i2a.element("div", { class: "rendition-meta" });
    meta.append(i2a.element("strong", {}, placementLabel(rendition.placement)));
    meta.append(i2a.element("span", { class: "rendition-words" }, describe(rendition)));
    const time = i2a.element("time", { datetime: rendition.created_at, "data-local": "" }, rendition.created_at);
    meta.append(time);
    const actions = i2a.element("div", { class: "rendition-item-actions" });
    actions.append(i2a.element("a", { class: "button small", href: rendition.url, download: fileName(rendition) }, "Download"));
    const remove = i2a.element("button", { type: "button", class: "button small danger", "data-delete": rendition.id }, "Delete");
    actions.append(remove);
    li.append(open, meta, actions);
    li.renditionData = rendition;
    return li;
  }

  async function load() {
    try {
      const list = await i2a.api("GET", base);
      $("rendition-list").replaceChildren(...list.items.map(item));
      i2a.localizeTimes(root);
      if (list.items.length) show(list.items[0]);
    } catch (err) {
      i2a.showError($("rendition-error"), err.message);
    }
    try {
      const kit = await i2a.api("GET", "/api/v1/brand");
      if (kit.headline) $("rendition-headline").placeholder = kit.headline;
      if (kit.cta) $("rendition-cta").placeholder = kit.cta;
      const logo = $("rendition-logo");
      logo.disabled = !kit.logo_upload_id;
      logo.checked = Boolean(kit.logo_upload_id);
      if (!kit.logo_upload_id) logo.parentElement.title = "Add a logo on the Brand page";
    } catch (err) {
      // The placeholders are a convenience; rendering still uses the kit on the server.
    }
  }

  $("rendition-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("rendition-render");
    i2a.showError($("rendition-error"), "");
    button.disabled = true;
    button.textContent = "Rendering…";
    const body = { placement: $("rendition-placement").value };
    const headline = $("rendition-headline").value.trim();
    const cta = $("rendition-cta").value.trim();
    if (headline) body.headline = headline;
    if (cta) body.cta = cta;
    if (!$("rendition-logo").disabled) body.logo = $("rendition-logo").checked;
    try {
      const rendition = await i2a.api("POST", base, { json: body });
      $("rendition-list").prepend(item(rendition));
      i2a.localizeTimes(root);
      show(rendition);
    } catch (err) {
      i2a.showError($("rendition-error"), err.message);
    } finally {
      button.disabled = false;
      button.textContent = "Render";
    }
  });

  $("rendition-list").addEventListener("click", async (event) => {
    const showButton = event.target.closest("[data-show]");
    if (showButton) {
      show(showButton.closest(".rendition-item").renditionData);
      return;
    }
    const remove = event.target.closest("[data-delete]");
    if (!remove || !window.confirm("Delete this rendition? The original image stays.")) return;
    remove.disabled = true;
    try {
      await i2a.api("DELETE", `${base}/${encodeURIComponent(remove.dataset.delete)}`);
      remove.closest(".rendition-item").remove();
      if (shown && shown.id === remove.dataset.delete) {
        const next = $("rendition-list").querySelector(".rendition-item");
        if (next) show(next.renditionData);
        else {
          shown = null;
          $("rendition-preview").hidden = true;
          $("rendition-empty").hidden = false;
        }
      }
    } catch (err) {
      remove.disabled = false;
      i2a.showError($("rendition-error"), err.message);
    }
  });

  $("safe-zones").addEventListener("change", drawSafeZone);
  $("rendition-placement").addEventListener("change", drawSafeZone);
  load();
})();
