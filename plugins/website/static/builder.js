/*
 * Creator Platform — the website builder (plain ES2020, no framework, no build step).
 *
 * One file for every builder page; <body data-view> says which one:
 *   groups  — create a workspace (POST /api/v1/groups);
 *   group   — create a website (POST …/sites); quota errors are shown plainly;
 *   site    — save the site's settings (PATCH …/sites/{id}), add and delete pages;
 *   editor  — the page editor: a component library (buttons, and drag sources for
 *             SortableJS), the canvas (HTML from …/canvas, every component a Sortable item;
 *             containers hold nested Sortable lists), and a properties panel generated
 *             from each component's JSON schema.
 *
 * Every change goes straight to the JSON API, one request at a time, with the session's
 * CSRF token (X-CSRF-Token, from GET /api/v1/auth/session) and If-Match: the page's last
 * ETag. The status region says "Saving…", "All changes saved" or "Save failed — retry";
 * a 412 (someone else saved) reloads the page. Undo re-sends the tree as it was before
 * the last change (PATCH …/pages/{id} {tree}). Text marked data-inline on the canvas is
 * edited in place (contenteditable) and saved on blur or Ctrl/Cmd+Enter.
 * Everything is keyboard operable: library buttons add a component after the selected
 * one, Enter selects/edits, Alt+Arrow Up/Down moves (past a sibling, into or out of a
 * container), the properties panel has Move up / Move down / Delete buttons, Ctrl/Cmd+Z
 * undoes. No inline script or style: the page's CSP allows scripts from /static only.
 */
