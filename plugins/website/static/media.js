/*
 * Creator Platform — the media library (plain ES2020, after core's ui.js).
 *
 * Defines window.CreatorMedia, which the library screen (/builder/{group}/media) uses and
 * the builder's media picker can reuse:
 *
 *   CreatorMedia.list(groupId, {cursor, limit})   one page of the API's MediaView list;
 *   CreatorMedia.upload(groupId, file, {alt, onProgress})   one upload (multipart, with
 *       the session's CSRF token), onProgress(fraction); resolves with the MediaView,
 *       rejects with CreatorUI.ApiError;
 *   CreatorMedia.tile(asset, used)                a grid tile (<li>), the same markup as
 *       the template macro website/media_grid.html;
 *   CreatorMedia.assetOf(button)                  the MediaView a tile's button carries;
 *   CreatorMedia.mountPicker(container, {groupId, onPick, imagesOnly})   the grid in
 *       `container` (an upload button above it), loaded from the API; a click on a tile
 *       calls onPick(asset).
 *
 * On the library screen (body[data-view="media"]) it also wires the upload zone (drag and
 * drop, or the file button; one progress row per file), and a tile's click opens the
 * details dialog (alt text, where the file is used, delete).
 */
(() => {
  "use strict";

  const UI = window.CreatorUI;
  const $ = (id) => document.getElementById(id);

  const base = (groupId) => `/api/v1/website/groups/${groupId}/media`;

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} Bytes`;
    const units = ["kB", "MB", "GB"];
    let value = bytes;
    let unit = "Bytes";
    for (const next of units) {
      if (value < 1000) break;
      value /= 1000;
      unit = next;
    }
    return `${value.toFixed(1)} ${unit}`;
  }

  const kindOf = (contentType) => contentType.split("/").pop().toUpperCase();

  async function list(groupId, { cursor = null, limit = 50 } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const { data } = await UI.api("GET", `${base(groupId)}?${query}`);
    return data;
  }

  /** Upload one file with progress (fetch has no upload progress: XMLHttpRequest). */
  async function upload(groupId, file, { alt = "", onProgress = () => {} } = {}) {
    const token = await UI.csrf();
    const form = new FormData();
    form.append("file", file);
    if (alt) form.append("alt", alt);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", base(groupId));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", token);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("error", () => reject(new UI.ApiError(0, UI.OFFLINE)));
      xhr.addEventListener("load", () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = { detail: xhr.responseText };
        }
        if (xhr.status === 401) UI.toLogin();
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new UI.ApiError(xhr.status, data));
      });
      xhr.send(form);
    });
  }

  function icon(pathData) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [k, v] of Object.entries({
      class: "ui-icon md-doc-icon",
      viewBox: "0 0 24 24",
      width: "20",
      height: "20",
      fill: "none",
      stroke: "currentColor",
      "stroke-width": "1.8",
      "aria-hidden": "true",
      focusable: "false",
    })) {
      svg.setAttribute(k, v);
    }
    for (const d of pathData) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  /** A tile, as website/media_grid.html draws it. */
  function tile(asset, used = []) {
    const image = asset.content_type.startsWith("image/");
    const thumb = image
      ? UI.el("img", {
          src: asset.url,
          alt: "",
          loading: "lazy",
          decoding: "async",
          width: asset.width,
          height: asset.height,
        })
      : icon(["M6 3h8l4 4v14H6z", "M14 3v4h4"]);
    let meta = `${kindOf(asset.content_type)} · ${formatSize(asset.size)}`;
    if (used.length) meta += ` · used on ${used.length} page${used.length === 1 ? "" : "s"}`;
    return UI.el(
      "li",
      { class: "md-tile", "data-asset-id": asset.id },
      UI.el(
        "button",
        {
          type: "button",
          class: "md-tile-button",
          "data-media-id": asset.id,
          "data-filename": asset.filename,
          "data-content-type": asset.content_type,
          "data-size": asset.size,
          "data-width": asset.width ?? "",
          "data-height": asset.height ?? "",
          "data-alt": asset.alt,
          "data-url": asset.url,
          "data-created-at": asset.created_at,
          "data-used": JSON.stringify(used),
        },
        UI.el("span", { class: "md-thumb" }, thumb),
        UI.el(
          "span",
          { class: "md-caption" },
          UI.el("span", { class: "md-name" }, asset.filename),
          UI.el("span", { class: "md-meta" }, meta),
        ),
      ),
    );
  }

  /** The MediaView (and where it is used) a tile's button carries. */
  function assetOf(button) {
    const d = button.dataset;
    return {
      id: d.mediaId,
      filename: d.filename,
      content_type: d.contentType,
      size: Number(d.size),
      width: d.width ? Number(d.width) : null,
      height: d.height ? Number(d.height) : null,
      alt: d.alt,
      url: d.url,
      created_at: d.createdAt,
      used: JSON.parse(d.used || "[]"),
    };
  }

  /** The library as a picker inside another page (the builder's image panel). */
  async function mountPicker(container, { groupId, onPick, imagesOnly = true }) {
    const box = UI.el("p", { class: "ui-error", role: "alert" });
    const input = UI.el("input", {
      type: "file",
      class: "visually-hidden",
      id: `${container.id || "picker"}-file`,
      accept: imagesOnly ? "image/png,image/jpeg,image/gif,image/webp" : null,
    });
    const choose = UI.el("label", { class: "ui-button ui-button-small", for: input.id }, "Upload new");
    const grid = UI.el("ul", { class: "md-grid md-grid-picker" });
    container.replaceChildren(UI.el("div", { class: "md-picker-bar" }, choose, input), box, grid);
    input.addEventListener("change", async () => {
      for (const file of input.files) {
        try {
          const asset = await upload(groupId, file);
          grid.prepend(tile(asset));
        } catch (err) {
          UI.showProblem(box, err);
        }
      }
      input.value = "";
    });
    grid.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest(".md-tile-button") : null;
      if (button) onPick(assetOf(button));
    });
    try {
      const page = await list(groupId, { limit: 100 });
      const items = imagesOnly ? page.items.filter((a) => a.content_type.startsWith("image/")) : page.items;
      grid.append(...items.map((a) => tile(a)));
      if (!items.length) grid.replaceWith(UI.el("p", { class: "ui-muted" }, "No images yet: upload one."));
    } catch (err) {
      UI.showProblem(box, err);
    }
  }

  window.CreatorMedia = Object.freeze({ assetOf, formatSize, list, mountPicker, tile, upload });

  // -- the library screen ---------------------------------------------------------------
  if (document.body.dataset.view !== "media") return;
  const groupId = document.body.dataset.groupId;
  const grid = $("media-grid");
  const statusBox = $("media-status");

  function refreshCount() {
    const n = grid.children.length;
    $("media-count").textContent = `${n} file${n === 1 ? "" : "s"}`;
    $("media-empty").hidden = n > 0;
  }

  async function uploadAll(files) {
    const rows = $("media-uploads");
    for (const file of files) {
      const bar = UI.el("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` });
      const note = UI.el("span", { class: "md-upload-note" }, "Uploading…");
      const row = UI.el("li", { class: "md-upload" }, UI.el("span", { class: "md-upload-name" }, file.name), bar, note);
      rows.append(row);
      try {
        const asset = await upload(groupId, file, {
          onProgress: (fraction) => {
            bar.value = Math.round(fraction * 100);
          },
        });
        bar.value = 100;
        note.textContent = "Done";
        grid.prepend(tile(asset));
        refreshCount();
        UI.say(statusBox, `${file.name} uploaded.`);
        window.setTimeout(() => row.remove(), 3000);
      } catch (err) {
        row.classList.add("md-upload-failed");
        note.textContent = UI.problemMessage(err);
        bar.remove();
      }
    }
  }

  const drop = $("media-drop");
  if (drop) {
    const input = $("media-file");
    input.addEventListener("change", async () => {
      const files = Array.from(input.files);
      input.value = "";
      await uploadAll(files);
    });
    for (const type of ["dragenter", "dragover"]) {
      drop.addEventListener(type, (event) => {
        event.preventDefault();
        drop.classList.add("md-drop-over");
      });
    }
    for (const type of ["dragleave", "drop"]) {
      drop.addEventListener(type, () => drop.classList.remove("md-drop-over"));
    }
    drop.addEventListener("drop", async (event) => {
      event.preventDefault();
      await uploadAll(Array.from(event.dataTransfer.files));
    });
    // A file dropped beside the zone would make the browser leave the page for it.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
  }

  // The details dialog.
  const dialog = $("media-details");
  let current = null;
  let opener = null;

  function showDetails(button) {
    current = assetOf(button);
    opener = button;
    const preview = $("details-preview");
    preview.replaceChildren(
      current.content_type.startsWith("image/")
        ? UI.el("img", { src: current.url, alt: current.alt || "", width: current.width, height: current.height })
        : icon(["M6 3h8l4 4v14H6z", "M14 3v4h4"]),
    );
    $("details-title").textContent = current.filename;
    $("details-name").textContent = current.filename;
    $("details-type").textContent = `${kindOf(current.content_type)} (${current.content_type})`;
    $("details-size").textContent = formatSize(current.size);
    $("details-dimensions").textContent = current.width ? `${current.width} × ${current.height} px` : "—";
    $("details-created").textContent = new Date(current.created_at).toLocaleDateString("en-GB", {
      day: "numeric",
      month: "short",
      year: "numeric",
    });
    $("details-url").href = current.url;
    const alt = $("details-alt");
    if (alt) alt.value = current.alt;
    else $("details-alt-text").textContent = current.alt || "None";
    for (const id of ["alt-error", "delete-error", "alt-status"]) if ($(id)) $(id).textContent = "";
    const used = $("details-used");
    used.replaceChildren(...current.used.map((p) => UI.el("li", {}, UI.el("a", { href: p.href }, p.title))));
    $("details-unused").hidden = current.used.length > 0;
    const del = $("details-delete");
    if (del) {
      del.disabled = false;
    }
    dialog.showModal();
  }

  grid.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest(".md-tile-button") : null;
    if (button) showDetails(button);
  });
  $("details-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    if (opener && opener.isConnected) opener.focus();
  });

  const altForm = $("alt-form");
  if (altForm) {
    altForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = $("alt-error");
      box.textContent = "";
      UI.busy(altForm, true);
      try {
        const { data } = await UI.api("PATCH", `${base(groupId)}/${current.id}`, {
          body: { alt: altForm.elements.namedItem("alt").value.trim() },
        });
        opener.dataset.alt = data.alt;
        current.alt = data.alt;
        UI.say($("alt-status"), "Saved");
      } catch (err) {
        UI.showProblem(box, err, altForm);
      } finally {
        UI.busy(altForm, false);
      }
    });
  }

  const del = $("details-delete");
  if (del) {
    del.addEventListener("click", async () => {
      const pages = current.used.length;
      const warning = pages
        ? ` ${pages} page${pages === 1 ? " shows" : "s show"} it; ${pages === 1 ? "it" : "they"} will no longer show it.`
        : "";
      if (!(await UI.confirmDialog($("confirm-dialog"), `Delete ${current.filename}?${warning}`))) return;
      UI.busy(del, true);
      try {
        await UI.api("DELETE", `${base(groupId)}/${current.id}`);
        const name = current.filename;
        opener.closest("li").remove();
        opener = null;
        dialog.close();
        refreshCount();
        UI.say(statusBox, `${name} deleted.`);
        (grid.querySelector(".md-tile-button") || $("media-file") || $("main")).focus();
      } catch (err) {
        UI.showProblem($("delete-error"), err);
      } finally {
        UI.busy(del, false);
      }
    });
  }
})();
