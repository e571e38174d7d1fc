// "Share link…" (templates/_share.html): make a public link, copy it once, revoke active ones.
"use strict";

(function () {
  const i2a = window.i2a;
  const LOCAL_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function time(iso) {
    const el = i2a.element("time", { datetime: iso, title: iso });
    el.textContent = LOCAL_TIME.format(new Date(iso));
    return el;
  }

  function setup(root) {
    // A page with several panels loads this script once per panel: each is set up once.
    if (root.dataset.shareReady) return;
    root.dataset.shareReady = "true";
    const kind = root.dataset.shareKind;
    const target = root.dataset.shareTarget;
    const form = root.querySelector("[data-share-form]");
    const fresh = root.querySelector("[data-share-new]");
    const url = fresh.querySelector("input");
    const copy = root.querySelector("[data-share-copy]");
    const list = root.querySelector("[data-share-list]");
    const empty = root.querySelector("[data-share-empty]");
    const errorBox = root.querySelector("[data-share-error]");
    const status = root.querySelector("[data-share-status]");
    let loaded = false;

    const fail = (err) => i2a.showError(errorBox, err.message);

    async function load() {
      const query = `${kind}_id=${encodeURIComponent(target)}`;
      const { items } = await i2a.api("GET", `/api/v1/shares?${query}`);
      list.replaceChildren(...items.map(row));
      empty.hidden = items.length > 0;
      loaded = true;
    }

    function row(share) {
      const item = i2a.element("li");
      const text = i2a.element("span");
      text.append("Works until ", time(share.expires_at));
      const expires = LOCAL_TIME.format(new Date(share.expires_at));
      const revoke = i2a.element("button", { type: "button", class: "button small danger" }, "Revoke");
      revoke.append(i2a.element("span", { class: "visually-hidden" }, ` the link that works until ${expires}`));
      revoke.addEventListener("click", async () => {
        if (!window.confirm("Revoke this link? Anyone who has it loses access at once; this cannot be undone.")) return;
        i2a.showError(errorBox, "");
        revoke.disabled = true;
        try {
          await i2a.api("DELETE", `/api/v1/shares/${encodeURIComponent(share.id)}`);
          status.textContent = "Link revoked.";
          await load();
        } catch (err) {
          revoke.disabled = false;
          fail(err);
        }
      });
      item.append(text, revoke);
      return item;
    }

    root.addEventListener("toggle", () => {
      if (root.open && !loaded) load().catch(fail);
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      const choice = form.querySelector('input[type="radio"]:checked');
      i2a.showError(errorBox, "");
      button.disabled = true;
      try {
        const share = await i2a.api("POST", "/api/v1/shares", {
          json: { [`${kind}_id`]: target, expires_in_s: Number(choice.value) },
        });
        url.value = share.url;
        copy.textContent = "Copy";
        fresh.hidden = false;
        status.textContent = "Link created. Copy it now: it is shown only once.";
        url.focus();
        url.select();
        // Selecting scrolls to the end; the start says which site the link is on.
        url.scrollLeft = 0;
        await load();
      } catch (err) {
        fail(err);
      } finally {
        button.disabled = false;
      }
    });

    copy.addEventListener("click", async () => {
      url.select();
      try {
        await navigator.clipboard.writeText(url.value);
        copy.textContent = "Copied";
      } catch (err) {
        copy.textContent = "Press Ctrl+C";
      }
    });
  }

  document.querySelectorAll("[data-share]").forEach(setup);
})();