(() => {
  "use strict";

  const body = document.body;
  const $ = (id) => document.getElementById(id);

  // The API, forms and problems: core's /static/core/ui.js (loaded first), shared with
  // every plugin's pages.
  const ui = window.CreatorUI;
  const {
    ApiError,
    autoSlug,
    busy,
    confirmDialog,
    el,
    humanize,
    problemMessage,
    requireFields,
    showProblem,
    values,
  } = ui;

  /** An API call; the builder's take HTML too (the canvas). */
  const api = (method, url, options = {}) =>
    ui.api(method, url, { accept: "application/json, text/html;q=0.9", ...options });

  /** A template's tree (no ids) with fresh node ids, ready to send. */
  function freshTree(tree) {
    return tree.map((node) => ({
      ...node,
      id: `t${Math.random().toString(36).slice(2, 10)}`,
      children: freshTree(node.children || []),
    }));
  }

  // -- /builder/{group}: websites -------------------------------------------------------

  function initGroup() {
    const form = $("site-form");
    if (!form) return;
    const groupId = body.dataset.groupId;
    const box = $("site-error");
    autoSlug(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      box.textContent = "";
      if (!requireFields(form, box, ["name", "slug"])) return;
      const { name, slug, theme } = values(form);
      busy(form, true);
      try {
        const { data } = await api("POST", `/api/v1/website/groups/${groupId}/sites`, {
          body: { name, slug, theme },
        });
        window.location.assign(`/builder/${groupId}/sites/${data.id}`);
      } catch (err) {
        showProblem(box, err, form);
        busy(form, false);
      }
    });
  }

  // -- /builder/{group}/sites/{site}: settings and pages --------------------------------

  function initSite() {
    const groupId = body.dataset.groupId;
    const siteId = body.dataset.siteId;
    const base = `/api/v1/website/groups/${groupId}/sites/${siteId}`;
    let site = null;
    let etag = `"${body.dataset.siteVersion}"`;

    const settings = $("site-settings");
    const settingsBox = $("settings-error");
    const settingsStatus = $("settings-status");
    settings.addEventListener("submit", async (event) => {
      event.preventDefault();
      settingsBox.textContent = "";
      settingsStatus.textContent = "";
      if (!requireFields(settings, settingsBox, ["name", "slug"])) return;
      busy(settings, true);
      try {
        if (!site) {
          const loaded = await api("GET", base);
          site = loaded.data;
          if (loaded.etag !== etag) {
            throw new ApiError(412, { code: "version_mismatch" });
          }
        }
        const f = settings.elements;
        const patch = {
          name: f.namedItem("name").value.trim(),
          slug: f.namedItem("slug").value.trim(),
          theme: f.namedItem("theme").value,
          custom_domain: f.namedItem("custom_domain").value.trim().toLowerCase() || null,
          description: f.namedItem("description").value.trim(),
          settings: {
            ...site.settings,
            color_mode: f.namedItem("color_mode").value,
            footer_text: f.namedItem("footer_text").value.trim(),
            allow_indexing: f.namedItem("allow_indexing").checked,
          },
        };
        const saved = await api("PATCH", base, { body: patch, ifMatch: etag });
        site = saved.data;
        etag = saved.etag;
        settingsStatus.textContent = "Settings saved.";
        const heading = document.querySelector("main h1");
        if (heading) heading.textContent = site.name;
      } catch (err) {
        if (err.code === "version_mismatch") {
          settingsBox.textContent =
            "These settings were changed somewhere else. Reload the page to see the changes, " +
            "then save yours again.";
        } else {
          showProblem(settingsBox, err, settings);
        }
      } finally {
        busy(settings, false);
      }
    });

    const pageForm = $("page-form");
    if (pageForm) {
      const box = $("page-error");
      autoSlug(pageForm);
      pageForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        box.textContent = "";
        if (!requireFields(pageForm, box, ["title", "slug"])) return;
        const { title, slug, template } = values(pageForm);
        busy(pageForm, true);
        try {
          const body = { title, slug };
          if (template && template !== "blank") {
            const found = await api("GET", `/api/v1/website/groups/${groupId}/templates`);
            const chosen = found.data.pages.find((page) => page.name === template);
            if (chosen) body.tree = freshTree(chosen.tree);
          }
          const { data } = await api("POST", `${base}/pages`, { body });
          window.location.assign(`/builder/${groupId}/sites/${siteId}/pages/${data.id}`);
        } catch (err) {
          showProblem(box, err, pageForm);
          busy(pageForm, false);
        }
      });
    }

    const list = $("page-list");
    const dialog = $("confirm-dialog");
    const status = $("pages-status");
    if (list && dialog) {
      list.addEventListener("click", async (event) => {
        const button = event.target.closest(".bl-delete-page");
        if (!button) return;
        const item = button.closest("li");
        const title = item.dataset.pageTitle;
        const sure = await confirmDialog(
          dialog,
          `“${title}” and its published version will be deleted. This cannot be undone.`,
        );
        if (!sure) return;
        try {
          await api("DELETE", `${base}/pages/${item.dataset.pageId}`);
          const next = item.nextElementSibling || item.previousElementSibling;
          item.remove();
          status.textContent = `Page “${title}” deleted.`;
          const focusable = next && next.querySelector("a");
          if (focusable) focusable.focus();
          else $("page-title")?.focus();
        } catch (err) {
          status.textContent = "";
          $("page-error").textContent = problemMessage(err);
        }
      });
    }
  }

  // -- /builder/…/pages/{page}: the editor -----------------------------------------------

  function initEditor() {
    const groupId = body.dataset.groupId;
    const siteId = body.dataset.siteId;
    const pageId = body.dataset.pageId;
    const siteSlug = body.dataset.siteSlug;
    // published pages may be on another origin (public_sites_origin) than the builder
    const sitesUrl = body.dataset.sitesUrl || "";
    const canManage = body.dataset.canManage === "true";
    const groupBase = `/api/v1/website/groups/${groupId}`;
    const pageUrl = `${groupBase}/sites/${siteId}/pages/${pageId}`;

    const canvas = $("canvas");
    const canvasList = $("canvas-list");
    const canvasEmpty = $("canvas-empty");
    const library = $("library");
    const props = $("props");
    const alertBox = $("editor-alert");
    const statusBox = $("save-status");
    const statusText = $("save-status-text");
    const retryButton = $("retry-button");
    const undoButton = $("undo-button");
    const publishButton = $("publish-button");
    const publicLink = $("public-link");
    const announcer = $("announcer");
    const settingsForm = $("page-settings");
    const settingsBox = $("page-settings-error");
    const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    const state = {
      components: new Map(), // type -> component view (label, schema, inline, …)
      page: null, // the PageView of the last response
      etag: null, // its ETag, sent as If-Match
      selected: null, // selected node id
      focusAfter: null, // node id to focus after the next render
      undo: [], // trees before each change
      queue: Promise.resolve(), // mutations run one after the other
      pending: 0,
      retry: null, // the failed mutation, for the Retry button
      editing: null, // the inline edit in progress
      renderPending: false,
      sortables: [],
      propsFor: null, // node id the properties form was built for
      sections: new Map(), // section template name -> template (a tree without ids)
      placeholders: new Set(), // texts that mean "not written yet" (warned at publish)
      clones: null, // the group's clones, when the clone plugin is on
    };

    // ---- status, alerts, announcements

    function setStatus(kind, text) {
      statusBox.dataset.state = kind;
      statusText.textContent = text;
      retryButton.hidden = kind !== "failed";
    }

    function announce(text) {
      announcer.textContent = "";
      window.setTimeout(() => {
        announcer.textContent = text;
      }, 50);
    }

    function showAlert(content) {
      alertBox.replaceChildren(...(Array.isArray(content) ? content : [content]));
    }

    function clearAlert() {
      alertBox.replaceChildren();
      alertBox.classList.remove("is-warning");
    }

    // ---- the tree

    function findNode(tree, id, parentId = null) {
      for (let index = 0; index < tree.length; index++) {
        const node = tree[index];
        if (node.id === id) return { node, parentId, index, siblings: tree };
        const inner = findNode(node.children || [], id, node.id);
        if (inner) return inner;
      }
      return null;
    }

    function labelOf(type) {
      const component = state.components.get(type);
      return component ? component.label : humanize(type);
    }

    function nodeElement(id) {
      return canvasList.querySelector(`.cp-node[data-node-id="${CSS.escape(id)}"]`);
    }

    // ---- applying a response

    function applyPage(page, etag) {
      state.page = page;
      state.etag = etag || `"${page.version}"`;
      if (state.selected && !findNode(page.tree, state.selected)) state.selected = null;
      $("page-title-display").textContent = page.title;
      document.title = `Editing ${page.title} · Creator Platform`;
      const badges = [];
      if (page.status === "published") {
        badges.push(el("span", { class: "ui-badge ui-badge-published" }, "Published"));
        if (page.has_unpublished_changes) {
          badges.push(el("span", { class: "ui-badge ui-badge-changes" }, "Unpublished changes"));
        }
      } else {
        badges.push(el("span", { class: "ui-badge ui-badge-draft" }, "Draft"));
      }
      $("page-badges").replaceChildren(...badges);
      publicLink.hidden = page.status !== "published";
      publicLink.setAttribute("href", `${sitesUrl}/sites/${siteSlug}/${page.slug}`);
      for (const [name, value] of [
        ["title", page.title],
        ["slug", page.slug],
        ["description", (page.seo && page.seo.description) || ""],
      ]) {
        const input = settingsForm.elements.namedItem(name);
        if (input && input !== document.activeElement) input.value = value;
      }
      undoButton.disabled = state.undo.length === 0;
    }

    // ---- mutations: one at a time, each with If-Match

    function enqueue(run) {
      state.pending++;
      setStatus("saving", "Saving…");
      state.queue = state.queue.then(run);
      return state.queue;
    }

    /**
     * Send a change. send() performs the request (reading state.etag when it runs);
     * options: undoable (push the tree before it on the undo stack), render (re-render
     * the canvas), done(result), failed(err) -> true when it handled the error.
     */
    function mutate(label, send, options = {}) {
      const { undoable = true, render = true, done, failed, errorBox } = options;
      const run = async () => {
        const before = state.page ? state.page.tree : [];
        try {
          clearAlert();
          if (errorBox) errorBox.textContent = "";
          const response = await send();
          const result = response.data && response.data.page ? response.data : { page: response.data };
          if (undoable && JSON.stringify(before) !== JSON.stringify(result.page.tree)) {
            state.undo.push(before);
            if (state.undo.length > 100) state.undo.shift();
          }
          applyPage(result.page, response.etag);
          if (done) done(result);
          if (render) await renderCanvas();
          else renderProps();
          state.retry = null;
          state.pending--;
          if (!state.pending) setStatus("saved", "All changes saved");
          if (label) announce(label);
        } catch (err) {
          state.pending--;
          try {
            await failure(err, run, failed, errorBox);
          } catch (inner) {
            setStatus("failed", "Save failed — retry");
            showAlert(String(inner.message || inner));
          }
        }
      };
      return enqueue(run);
    }

    async function failure(err, run, failed, errorBox) {
      if (failed && failed(err)) {
        if (!state.pending) setStatus("saved", "All changes saved");
        return;
      }
      if (err.code === "version_mismatch" || err.status === 412) {
        state.undo = [];
        await reload();
        setStatus("saved", "All changes saved");
        showAlert(
          "This page was changed somewhere else (another tab or person). The latest version " +
            "is now loaded: please make your last change again.",
        );
        return;
      }
      const transient = err.status === 0 || err.status >= 500 || err.code === "rate_limited";
      if (transient) {
        state.retry = run;
        setStatus("failed", "Save failed — retry");
        showAlert(problemMessage(err));
      } else {
        if (!state.pending) setStatus("error", "Change not saved");
        if (errorBox) showProblem(errorBox, err, errorBox.closest("form"));
        else showAlert(problemMessage(err));
      }
      // Undo what the browser already shows (a drag, an inline edit, a field's value).
      state.propsFor = null;
      await renderCanvas().catch(() => undefined);
    }

    retryButton.addEventListener("click", () => {
      const run = state.retry;
      state.retry = null;
      if (run) enqueue(run);
    });

    async function reload() {
      const [page, html] = await Promise.all([
        api("GET", pageUrl),
        api("GET", `${pageUrl}/canvas`),
      ]);
      applyPage(page.data, page.etag);
      state.propsFor = null;
      showCanvas(html.data);
    }

    // ---- the component library

    function buildLibrary(list) {
      library.replaceChildren();
      const byCategory = new Map();
      for (const component of list) {
        if (!byCategory.has(component.category)) byCategory.set(component.category, []);
        byCategory.get(component.category).push(component);
      }
      for (const [category, components] of byCategory) {
        const heading = el("h3", { id: `lib-cat-${category}` }, humanize(category));
        const ul = el("ul", { class: "bl-lib-list", "aria-labelledby": heading.id });
        for (const component of components) {
          ul.append(
            el("li", { class: "bl-lib-entry", "data-type": component.type },
              el("button", {
                type: "button",
                class: "bl-lib-item",
                "data-type": component.type,
                disabled: !canManage,
              },
                el("span", { class: "bl-lib-label" },
                  el("span", { class: "visually-hidden" }, "Add "), component.label)),
              el("span", { class: "bl-lib-desc" }, component.description)),
          );
        }
        library.append(heading, ul);
        if (window.Sortable && canManage) {
          window.Sortable.create(ul, {
            group: { name: "page", pull: "clone", put: false },
            sort: false,
            draggable: ".bl-lib-entry",
            forceFallback: true,
            fallbackOnBody: true,
            fallbackTolerance: 4,
            fallbackClass: "bl-fallback",
            ghostClass: "bl-ghost",
            animation: reducedMotion ? 0 : 120,
            onEnd: onLibraryDrop,
          });
        }
      }
    }

    function buildSectionLibrary(templates) {
      const heading = el("h3", { id: "lib-cat-templates" }, "Sections");
      const ul = el("ul", { class: "bl-lib-list", "aria-labelledby": heading.id });
      for (const template of templates) {
        state.sections.set(template.name, template);
        ul.append(
          el("li", { class: "bl-lib-entry bl-lib-template" },
            el("button", {
              type: "button",
              class: "bl-lib-item",
              "data-template": template.name,
              disabled: !canManage,
            },
              el("span", { class: "bl-lib-label" },
                el("span", { class: "visually-hidden" }, "Add "), template.label,
                el("span", { class: "visually-hidden" }, " section"))),
            el("span", { class: "bl-lib-desc" }, template.description)),
        );
      }
      library.append(heading, ul);
    }

    /** Insert a section template after the selected top-level component (else at the end). */
    function insertTemplate(name) {
      const template = state.sections.get(name);
      if (!template || !state.page) return;
      const tree = state.page.tree.slice();
      let at = tree.length;
      if (state.selected) {
        let found = findNode(tree, state.selected);
        while (found && found.parentId) found = findNode(tree, found.parentId);
        if (found) at = found.index + 1;
      }
      const inserted = freshTree(template.tree);
      tree.splice(at, 0, ...inserted);
      return mutate(
        `${template.label} section added`,
        () => api("PATCH", pageUrl, { body: { tree }, ifMatch: state.etag }),
        {
          done: () => {
            state.selected = inserted[0].id;
            state.focusAfter = inserted[0].id;
          },
        },
      );
    }

    library.addEventListener("click", (event) => {
      const template = event.target.closest("[data-template]");
      if (template && library.contains(template)) {
        insertTemplate(template.dataset.template);
        return;
      }
      const button = event.target.closest(".bl-lib-item");
      if (!button || !library.contains(button)) return;
      let parentId = null;
      let position;
      const found = state.selected && findNode(state.page.tree, state.selected);
      if (found) {
        parentId = found.parentId;
        position = found.index + 1;
      }
      addComponent(button.dataset.type, parentId, position);
    });

    function positionIn(list, item) {
      let position = 0;
      for (const child of list.children) {
        if (child === item) return position;
        if (child.classList.contains("cp-node")) position++;
      }
      return position;
    }

    // Where the pointer is during a drag: the drop goes where the pointer is, whatever
    // place SortableJS's placeholder reached while the pointer travelled over nested lists.
    const pointer = { x: 0, y: 0, known: false };
    document.addEventListener("pointermove", (event) => {
      pointer.x = event.clientX;
      pointer.y = event.clientY;
      pointer.known = true;
    }, { passive: true });

    /** The list under the pointer and the position in it, or null (not over the canvas). */
    function dropPlace(item) {
      if (!pointer.known) return null;
      const under = document.elementsFromPoint(pointer.x, pointer.y)
        .find((element) => canvas.contains(element) && !item.contains(element));
      if (!under) return null;
      let list = under.closest(".bl-list");
      // On a container's own padding (a band around its list): into that container.
      const node = under.closest(".cp-node");
      if (node && node.classList.contains("cp-container") && list.closest(".cp-node") !== node) {
        const inner = Array.from(node.querySelectorAll(".bl-nested")).find(
          (candidate) => candidate.closest(".cp-node") === node);
        if (inner) list = inner;
      }
      if (!list) list = canvasList;
      if (item.contains(list)) return null; // a container into itself
      let position = 0;
      for (const child of list.children) {
        if (child === item || !child.classList.contains("cp-node")) continue;
        const box = child.getBoundingClientRect();
        const before =
          pointer.y > box.bottom ||
          (pointer.y >= box.top && pointer.x > box.right) ||
          (pointer.y >= box.top + box.height / 2 && pointer.x >= box.left);
        if (!before) break;
        position++;
      }
      return { parentId: list.dataset.parentId || null, position };
    }

    function onLibraryDrop(event) {
      const item = event.item;
      const place = dropPlace(item);
      const inCanvas = canvas.contains(item);
      item.remove();
      if (place) addComponent(item.dataset.type, place.parentId, place.position);
      else if (inCanvas) {
        const list = event.to;
        addComponent(item.dataset.type, list.dataset.parentId || null, event.newDraggableIndex);
      }
    }

    function onCanvasDrop(event) {
      const item = event.item;
      const nodeId = item.dataset.nodeId;
      if (!nodeId) return;
      const place = dropPlace(item);
      if (place) {
        // Positions count the list without the moved item, as the API does after taking it out.
        const found = findNode(state.page.tree, nodeId);
        if (found && (found.parentId || null) === place.parentId && place.position === found.index) {
          renderCanvas(); // put back what the drag moved on the screen
          return;
        }
        moveComponent(nodeId, place.parentId, place.position);
        return;
      }
      if (event.from === event.to && event.oldIndex === event.newIndex) return;
      const list = item.parentElement;
      moveComponent(nodeId, list.dataset.parentId || null, positionIn(list, item));
    }

    // ---- the canvas

    function destroySortables() {
      for (const sortable of state.sortables) sortable.destroy();
      state.sortables = [];
    }

    function makeSortable(list) {
      if (!window.Sortable || !canManage) return;
      state.sortables.push(
        window.Sortable.create(list, {
          group: { name: "page", pull: true, put: true },
          draggable: ".cp-node",
          forceFallback: true,
          fallbackOnBody: true,
          fallbackTolerance: 4,
          fallbackClass: "bl-fallback",
          ghostClass: "bl-ghost",
          swapThreshold: 0.65,
          emptyInsertThreshold: 24,
          animation: reducedMotion ? 0 : 120,
          filter: '[contenteditable="true"], [contenteditable="plaintext-only"], input, textarea',
          preventOnFilter: false,
          onEnd: onCanvasDrop,
        }),
      );
    }

    /** The element of a container that holds its children's nodes. */
    function innerList(node) {
      const root = node.firstElementChild;
      if (!root) return null;
      const queue = [root];
      while (queue.length) {
        const candidate = queue.shift();
        const children = Array.from(candidate.children);
        if (children.some((c) => c.classList.contains("cp-node"))) return candidate;
        queue.push(...children.filter((c) => !c.classList.contains("cp-node")));
      }
      let deepest = root;
      while (deepest.firstElementChild) deepest = deepest.firstElementChild;
      return deepest;
    }

    function showCanvas(html) {
      const active = document.activeElement;
      const hadFocus = canvas.contains(active) || active === document.body;
      destroySortables();
      canvasList.innerHTML = html; // server-rendered, escaped and sanitised markup
      makeSortable(canvasList);
      for (const node of canvasList.querySelectorAll(".cp-container")) {
        const list = innerList(node);
        if (!list) continue;
        list.classList.add("bl-list", "bl-nested");
        list.dataset.parentId = node.dataset.nodeId;
        makeSortable(list);
      }
      for (const link of canvasList.querySelectorAll("a[href]")) {
        link.setAttribute("tabindex", "-1"); // links do not navigate on the canvas
      }
      canvasEmpty.hidden = canvasList.querySelector(".cp-node") !== null;
      markSelection();
      const target = state.focusAfter || (hadFocus ? state.selected : null);
      state.focusAfter = null;
      const element = target && nodeElement(target);
      if (element) element.focus();
      else if (hadFocus && active !== document.body && !active.isConnected) $("main").focus();
      renderProps();
    }

    async function renderCanvas() {
      if (state.editing) {
        state.renderPending = true;
        return;
      }
      state.renderPending = false;
      const { data } = await api("GET", `${pageUrl}/canvas`);
      if (state.editing) {
        state.renderPending = true;
        return;
      }
      showCanvas(data);
    }

    function markSelection() {
      for (const node of canvasList.querySelectorAll(".cp-node")) {
        const selected = node.dataset.nodeId === state.selected;
        node.classList.toggle("is-selected", selected);
        if (selected) node.setAttribute("aria-current", "true");
        else node.removeAttribute("aria-current");
      }
    }

    function select(id) {
      if (state.selected === id) return;
      if (state.editing && state.editing.nodeId !== id) finishEditing(true);
      state.selected = id;
      markSelection();
      renderProps();
    }

    canvas.addEventListener("click", (event) => {
      if (event.target.closest("a")) event.preventDefault();
      const node = event.target.closest(".cp-node");
      if (!node || !canvas.contains(node)) {
        if (!state.editing) select(null);
        return;
      }
      select(node.dataset.nodeId);
      const inline = event.target.closest("[data-inline]");
      if (inline && inline.closest(".cp-node") === node && canManage) {
        startEditing(inline, node, event);
      }
    });

    canvas.addEventListener("focusin", (event) => {
      const node = event.target.closest(".cp-node");
      if (node && canvas.contains(node)) select(node.dataset.nodeId);
    });

    canvas.addEventListener("keydown", (event) => {
      if (state.editing) return;
      const node = event.target.closest(".cp-node");
      if (!node) return;
      const id = node.dataset.nodeId;
      if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        event.preventDefault();
        select(id);
        moveBy(id, event.key === "ArrowUp" ? -1 : 1);
      } else if (event.key === "Enter" && event.target === node) {
        event.preventDefault();
        if (state.selected !== id) {
          select(id);
          return;
        }
        const inline = ownInline(node)[0];
        if (inline && canManage) startEditing(inline, node);
        else props.querySelector("input, select, textarea")?.focus();
      } else if (event.key === " " && event.target === node) {
        event.preventDefault();
        select(id);
      }
    });

    function ownInline(node) {
      return Array.from(node.querySelectorAll("[data-inline]")).filter(
        (element) => element.closest(".cp-node") === node,
      );
    }

    // ---- inline editing

    function startEditing(element, node, clickEvent) {
      if (state.editing && state.editing.element === element) return;
      if (state.editing) finishEditing(true);
      const kind = element.dataset.inlineKind === "rich" ? "rich" : "text";
      state.editing = {
        element,
        nodeId: node.dataset.nodeId,
        prop: element.dataset.inline,
        kind,
        original: kind === "rich" ? element.innerHTML : element.innerText,
      };
      try {
        element.contentEditable = kind === "rich" ? "true" : "plaintext-only";
      } catch {
        element.contentEditable = "true";
      }
      element.setAttribute("aria-label", `${labelOf(node.dataset.type)} ${humanize(element.dataset.inline)}`);
      element.addEventListener("blur", onEditBlur);
      element.addEventListener("keydown", onEditKey);
      element.focus();
      placeCaret(element, clickEvent);
      announce("Editing. Press Control+Enter or leave the text to save it, Escape to cancel.");
    }

    function placeCaret(element, clickEvent) {
      const selection = window.getSelection();
      let range = null;
      if (clickEvent && document.caretRangeFromPoint) {
        range = document.caretRangeFromPoint(clickEvent.clientX, clickEvent.clientY);
        if (range && !element.contains(range.startContainer)) range = null;
      }
      if (!range) {
        range = document.createRange();
        range.selectNodeContents(element);
        range.collapse(false);
      }
      selection.removeAllRanges();
      selection.addRange(range);
    }

    function onEditBlur() {
      finishEditing(true);
    }

    function onEditKey(event) {
      const editing = state.editing;
      if (!editing) return;
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        finishEditing(false);
        nodeElement(editing.nodeId)?.focus();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey || editing.kind === "text")) {
        event.preventDefault();
        event.stopPropagation();
        finishEditing(true);
        nodeElement(editing.nodeId)?.focus();
      }
    }

    function finishEditing(save) {
      const editing = state.editing;
      if (!editing) return;
      state.editing = null;
      const { element } = editing;
      element.removeEventListener("blur", onEditBlur);
      element.removeEventListener("keydown", onEditKey);
      element.removeAttribute("contenteditable");
      element.removeAttribute("aria-label");
      let value = editing.kind === "rich" ? element.innerHTML : element.innerText;
      if (editing.kind === "text") value = value.replace(/\s*\n\s*/g, " ").trim();
      if (!save || value === editing.original) {
        if (!save) {
          if (editing.kind === "rich") element.innerHTML = editing.original;
          else element.innerText = editing.original;
        }
        if (state.renderPending) state.queue = state.queue.then(() => renderCanvas().catch(() => undefined));
        return;
      }
      updateProps(editing.nodeId, { [editing.prop]: value }, "Text saved");
    }

    // ---- the operations

    function addComponent(type, parentId, position) {
      const payload = { type, parent_id: parentId };
      if (position !== undefined && position !== null) payload.position = position;
      return mutate(
        `${labelOf(type)} added`,
        () => api("POST", `${pageUrl}/components`, { body: payload, ifMatch: state.etag }),
        {
          done: (result) => {
            state.selected = result.node.id;
            state.focusAfter = result.node.id;
          },
        },
      );
    }

    function moveComponent(id, parentId, position) {
      return mutate(
        `${labelOf(findNode(state.page.tree, id)?.node.type || "")} moved`,
        () =>
          api("POST", `${pageUrl}/components/${encodeURIComponent(id)}/move`, {
            body: { parent_id: parentId, position },
            ifMatch: state.etag,
          }),
        {
          done: () => {
            state.selected = id;
            if (canvas.contains(document.activeElement)) state.focusAfter = id;
          },
        },
      );
    }

    function isContainer(node) {
      const component = state.components.get(node.type);
      return Boolean(component && component.container);
    }

    /**
     * One step up or down in reading order, so the keyboard reaches every place a drag
     * does: past a sibling; into a neighbouring container (at its near end); out of the
     * container at either end.
     */
    function moveBy(id, delta) {
      const found = findNode(state.page.tree, id);
      if (!found) return;
      const neighbour = found.siblings[found.index + delta];
      if (neighbour && isContainer(neighbour)) {
        const children = neighbour.children || [];
        moveComponent(id, neighbour.id, delta < 0 ? children.length : 0);
      } else if (neighbour) {
        moveComponent(id, found.parentId, found.index + delta);
      } else if (found.parentId) {
        const parent = findNode(state.page.tree, found.parentId);
        moveComponent(id, parent.parentId, parent.index + (delta < 0 ? 0 : 1));
      } else {
        announce(delta < 0 ? "Already at the top of the page." : "Already at the end of the page.");
      }
    }

    function deleteComponent(id) {
      const found = findNode(state.page.tree, id);
      if (!found) return;
      const next = found.siblings[found.index + 1] || found.siblings[found.index - 1];
      const after = next ? next.id : found.parentId;
      return mutate(
        `${labelOf(found.node.type)} deleted`,
        () =>
          api("DELETE", `${pageUrl}/components/${encodeURIComponent(id)}`, { ifMatch: state.etag }),
        {
          done: () => {
            state.selected = after;
            state.focusAfter = after;
            if (!after) window.setTimeout(() => $("main").focus(), 0);
          },
        },
      );
    }

    function updateProps(id, changes, label) {
      return mutate(label, () =>
        api("PATCH", `${pageUrl}/components/${encodeURIComponent(id)}`, {
          body: { props: changes },
          ifMatch: state.etag,
        }),
      );
    }

    function undo() {
      if (!state.undo.length) return;
      if (state.editing) finishEditing(true);
      const tree = state.undo.pop();
      undoButton.disabled = state.undo.length === 0;
      return mutate(
        "Undone",
        () => api("PATCH", pageUrl, { body: { tree }, ifMatch: state.etag }),
        {
          undoable: false,
          failed: (err) => {
            if (err.status !== 412) state.undo.push(tree);
            undoButton.disabled = state.undo.length === 0;
            return false;
          },
        },
      );
    }

    undoButton.addEventListener("click", () => undo());

    document.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey) return;
      if (event.key.toLowerCase() !== "z") return;
      const target = event.target;
      const typing =
        state.editing ||
        (target instanceof HTMLElement &&
          (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));
      if (typing) return;
      event.preventDefault();
      undo();
    });

    /** Components whose shown text is still a default or a template's placeholder copy. */
    function placeholderNodes() {
      const found = [];
      const walk = (nodes) => {
        for (const node of nodes) {
          const component = state.components.get(node.type);
          const copy = (component && component.inline) || [];
          if (copy.some((prop) => state.placeholders.has(node.props[prop]))) found.push(node);
          walk(node.children || []);
        }
      };
      walk(state.page ? state.page.tree : []);
      return found;
    }

    function textOf(node) {
      const component = state.components.get(node.type);
      const prop = ((component && component.inline) || [])[0];
      const value = prop ? String(node.props[prop] || "") : "";
      const plain = value.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
      return plain.length > 48 ? `${plain.slice(0, 47)}…` : plain;
    }

    function showPlaceholderWarning(nodes) {
      $("publish-note")?.remove();
      const items = nodes.map((node) =>
        el("li", {},
          `${labelOf(node.type)}: “${textOf(node)}”`,
          el("button", {
            type: "button",
            class: "ui-button ui-button-small",
            "data-select": node.id,
          }, "Show", el("span", { class: "visually-hidden" }, ` ${labelOf(node.type)}`))),
      );
      const shown = items.slice(0, 8);
      if (items.length > shown.length) {
        shown.push(el("li", {}, `and ${items.length - shown.length} more`));
      }
      showAlert([
        el("p", {}, el("strong", {}, "Some text is still placeholder text."),
          ` ${nodes.length === 1 ? "This component still says" : "These components still say"}` +
            " what the template or the component started with:"),
        el("ul", { class: "bl-problem-list" }, shown),
        el("div", { class: "bl-alert-actions" },
          el("button", { type: "button", class: "ui-button ui-button-small", "data-publish-anyway": "" },
            "Publish anyway"),
          el("button", { type: "button", class: "ui-button ui-button-small", "data-dismiss": "" },
            "Keep editing")),
      ]);
      alertBox.classList.add("is-warning");
      alertBox.querySelector("[data-select]")?.focus();
    }

    function publish(checkPlaceholders = true) {
      if (state.editing) finishEditing(true);
      if (checkPlaceholders) {
        const nodes = placeholderNodes();
        if (nodes.length) {
          showPlaceholderWarning(nodes);
          return;
        }
      }
      mutate(
          null,
          () => api("POST", `${pageUrl}/publish`, { ifMatch: state.etag }),
          {
            undoable: false,
            render: false,
            done: () => {
              const link = el("a", { href: `${sitesUrl}/sites/${siteSlug}/${state.page.slug}`, target: "_blank", rel: "noopener" },
                "View the live page", el("span", { class: "visually-hidden" }, " (opens in a new tab)"));
              alertBox.replaceChildren();
              $("publish-note")?.remove();
              const note = el("p", { id: "publish-note", class: "bl-publish-note", role: "status" },
                "Published. ", link);
              alertBox.after(note);
              announce("Page published");
            },
            failed: (err) => {
              if (err.code !== "publish_blocked") return false;
              showPublishProblems(err.problem.problems || [], err.message);
              return true;
            },
          },
        );
    }

    if (publishButton) publishButton.addEventListener("click", () => publish());

    function showPublishProblems(problems, fallback) {
      $("publish-note")?.remove();
      const items = problems.map((problem) =>
        el("li", {},
          `${labelOf(problem.component)}: ${problem.problem}`,
          el("button", {
            type: "button",
            class: "ui-button ui-button-small",
            "data-select": problem.node_id,
          }, "Show", el("span", { class: "visually-hidden" }, ` ${labelOf(problem.component)}`))),
      );
      showAlert([
        el("p", {}, el("strong", {}, "This page cannot be published yet."), " Fix these first:"),
        items.length ? el("ul", { class: "bl-problem-list" }, items) : el("p", {}, fallback),
      ]);
    }

    alertBox.addEventListener("click", (event) => {
      if (event.target.closest("[data-publish-anyway]")) {
        clearAlert();
        publish(false);
        return;
      }
      if (event.target.closest("[data-dismiss]")) {
        clearAlert();
        publishButton?.focus();
        return;
      }
      const button = event.target.closest("[data-select]");
      if (!button) return;
      select(button.dataset.select);
      nodeElement(button.dataset.select)?.focus();
    });

    settingsForm.addEventListener("submit", (event) => {
      event.preventDefault();
      settingsBox.textContent = "";
      if (!requireFields(settingsForm, settingsBox, ["title", "slug"])) return;
      const f = settingsForm.elements;
      const seo = { ...(state.page.seo || {}), description: f.namedItem("description").value.trim() };
      mutate(
        "Page settings saved",
        () =>
          api("PATCH", pageUrl, {
            body: { title: f.namedItem("title").value.trim(), slug: f.namedItem("slug").value.trim(), seo },
            ifMatch: state.etag,
          }),
        { undoable: false, render: false, errorBox: settingsBox },
      );
    });

    // ---- the properties panel, from the component's JSON schema

    function schemaOf(component) {
      let schema = component.schema || {};
      const defs = schema.$defs || {};
      const deref = (s) => (s && s.$ref ? defs[s.$ref.split("/").pop()] || {} : s || {});
      schema = deref(schema);
      const fields = [];
      for (const [name, raw] of Object.entries(schema.properties || {})) {
        let spec = deref(raw);
        if (spec.anyOf) {
          const options = spec.anyOf.map(deref).filter((s) => s.type !== "null");
          spec = options.length === 1 ? { ...options[0], nullable: true } : {};
        }
        fields.push({ name, spec });
      }
      return fields;
    }

    const FIELD_LABELS = {
      html: "Text (HTML)",
      src: "Image URL",
      alt: "Alt text",
      href: "Link address",
      new_tab: "Open in a new tab",
      asset_id: "Media asset ID",
      url: "Address (https://…)",
    };

    function fieldFor(name, spec, value) {
      const id = `prop-${name}`;
      const label = spec.title || FIELD_LABELS[name] || humanize(name);
      const data = { "data-prop": name };
      let input;
      if (Array.isArray(spec.enum)) {
        input = el("select", { id, name, ...data },
          spec.enum.map((option) =>
            el("option", { value: String(option), selected: String(option) === String(value) },
              humanize(option))));
        input.dataset.kind = typeof spec.enum[0] === "number" ? "number" : "string";
      } else if (spec.type === "boolean") {
        input = el("input", { id, name, type: "checkbox", ...data, checked: Boolean(value) });
        input.dataset.kind = "boolean";
        return el("div", { class: "ui-field-inline" }, input, el("label", { for: id }, label));
      } else if (spec.type === "integer" || spec.type === "number") {
        input = el("input", {
          id, name, type: "number", ...data, value: value ?? "",
          min: spec.minimum, max: spec.maximum, step: spec.type === "integer" ? 1 : "any",
        });
        input.dataset.kind = spec.type;
      } else if (spec.type === "string" && isColour(spec)) {
        // A colour: the system picker and the hex code side by side, kept in step.
        input = el("input", { id, name, type: "text", ...data, maxlength: 7, spellcheck: "false", class: "bl-colour-text" });
        input.value = value ?? "";
        // An empty colour means the component's own default (a clone's saved look, say).
        if (spec.default === "") input.placeholder = "Default";
        input.dataset.kind = "string";
        const swatch = el("input", {
          type: "color",
          class: "bl-colour-swatch",
          "data-colour-for": id,
          "aria-label": `${label}: pick a colour`,
        });
        swatch.value = /^#[0-9a-fA-F]{6}$/.test(value || "") ? value : "#000000";
        return el("div", { class: "ui-field" }, el("label", { for: id }, label),
          el("div", { class: "bl-colour" }, swatch, input));
      } else if (spec.type === "string" && name === "clone_id" && state.clones) {
        input = el("select", { id, name, ...data },
          el("option", { value: "", selected: !value }, "Choose a clone…"),
          state.clones.map((clone) =>
            el("option", { value: clone.id, selected: clone.id === value }, clone.name)));
        input.dataset.kind = "string";
        if (!state.clones.length) {
          const hint = el("p", { class: "ui-hint", id: `${id}-hint` },
            "No clones yet: create one under Clones first.");
          input.setAttribute("aria-describedby", hint.id);
          return el("div", { class: "ui-field" }, el("label", { for: id }, "Clone"), input, hint);
        }
        return el("div", { class: "ui-field" }, el("label", { for: id }, "Clone"), input);
      } else if (spec.type === "string" && name === "asset_id") {
        // Chosen from the media library (the picker below), never typed.
        input = el("input", { id, name, type: "hidden", ...data });
        input.value = value ?? "";
        input.dataset.kind = "string";
        return input;
      } else if (spec.type === "string") {
        const long = name === "html" || (spec.maxLength || 0) > 2000;
        input = long
          ? el("textarea", { id, name, ...data, maxlength: spec.maxLength, rows: 5 })
          : el("input", { id, name, type: "text", ...data, maxlength: spec.maxLength });
        input.value = value ?? "";
        input.dataset.kind = "string";
      } else {
        return el("p", { class: "ui-hint" }, `${label}: edited elsewhere.`);
      }
      if (spec.description) {
        const hint = el("p", { class: "ui-hint", id: `${id}-hint` }, spec.description);
        input.setAttribute("aria-describedby", hint.id);
        return el("div", { class: "ui-field" }, el("label", { for: id }, label), input, hint);
      }
      return el("div", { class: "ui-field" }, el("label", { for: id }, label), input);
    }

    function isColour(spec) {
      return typeof spec.pattern === "string" && spec.pattern.includes("#[0-9a-fA-F]{6}");
    }

    function readField(input) {
      switch (input.dataset.kind) {
        case "boolean":
          return input.checked;
        case "integer":
          return input.value === "" ? null : Number.parseInt(input.value, 10);
        case "number":
          return input.value === "" ? null : Number(input.value);
        default:
          return input.value;
      }
    }

    function renderProps() {
      const found = state.selected && state.page && findNode(state.page.tree, state.selected);
      if (!found) {
        if (state.propsFor !== "") {
          props.replaceChildren(el("p", { class: "ui-muted" }, "Select a component on the page to change it."));
          state.propsFor = "";
        }
        return;
      }
      const { node } = found;
      if (state.propsFor === node.id) {
        for (const input of props.querySelectorAll("[data-prop]")) {
          if (input === document.activeElement) continue;
          const value = node.props[input.dataset.prop];
          if (input.dataset.kind === "boolean") input.checked = Boolean(value);
          else input.value = value ?? "";
        }
        return;
      }
      state.propsFor = node.id;
      const component = state.components.get(node.type) || { label: humanize(node.type), schema: {} };
      const actions = el("div", { class: "bl-props-actions", role: "group", "aria-label": `${component.label} actions` },
        el("button", { type: "button", class: "ui-button ui-button-small", "data-action": "up", "aria-keyshortcuts": "Alt+ArrowUp", disabled: !canManage }, "Move up"),
        el("button", { type: "button", class: "ui-button ui-button-small", "data-action": "down", "aria-keyshortcuts": "Alt+ArrowDown", disabled: !canManage }, "Move down"),
        el("button", { type: "button", class: "ui-button ui-button-small ui-button-danger", "data-action": "delete", disabled: !canManage }, "Delete"),
      );
      const form = el("form", { class: "bl-props-form", novalidate: true, "aria-label": `${component.label} properties` },
        el("fieldset", { class: "ui-fieldset", disabled: !canManage },
          el("legend", { class: "visually-hidden" }, `${component.label} properties`),
          schemaOf(component).map(({ name, spec }) => fieldFor(name, spec, node.props[name]))));
      const fields = schemaOf(component);
      let upload = null;
      if (canManage && fields.some((f) => f.name === "asset_id")) {
        const grid = el("ul", { class: "bl-media-grid", id: "media-grid", "aria-labelledby": "media-heading" },
          el("li", { class: "ui-muted" }, "Loading your pictures…"));
        upload = el("div", { class: "bl-media-picker" },
          el("h4", { id: "media-heading" }, "Picture"),
          grid,
          el("div", { class: "ui-field bl-upload" },
            el("label", { for: "prop-upload" }, "Upload a picture"),
            el("input", {
              id: "prop-upload",
              type: "file",
              accept: "image/png,image/jpeg,image/gif,image/webp",
              "aria-describedby": "prop-upload-hint",
            }),
            el("p", { class: "ui-hint", id: "prop-upload-hint" }, "PNG, JPEG, GIF or WebP. It joins your media library.")));
        fillMediaGrid(grid, node.props.asset_id || "");
      }
      props.replaceChildren(el("h3", {}, component.label), actions, ...(upload ? [upload] : []), form);
    }

    /** The group's media library as a grid of pictures; choosing one sets asset_id. */
    async function fillMediaGrid(grid, current) {
      let items = [];
      try {
        const { data } = await api("GET", `${groupBase}/media?limit=100`);
        items = data.items.filter((item) => item.content_type.startsWith("image/"));
      } catch (err) {
        grid.replaceChildren(el("li", { class: "ui-error" }, problemMessage(err)));
        return;
      }
      if (!grid.isConnected) return;
      if (!items.length) {
        grid.replaceChildren(el("li", { class: "ui-muted bl-media-empty" }, "No pictures yet: upload the first one below."));
        return;
      }
      grid.replaceChildren(...items.map((item) =>
        el("li", {},
          el("button", {
            type: "button",
            class: "bl-media-choice",
            "data-asset": item.id,
            "data-alt": item.alt || "",
            "aria-pressed": String(item.id === current),
          },
            el("img", { src: item.url, alt: "", loading: "lazy", width: 96, height: 72 }),
            el("span", { class: "visually-hidden" }, `Use ${item.alt || item.filename}`)))));
    }

    function chooseMedia(button) {
      const id = state.selected;
      if (!id) return;
      const changes = { asset_id: button.dataset.asset, src: "" };
      const alt = props.querySelector('[data-prop="alt"]');
      if (alt && !alt.value.trim() && button.dataset.alt) changes.alt = button.dataset.alt;
      for (const choice of props.querySelectorAll("[data-asset]")) {
        choice.setAttribute("aria-pressed", String(choice === button));
      }
      return updateProps(id, changes, "Picture chosen");
    }

    function uploadPicture(input) {
      const file = input.files && input.files[0];
      const id = state.selected;
      if (!file || !id) return;
      const data = new FormData();
      data.append("file", file, file.name);
      const alt = props.querySelector('[data-prop="alt"]');
      if (alt && alt.value.trim()) data.append("alt", alt.value.trim());
      input.value = "";
      return mutate("Picture uploaded", async () => {
        const uploaded = await api("POST", `${groupBase}/media`, { form: data });
        return api("PATCH", `${pageUrl}/components/${encodeURIComponent(id)}`, {
          body: { props: { asset_id: uploaded.data.id } },
          ifMatch: state.etag,
        });
      }, {
        done: () => {
          state.propsFor = null; // the picker shows the new picture
        },
      });
    }

    props.addEventListener("click", (event) => {
      const choice = event.target.closest("[data-asset]");
      if (choice) {
        chooseMedia(choice);
        return;
      }
      const button = event.target.closest("[data-action]");
      if (!button || !state.selected) return;
      const id = state.selected;
      if (button.dataset.action === "up") moveBy(id, -1);
      else if (button.dataset.action === "down") moveBy(id, 1);
      else if (button.dataset.action === "delete") deleteComponent(id);
    });

    function saveField(input) {
      const found = state.selected && findNode(state.page.tree, state.selected);
      if (!found) return;
      const name = input.dataset.prop;
      const value = readField(input);
      if (value === found.node.props[name]) return;
      const label = (state.components.get(found.node.type) || {}).label || "Component";
      updateProps(found.node.id, { [name]: value }, `${label} ${FIELD_LABELS[name] || humanize(name)} saved`);
    }

    props.addEventListener("change", (event) => {
      if (!(event.target instanceof HTMLElement)) return;
      if (event.target.id === "prop-upload") uploadPicture(event.target);
      else if (event.target.dataset.colourFor) {
        const text = $(event.target.dataset.colourFor);
        text.value = event.target.value;
        saveField(text);
      }
      else if (event.target.dataset.prop) saveField(event.target);
    });
    props.addEventListener("input", (event) => {
      const target = event.target;
      if (!(target instanceof HTMLInputElement) || !target.classList.contains("bl-colour-text")) return;
      const swatch = props.querySelector(`[data-colour-for="${CSS.escape(target.id)}"]`);
      if (swatch && /^#[0-9a-fA-F]{6}$/.test(target.value)) swatch.value = target.value;
    });
    props.addEventListener("submit", (event) => {
      event.preventDefault();
      const active = document.activeElement;
      if (active instanceof HTMLElement && active.dataset.prop) saveField(active);
    });

    window.addEventListener("beforeunload", (event) => {
      if (state.pending > 0 || state.editing) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    // ---- start

    async function start() {
      setStatus("saving", "Loading…");
      try {
        const [components, page, templates] = await Promise.all([
          api("GET", `${groupBase}/components`),
          api("GET", pageUrl),
          api("GET", `${groupBase}/templates`),
        ]);
        for (const component of components.data) state.components.set(component.type, component);
        buildLibrary(components.data);
        buildSectionLibrary(templates.data.sections);
        if (state.components.has("clone_chat")) {
          // The clone plugin is on: its chat block picks from the group's clones.
          try {
            const { data } = await api("GET", `/api/v1/clone/groups/${groupId}/clones?limit=100`);
            state.clones = data.items;
          } catch {
            state.clones = null; // the text field stays
          }
        }
        state.placeholders = new Set(templates.data.placeholders);
        applyPage(page.data, page.etag);
        await renderCanvas();
        setStatus("saved", "All changes saved");
      } catch (err) {
        setStatus("failed", "Could not load the page");
        retryButton.hidden = true;
        showAlert(problemMessage(err));
      }
    }

    start();
  }

  const views = {
    groups: () => ui.initWorkspaceForm("/builder"),
    group: initGroup,
    site: initSite,
    editor: initEditor,
  };
  const init = views[body.dataset.view];
  if (init) init();
})();
