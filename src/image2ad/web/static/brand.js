// The Brand page: logo upload with preview, colour pickers, a live font sample; saves the kit
// with PUT /api/v1/brand.
"use strict";

(function () {
  const form = document.getElementById("brand-form");
  if (!form) return;
  const i2a = window.i2a;
  const $ = (id) => document.getElementById(id);
  const MAX_COLOURS = 6;
  let logoId = form.dataset.logoId || null;
  let uploading = false;

  // The bundled fonts, loaded on demand so the sample shows the face renditions will use.
  const loaded = new Map();
  async function showFont(fontId) {
    const option = $("font").selectedOptions[0];
    $("font-licence").textContent = option ? `${option.textContent}: ${option.dataset.licence}` : "";
    const family = `brand-${fontId}`;
    if (!loaded.has(fontId)) {
      const face = new FontFace(family, `url(/brand/fonts/${encodeURIComponent(fontId)}.ttf)`);
      loaded.set(fontId, face.load().then((ready) => document.fonts.add(ready)));
    }
    try {
      await loaded.get(fontId);
    } catch (err) {
      loaded.delete(fontId);
      return;
    }
    for (const el of [$("font-sample"), $("cta-sample")]) el.style.fontFamily = `"${family}", sans-serif`;
  }

  function colours() {
    return Array.from($("colour-list").querySelectorAll('input[type="color"]'), (input) => input.value.toUpperCase());
  }

  function showColours() {
    const rows = $("colour-list").querySelectorAll(".colour-row");
    rows.forEach((row, n) => {
      const input = row.querySelector('input[type="color"]');
      input.setAttribute("aria-label", `Colour ${n + 1}`);
      row.querySelector(".colour-code").textContent = input.value.toUpperCase();
      row.querySelector(".visually-hidden").textContent = ` colour ${n + 1}`;
    });
    $("colour-add").disabled = rows.length >= MAX_COLOURS;
    const first = colours()[0] || "#4F46E5";
    const sample = $("cta-sample");
    sample.style.backgroundColor = first;
    sample.style.color = readableOn(first);
  }

  // White or near-black, whichever contrasts more with the colour (as the compositor picks).
  function readableOn(hex) {
    const linear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = [1, 3, 5].map((i) => linear(parseInt(hex.slice(i, i + 2), 16) / 255));
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    const ink = 0.0056; // luminance of #111111
    return (1.05 / (lum + 0.05)) >= ((lum + 0.05) / (ink + 0.05)) ? "#ffffff" : "#111111";
  }

  function addColour(value) {
    const row = i2a.element("li", { class: "colour-row" });
    const input = i2a.element("input", { type: "color", value });
    const code = i2a.element("code", { class: "colour-code" });
    const remove = i2a.element("button", { type: "button", class: "button small danger", "data-remove-colour": "" }, "Remove");
    remove.append(i2a.element("span", { class: "visually-hidden" }));
    row.append(input, code, remove);
    $("colour-list").append(row);
    showColours();
    input.focus();
  }

  $("colour-add").addEventListener("click", () => addColour(colours().length ? "#111111" : "#4f46e5"));
  $("colour-list").addEventListener("input", showColours);
  $("colour-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-colour]");
    if (!button) return;
    button.closest(".colour-row").remove();
    showColours();
    $("colour-add").focus();
  });

  $("font").addEventListener("change", () => showFont($("font").value));
  $("headline").addEventListener("input", () => {
    $("font-sample").textContent = $("headline").value.trim() || "Summer sale: half price this weekend";
  });
  $("cta").addEventListener("input", () => {
    $("cta-sample").textContent = $("cta").value.trim() || "Shop now";
  });

  function showLogo(src) {
    const preview = $("logo-preview");
    if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
    preview.hidden = !src;
    if (src) preview.src = src;
    else preview.removeAttribute("src");
    $("logo-text").hidden = Boolean(src);
    $("logo-remove").hidden = !src;
  }

  async function uploadLogo(file) {
    i2a.showError($("logo-error"), "");
    if (!file) return;
    showLogo(URL.createObjectURL(file));
    $("logo-status").textContent = "Uploading…";
    uploading = true;
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const saved = await i2a.api("POST", "/api/v1/uploads", { body });
      logoId = saved.id;
      $("logo-status").textContent = `Ready · ${saved.width} × ${saved.height} px. Save to keep it.`;
    } catch (err) {
      $("logo-status").textContent = "";
      showLogo(logoId ? `/api/v1/uploads/${encodeURIComponent(logoId)}/file` : null);
      i2a.showError($("logo-error"), err.message);
    } finally {
      uploading = false;
    }
  }

  const zone = $("logo-zone");
  $("logo-input").addEventListener("change", () => uploadLogo($("logo-input").files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    uploadLogo(event.dataTransfer.files[0]);
  });
  $("logo-remove").addEventListener("click", () => {
    logoId = null;
    $("logo-input").value = "";
    showLogo(null);
    $("logo-status").textContent = "No logo. Save to keep it so.";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("brand-status");
    i2a.showError($("brand-error"), "");
    if (uploading) {
      status.textContent = "Wait for the logo to finish uploading.";
      return;
    }
    const button = $("brand-save");
    button.disabled = true;
    status.textContent = "Saving…";
    try {
      const kit = await i2a.api("PUT", "/api/v1/brand", {
        json: {
          logo_upload_id: logoId,
          colors: colours(),
          font: $("font").value,
          headline: $("headline").value.trim() || null,
          cta: $("cta").value.trim() || null,
        },
      });
      logoId = kit.logo_upload_id;
      status.textContent = "Saved.";
    } catch (err) {
      status.textContent = "";
      i2a.showError($("brand-error"), err.message);
    } finally {
      button.disabled = false;
    }
  });

  showColours();
  showFont($("font").value);
})();
