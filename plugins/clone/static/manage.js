/*
 * Creator Platform — managing AI clones (plain ES2020, no framework, no build step).
 *
 * One file for every page of /clones; <body data-view> says which one:
 *   groups — create a workspace (POST /api/v1/groups);
 *   group  — create a clone (POST /api/v1/clone/groups/{g}/clones);
 *   clone  — one clone: train it and follow the job (GET /api/v1/groups/{g}/jobs/{id})
 *            with a progress bar; add (text, a file, a published website page) and remove
 *            sources; a chat preview that streams the answer (server-sent events read
 *            from fetch's ReadableStream) with its citations; settings saved with PATCH
 *            and If-Match (a 412 asks to reload); analytics; the embed snippet; delete
 *            after typing the clone's name.
 *
 * Writes carry the session's CSRF token (X-CSRF-Token, from GET /api/v1/auth/session). A
 * 401 sends the person to the log-in page and back. No inline script or style: the
 * page's CSP allows scripts from /static only.
 */
(() => {
  "use strict";

  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 400;

  // The API, forms and problems: core's /static/core/ui.js (loaded first), shared with
  // every plugin's pages.
  const ui = window.CreatorUI;
  const {
    OFFLINE,
    ApiError,
    api,
    busy,
    clearInvalid,
    confirmDialog,
    csrf,
    el,
    headersFor,
    markInvalid,
    problemMessage,
    requireFields,
    say,
    showProblem,
    submitButton,
    toLogin,
  } = ui;

  // -- small helpers ------------------------------------------------------------------

  /** "1 source", "2 sources". */
  function count(n, word) {
    return `${Number(n).toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`;
  }

  function whenText(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    const month = date.toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
    const hm = date.toISOString().slice(11, 16);
    return `${date.getUTCDate()} ${month} ${date.getUTCFullYear()}, ${hm} UTC`;
  }

  // Outline icons after Lucide (ISC licence), inline SVG: no emoji font is needed.
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    up: [
      "M7 10v12",
      "M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z",
    ],
    down: [
      "M17 14V2",
      "M9 18.12 10 14H4.17a2 2 0 0 1-1.92-2.56l2.33-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.76a2 2 0 0 0-1.79 1.11L12 22a3.13 3.13 0 0 1-3-3.88Z",
    ],
    link: ["M15 3h6v6", "M10 14 21 3", "M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6"],
  };

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", `cm-icon cm-icon-${name}`);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of ICONS[name]) {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  // -- /clones/{group}: clones ------------------------------------------------------------

  function initGroup() {
    const form = $("clone-form");
    if (!form) return;
    const groupId = body.dataset.groupId;
    const box = $("clone-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      box.textContent = "";
      if (!requireFields(form, box, ["name"])) return;
      const f = form.elements;
      const payload = {
        name: f.namedItem("name").value.trim(),
        purpose: f.namedItem("purpose").value,
        system_prompt: f.namedItem("system_prompt").value.trim(),
      };
      busy(submitButton(form), true);
      try {
        const { data } = await api("POST", `/api/v1/clone/groups/${groupId}/clones`, {
          body: payload,
        });
        window.location.assign(`/clones/${groupId}/${data.id}`);
      } catch (err) {
        showProblem(box, err, form);
        busy(submitButton(form), false);
      }
    });
  }

  // -- /clones/{group}/{clone}: one clone -------------------------------------------------

  const STATUS_LABELS = {
    draft: "Not trained yet",
    training: "Training…",
    active: "Trained",
    failed: "Training failed",
  };
  const SOURCE_STATES = { new: "New", trained: "Trained", changed: "Changed" };
  const SOURCE_KINDS = {
    text: "Text",
    markdown: "Markdown",
    html: "HTML",
    pdf: "PDF",
    page: "Website page",
  };

  function initClone() {
    const groupId = body.dataset.groupId;
    const cloneId = body.dataset.cloneId;
    const canManage = body.dataset.canManage === "true";
    const cloneUrl = `/api/v1/clone/groups/${groupId}/clones/${cloneId}`;
    const state = {
      name: body.dataset.cloneName,
      etag: `"${body.dataset.cloneVersion}"`,
      status: body.dataset.cloneStatus,
      polling: false,
    };

    function applyClone(clone, etag) {
      state.name = clone.name;
      state.etag = etag || `"${clone.version}"`;
      body.dataset.cloneName = clone.name;
      setStatus(clone.status);
      $("clone-title").textContent = clone.name;
      const crumb = document.querySelector('.ui-breadcrumbs [aria-current="page"]');
      if (crumb) crumb.textContent = clone.name;
      document.title = `${clone.name} · Creator Platform`;
      document.querySelectorAll(".cm-delete-name").forEach((node) => {
        node.textContent = clone.name;
      });
      $("welcome-text").textContent = clone.welcome_message;
      document.querySelectorAll(".cm-welcome .cm-msg-who, .cm-answer-who").forEach((node) => {
        node.textContent = clone.name;
      });
      const trained = $("trained-at");
      if (clone.trained_at) {
        trained.replaceChildren(
          "Last trained ",
          el("time", { datetime: clone.trained_at }, whenText(clone.trained_at)),
          ".",
        );
      }
      const train = $("train-button");
      if (train) train.textContent = clone.trained_at ? "Retrain" : "Train";
    }

    function setStatus(status) {
      state.status = status;
      body.dataset.cloneStatus = status;
      const badge = $("clone-status");
      badge.className = `ui-badge cm-status-${status}`;
      badge.textContent = STATUS_LABELS[status] || status;
    }

    async function reloadClone() {
      const { data, etag } = await api("GET", cloneUrl);
      applyClone(data, etag);
      return data;
    }

    // ---- training

    const trainButton = $("train-button");
    const bar = $("training-bar");
    const progressText = $("training-text");
    const trainingError = $("training-error");

    function showProgress(done, total) {
      bar.hidden = false;
      if (total) {
        bar.max = total;
        bar.value = Math.min(done, total);
        progressText.textContent = `Training: ${done} of ${total} sources done.`;
      } else {
        bar.removeAttribute("value"); // indeterminate
        progressText.textContent = "Training…";
      }
    }

    async function follow(jobId) {
      if (state.polling) return;
      state.polling = true;
      busy(trainButton, true);
      setStatus("training");
      trainingError.textContent = "";
      showProgress(0, 0);
      progressText.textContent = "Waiting for training to start…";
      let last = "";
      try {
        for (;;) {
          const { data: job } = await api("GET", `/api/v1/groups/${groupId}/jobs/${jobId}`);
          if (job.status === "complete") {
            const result = job.result || {};
            const total = job.progress && job.progress.total;
            if (total) {
              bar.max = total;
              bar.value = total;
            } else {
              bar.max = 1;
              bar.value = 1;
            }
            const learned =
              result.chunks !== undefined
                ? ` Learned ${count(result.chunks, "passage")} ` +
                  `from ${count(result.sources, "source")}.`
                : "";
            progressText.textContent = `Training complete.${learned}`;
            break;
          }
          if (job.status === "failed" || job.status === "not_found") {
            bar.hidden = true;
            progressText.textContent = "";
            trainingError.textContent =
              job.status === "failed"
                ? `Training failed: ${job.error || "unknown error"}`
                : "The training's record has expired. Reload the page to see the clone's state.";
            break;
          }
          if (job.status === "in_progress" && job.progress) {
            const text = `${job.progress.done}/${job.progress.total}`;
            if (text !== last) showProgress(job.progress.done, job.progress.total);
            last = text;
          }
          await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
        }
      } catch (err) {
        bar.hidden = true;
        progressText.textContent = "";
        trainingError.textContent = `Training could not be followed: ${problemMessage(err)}`;
      } finally {
        state.polling = false;
        busy(trainButton, false);
      }
      try {
        const clone = await reloadClone();
        if (clone.status === "failed" && clone.training_error) {
          trainingError.textContent = `Training failed: ${clone.training_error}`;
        }
        await refreshSources();
      } catch (err) {
        trainingError.textContent = problemMessage(err);
      }
    }

    if (trainButton) {
      trainButton.addEventListener("click", async () => {
        trainingError.textContent = "";
        busy(trainButton, true);
        try {
          const { data } = await api("POST", `${cloneUrl}/train`);
          applyClone(data.clone);
          busy(trainButton, false);
          await follow(data.job_id);
        } catch (err) {
          busy(trainButton, false);
          trainingError.textContent = problemMessage(err);
        }
      });
    }
    if (state.status === "training" && body.dataset.trainingJob) {
      follow(body.dataset.trainingJob); // training started elsewhere or before a reload
    }

    // ---- sources

    const sourceList = $("source-list");
    const noSources = $("no-sources");
    const sourcesStatus = $("sources-status");
    const sourcesError = $("sources-error");
    const confirm = $("confirm-dialog");

    function sourceItem(source) {
      const facts = [SOURCE_KINDS[source.kind] || source.kind];
      if (source.filename) facts.push(source.filename);
      facts.push(count(source.chars, "character"));
      if (source.state !== "new") facts.push(count(source.chunk_count, "passage"));
      return el(
        "li",
        { "data-source-id": source.id, "data-source-title": source.title },
        el("span", { class: "ui-item-title" }, source.title),
        " ",
        el(
          "span",
          { class: `ui-badge cm-state-${source.state}` },
          SOURCE_STATES[source.state] || source.state,
        ),
        " ",
        el("span", { class: "ui-muted" }, facts.join(" · ")),
        canManage
          ? [
              " ",
              el(
                "button",
                {
                  type: "button",
                  class: "ui-button ui-button-small ui-button-danger cm-remove-source",
                  "aria-label": `Remove source ${source.title}`,
                },
                "Remove",
              ),
            ]
          : null,
      );
    }

    async function refreshSources() {
      const { data } = await api("GET", `${cloneUrl}/sources?limit=200`);
      sourceList.replaceChildren(...data.items.map(sourceItem));
      noSources.hidden = data.items.length > 0;
      await loadPages();
      return data.items;
    }

    async function added(form, box, promise) {
      box.textContent = "";
      busy(submitButton(form), true);
      try {
        const { data } = await promise();
        form.reset();
        clearInvalid(form);
        await refreshSources();
        say(sourcesStatus, `Source “${data.title}” added. Train the clone to use it.`);
      } catch (err) {
        showProblem(box, err, form);
      } finally {
        busy(submitButton(form), false);
      }
    }

    const textForm = $("text-source-form");
    if (textForm) {
      const box = $("text-source-error");
      textForm.addEventListener("submit", (event) => {
        event.preventDefault();
        box.textContent = "";
        if (!requireFields(textForm, box, ["title", "text"])) return;
        const f = textForm.elements;
        added(textForm, box, () =>
          api("POST", `${cloneUrl}/sources`, {
            body: {
              kind: f.namedItem("kind").value,
              title: f.namedItem("title").value.trim(),
              text: f.namedItem("text").value,
            },
          }),
        );
      });
    }

    const fileForm = $("file-source-form");
    if (fileForm) {
      const box = $("file-source-error");
      fileForm.addEventListener("submit", (event) => {
        event.preventDefault();
        box.textContent = "";
        if (!requireFields(fileForm, box, ["file"])) return;
        const form = new FormData();
        form.append("file", fileForm.elements.namedItem("file").files[0]);
        const title = fileForm.elements.namedItem("title").value.trim();
        if (title) form.append("title", title);
        added(fileForm, box, () => api("POST", `${cloneUrl}/sources/file`, { form }));
      });
    }

    const pageForm = $("page-source-form");
    const pageSelect = $("page-source-page");

    /** Published website pages the clone does not learn from yet (generic things API). */
    async function loadPages() {
      if (!pageSelect) return;
      const have = new Set(
        Array.from(sourceList.querySelectorAll("li[data-source-id]"), (li) => li.dataset.sourceId),
      );
      let pages = [];
      try {
        const { data } = await api(
          "GET",
          `/api/v1/groups/${groupId}/things?type=page&status=published&limit=200`,
        );
        pages = data.items.filter((page) => !have.has(page.id));
      } catch (err) {
        pageSelect.replaceChildren(el("option", { value: "" }, "Pages could not be loaded"));
        $("page-source-error").textContent = problemMessage(err);
        return;
      }
      pages.sort((a, b) => a.name.localeCompare(b.name));
      const options = pages.map((page) => {
        const slug = page.properties && page.properties.slug ? ` (/${page.properties.slug})` : "";
        return el("option", { value: page.id }, `${page.name}${slug}`);
      });
      if (!options.length) {
        options.push(el("option", { value: "" }, "No published pages to add"));
      }
      pageSelect.replaceChildren(...options);
    }

    if (pageForm) {
      const box = $("page-source-error");
      pageForm.addEventListener("submit", (event) => {
        event.preventDefault();
        box.textContent = "";
        if (!pageSelect.value) {
          box.textContent = "Choose a published page. Publish one in the website builder first.";
          markInvalid(pageSelect, box);
          return;
        }
        added(pageForm, box, () =>
          api("POST", `${cloneUrl}/sources`, {
            body: { kind: "page", thing_id: pageSelect.value },
          }),
        );
      });
      loadPages();
    }

    if (canManage && confirm) {
      sourceList.addEventListener("click", async (event) => {
        const button = event.target.closest(".cm-remove-source");
        if (!button) return;
        const item = button.closest("li");
        const title = item.dataset.sourceTitle;
        const sure = await confirmDialog(
          confirm,
          `The clone stops learning from “${title}” when it trains next. Text you pasted or ` +
            "uploaded is deleted; a website page stays on your website.",
        );
        if (!sure) return;
        sourcesError.textContent = "";
        try {
          await api("DELETE", `${cloneUrl}/sources/${item.dataset.sourceId}`);
          const next = item.nextElementSibling || item.previousElementSibling;
          const nextId = next ? next.dataset.sourceId : null;
          await refreshSources();
          say(sourcesStatus, `Source “${title}” removed.`);
          const focus = nextId
            ? sourceList.querySelector(`li[data-source-id="${CSS.escape(nextId)}"] button`)
            : null;
          if (focus) focus.focus();
          else $("text-source-title")?.focus();
        } catch (err) {
          sourcesError.textContent = problemMessage(err);
        }
      });
    }

    // ---- chat preview

    const chatForm = $("chat-form");
    const chatLog = $("chat-log");
    const chatBox = $("chat-error");
    const question = $("chat-question");
    const sendButton = $("chat-send");
    let threadId = null;

    function message(role, text) {
      const who =
        role === "user"
          ? el("p", { class: "cm-msg-who" }, "You")
          : el("p", { class: "cm-msg-who cm-answer-who" }, state.name);
      const textNode = el("p", { class: "cm-msg-text" }, text);
      const node = el("div", { class: `cm-msg cm-msg-${role}` }, who, textNode);
      chatLog.append(node);
      node.scrollIntoView({ block: "nearest" });
      return { node, textNode };
    }

    const SOURCE_KIND_LABELS = { ...SOURCE_KINDS, page: "Website page" };

    /** A browser text fragment: opens a page scrolled to `quote`, highlighted. */
    function textFragment(quote) {
      const words = quote.replace(/\u2026$/, "").split(/\s+/).filter(Boolean);
      if (!words.length) return "";
      const part = (list) => encodeURIComponent(list.join(" ")).replace(/-/g, "%2D");
      if (words.length <= 12) return `#:~:text=${part(words)}`;
      return `#:~:text=${part(words.slice(0, 6))},${part(words.slice(-6))}`;
    }

    /** `text` as nodes, its [start, end) spans in <mark>. */
    function markedText(text, spans) {
      const nodes = [];
      let at = 0;
      for (const [start, end] of spans || []) {
        if (start < at || end > text.length || end <= start) continue;
        if (start > at) nodes.push(text.slice(at, start));
        nodes.push(el("mark", {}, text.slice(start, end)));
        at = end;
      }
      if (at < text.length) nodes.push(text.slice(at));
      return nodes;
    }

    /** One cited passage: its source (linked: the public page, else the source's text
     *  here, both opened at the passage), and the sentences that answered. */
    function citation(cite, number) {
      const href =
        cite.url ||
        `/clones/${groupId}/${cloneId}/sources/${cite.source_id}${textFragment(cite.quote || "")}`;
      const title = cite.title || "Source";
      const kind = SOURCE_KIND_LABELS[cite.kind] || "";
      return el(
        "li",
        { class: "cm-cite" },
        el(
          "div",
          { class: "cm-cite-head" },
          el("span", { class: "cm-cite-num", "aria-hidden": "true" }, String(number)),
          el(
            "a",
            {
              href,
              target: "_blank",
              rel: "noopener",
              class: "cm-cite-title",
              "aria-label": `${title}: open the source at this passage (new tab)`,
            },
            title,
            icon("link"),
          ),
          kind ? el("span", { class: "cm-cite-kind" }, kind) : null,
        ),
        cite.quote
          ? el("blockquote", { class: "cm-cite-quote" }, markedText(cite.quote, cite.marks))
          : null,
      );
    }

    /** Helpful / not helpful, recorded as a visitor's rating is (feedback_given). */
    function rating(view) {
      const status = el("span", { class: "cm-rate-status", role: "status" });
      const buttons = [
        ["up", "Helpful"],
        ["down", "Not helpful"],
      ].map(([value, label]) => {
        const button = el(
          "button",
          {
            type: "button",
            class: "cm-rate-button",
            "aria-label": label,
            title: label,
            "aria-pressed": view.feedback === value ? "true" : "false",
            "data-feedback": value,
          },
          icon(value),
        );
        button.addEventListener("click", async () => {
          status.textContent = "";
          busy(button, true);
          try {
            await api("POST", `${cloneUrl}/threads/${view.thread_id}/messages/${view.id}/feedback`, {
              body: { feedback: value },
            });
            for (const other of buttons) other.setAttribute("aria-pressed", "false");
            button.setAttribute("aria-pressed", "true");
            status.textContent = "Thanks: counted in Analytics.";
            loadAnalytics();
          } catch (err) {
            status.textContent = problemMessage(err);
          } finally {
            busy(button, false);
          }
        });
        return button;
      });
      return el(
        "div",
        { class: "cm-rate", role: "group", "aria-label": "Rate this answer" },
        el("span", { class: "cm-rate-label" }, "Was this helpful?"),
        buttons,
        status,
      );
    }

    /** The answer's text with its [n] markers as small source numbers. */
    function withSourceNumbers(text) {
      const nodes = [];
      const marker = /\s?\[(\d{1,3})\]/g;
      let at = 0;
      for (const found of text.matchAll(marker)) {
        if (found.index > at) nodes.push(text.slice(at, found.index));
        nodes.push(
          el(
            "sup",
            { class: "cm-cite-ref" },
            el("span", { class: "visually-hidden" }, " source "),
            found[1],
          ),
        );
        at = found.index + found[0].length;
      }
      if (at < text.length) nodes.push(text.slice(at));
      return nodes;
    }

    function finishAnswer(answer, view) {
      answer.textNode.replaceChildren(...withSourceNumbers(view.content));
      if (view.unanswered) {
        answer.node.classList.add("cm-msg-unanswered");
        answer.node.append(
          el(
            "p",
            { class: "cm-unanswered" },
            el("span", { class: "ui-badge cm-badge-unknown" }, "Didn’t know"),
            " Nothing the clone has learned answers this. It is listed under content gaps " +
              "in Analytics: add a source that covers it, then retrain.",
          ),
        );
      }
      if (view.citations && view.citations.length) {
        const list = el(
          "ol",
          { class: "cm-citations", "aria-label": "Sources of this answer" },
          view.citations.map((cite, i) => citation(cite, i + 1)),
        );
        answer.node.append(el("p", { class: "cm-cite-heading" }, "Sources"), list);
      }
      if (view.id && !view.unanswered) answer.node.append(rating(view));
      answer.node.removeAttribute("aria-busy");
      answer.node.scrollIntoView({ block: "nearest" });
    }

    /** Server-sent events from a fetch response: calls onEvent(name, data) per event. */
    async function readEvents(response, onEvent) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
        buffer = buffer.replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let name = "message";
          const lines = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) lines.push(line.slice(5).replace(/^ /, ""));
          }
          if (lines.length) onEvent(name, JSON.parse(lines.join("\n")));
        }
        if (done) return;
      }
    }

    async function ask(content, retried = false) {
      if (!threadId) {
        const { data } = await api("POST", `${cloneUrl}/threads`, { body: {} });
        threadId = data.id;
      }
      const url = `${cloneUrl}/threads/${threadId}/messages?stream=true`;
      let response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: await headersFor("POST", { accept: "text/event-stream" }),
          credentials: "same-origin",
          body: JSON.stringify({ content }),
        });
      } catch {
        throw new ApiError(0, OFFLINE);
      }
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        if (response.status === 401) toLogin();
        if (response.status === 403 && problem.code === "csrf_failed" && !retried) {
          await csrf(true);
          return ask(content, true);
        }
        throw new ApiError(response.status, problem);
      }
      const answer = message("assistant", "");
      answer.node.setAttribute("aria-busy", "true");
      let finished = false;
      await readEvents(response, (name, data) => {
        if (name === "delta") {
          answer.textNode.textContent += data.text;
        } else if (name === "done") {
          finished = true;
          finishAnswer(answer, data);
        } else if (name === "error") {
          finished = true;
          answer.node.removeAttribute("aria-busy");
          answer.node.classList.add("cm-msg-failed");
          answer.node.append(
            el("p", { class: "ui-error" }, `The answer broke off: ${data.detail || data.title}`),
          );
        }
      });
      if (!finished) {
        answer.node.removeAttribute("aria-busy");
        answer.node.append(el("p", { class: "ui-error" }, "The answer broke off. Ask again."));
      }
    }

    chatForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      chatBox.textContent = "";
      const content = question.value.trim();
      if (!content) {
        chatBox.textContent = "Type a question first.";
        markInvalid(question, chatBox);
        return;
      }
      question.removeAttribute("aria-invalid");
      busy(sendButton, true);
      message("user", content);
      question.value = "";
      try {
        await ask(content);
        loadAnalytics();
      } catch (err) {
        chatBox.textContent = problemMessage(err);
        if (!question.value) question.value = content;
      } finally {
        busy(sendButton, false);
        question.focus();
      }
    });
    question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!sendButton.disabled) chatForm.requestSubmit();
      }
    });
    $("chat-new").addEventListener("click", () => {
      threadId = null;
      chatLog.querySelectorAll(".cm-msg:not(.cm-welcome)").forEach((node) => node.remove());
      chatBox.textContent = "";
      question.focus();
    });

    // ---- settings (PATCH with If-Match; only what changed is sent)

    const settingsForm = $("clone-settings");
    const settingsFields = [
      "name",
      "purpose",
      "system_prompt",
      "temperature",
      "provider",
      "model",
      "welcome_message",
    ];

    function snapshot(form, names) {
      const out = {};
      for (const name of names) {
        const input = form.elements.namedItem(name);
        if (input) out[name] = input.value;
      }
      return out;
    }

    let savedSettings = snapshot(settingsForm, settingsFields);

    const STALE =
      "This clone was changed somewhere else (in another tab, or by someone else). " +
      "Reload the page to see the changes, then make yours again.";

    async function save(patch, box, status, form) {
      box.textContent = "";
      status.textContent = "";
      const { data, etag } = await api("PATCH", cloneUrl, { body: patch, ifMatch: state.etag });
      applyClone(data, etag);
      return data;
    }

    settingsForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = $("settings-error");
      const status = $("settings-status");
      box.textContent = "";
      status.textContent = "";
      if (!requireFields(settingsForm, box, ["name"])) return;
      const now = snapshot(settingsForm, settingsFields);
      const patch = {};
      for (const name of settingsFields) {
        if (now[name] === savedSettings[name]) continue;
        patch[name] = name === "system_prompt" ? now[name] : now[name].trim();
      }
      if ("temperature" in patch) {
        const value = Number(patch.temperature);
        if (patch.temperature === "" || !Number.isFinite(value) || value < 0 || value > 2) {
          box.textContent = "Temperature must be a number from 0 to 2.";
          markInvalid(settingsForm.elements.namedItem("temperature"), box);
          return;
        }
        patch.temperature = value;
      }
      if (!Object.keys(patch).length) {
        status.textContent = "Nothing changed.";
        return;
      }
      busy(submitButton(settingsForm), true);
      try {
        const clone = await save(patch, box, status, settingsForm);
        const f = settingsForm.elements;
        for (const name of settingsFields) {
          const input = f.namedItem(name);
          if (input && clone[name] !== undefined && clone[name] !== null) {
            input.value = String(clone[name]);
          }
        }
        savedSettings = snapshot(settingsForm, settingsFields);
        clearInvalid(settingsForm);
        status.textContent = "Settings saved.";
      } catch (err) {
        if (err.status === 412) box.textContent = STALE;
        else showProblem(box, err, settingsForm);
      } finally {
        busy(submitButton(settingsForm), false);
      }
    });

    const originsForm = $("origins-form");
    if (originsForm) {
      const input = originsForm.elements.namedItem("allowed_origins");
      const lines = () =>
        input.value
          .split("\n")
          .map((line) => line.trim())
          .filter(Boolean);
      let savedOrigins = JSON.stringify(lines());
      originsForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const box = $("origins-error");
        const status = $("origins-status");
        box.textContent = "";
        status.textContent = "";
        const origins = lines();
        if (JSON.stringify(origins) === savedOrigins) {
          status.textContent = "Nothing changed.";
          return;
        }
        busy(submitButton(originsForm), true);
        try {
          const clone = await save({ allowed_origins: origins }, box, status, originsForm);
          const kept = Array.isArray(clone.allowed_origins) ? clone.allowed_origins : origins;
          input.value = kept.join("\n");
          savedOrigins = JSON.stringify(kept);
          clearInvalid(originsForm);
          status.textContent = "Allowed websites saved.";
        } catch (err) {
          const bad = /^allowed_origins\[(\d+)\]$/.exec(String(err.problem.field || ""));
          if (err.status === 412) {
            box.textContent = STALE;
          } else if (bad && origins[Number(bad[1])] !== undefined) {
            // The API names the line; its pattern is no message for people.
            showProblem(box, err, originsForm);
            box.textContent =
              `“${origins[Number(bad[1])]}” is not a website address. Write each one like ` +
              "https://www.example.com (no path).";
          } else {
            showProblem(box, err, originsForm);
          }
        } finally {
          busy(submitButton(originsForm), false);
        }
      });
    }

    const lookForm = $("look-form");
    if (lookForm) {
      lookForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const box = $("look-error");
        const status = $("look-status");
        box.textContent = "";
        status.textContent = "";
        const theme = { accent: lookForm.elements.namedItem("accent").value };
        const avatar = lookForm.elements.namedItem("avatar_url").value.trim();
        if (avatar) theme.avatar_url = avatar;
        busy(submitButton(lookForm), true);
        try {
          await save({ widget_theme: theme }, box, status, lookForm);
          clearInvalid(lookForm);
          const snippet = $("embed-snippet");
          snippet.value = snippet.value.replace(
            /data-color="#[0-9a-fA-F]{6}"/,
            `data-color="${theme.accent}"`,
          );
          status.textContent = "The bubble's look is saved, and the snippet carries it.";
        } catch (err) {
          if (err.status === 412) {
            box.textContent = STALE;
          } else if (String(err.problem.field || "").includes("avatar_url")) {
            showProblem(box, err, lookForm);
            box.textContent = "The picture must be an https address, like https://www.example.com/me.jpg.";
          } else {
            showProblem(box, err, lookForm);
          }
        } finally {
          busy(submitButton(lookForm), false);
        }
      });
    }

    // ---- embed snippet

    $("copy-snippet").addEventListener("click", async () => {
      const snippet = $("embed-snippet");
      const status = $("copy-status");
      try {
        await navigator.clipboard.writeText(snippet.value);
        say(status, "Copied.");
      } catch {
        snippet.focus();
        snippet.select();
        say(status, "Selected: press Ctrl+C (or ⌘C) to copy.");
      }
    });

    // ---- analytics

    const analytics = $("analytics");
    const daysSelect = $("analytics-days");
    let analyticsRequest = 0;

    function stat(label, value, note) {
      return el(
        "div",
        { class: "cm-stat" },
        el("dt", {}, label),
        el(
          "dd",
          {},
          el("span", { class: "cm-stat-value" }, value),
          note ? [" ", el("span", { class: "ui-muted" }, note)] : null,
        ),
      );
    }

    function table(caption, headers, rows) {
      return el(
        "table",
        { class: "cm-table" },
        el("caption", {}, caption),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))),
        ),
      );
    }

    function renderAnalytics(a) {
      const ms = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)} ms`);
      const feedback = a.feedback || {};
      const latency = a.latency_ms || {};
      const parts = [
        el(
          "dl",
          { class: "cm-stats" },
          stat("Conversations", a.conversations),
          stat("Questions", a.questions),
          stat("Answers", a.answers),
          stat("Unanswered", a.unanswered, `(${percent(a.unanswered_rate)})`),
          stat(
            "Helpful ratings",
            percent(feedback.up_rate),
            `(${feedback.up || 0} up, ${feedback.down || 0} down)`,
          ),
          stat("Response time", ms(latency.p50), `median; 95th percentile ${ms(latency.p95)}`),
        ),
      ];
      const top = a.top_questions || [];
      parts.push(
        top.length
          ? table(
              "Top questions",
              ["Question", "Times asked"],
              top.map((q) => [q.question, String(q.count)]),
            )
          : el("p", { class: "ui-muted" }, "No questions asked in this period."),
      );
      const gaps = a.content_gaps || [];
      parts.push(
        gaps.length
          ? table(
              "Content gaps: questions the clone could not answer",
              ["Question", "Times asked", "Last asked", "Suggestion"],
              gaps.map((g) => [
                g.question,
                String(g.count),
                g.last_asked
                  ? el("time", { datetime: g.last_asked }, whenText(g.last_asked))
                  : "—",
                g.suggestion || "",
              ]),
            )
          : el(
              "p",
              { class: "ui-muted" },
              "No content gaps in this period: every question found an answer.",
            ),
      );
      analytics.replaceChildren(...parts);
    }

    async function loadAnalytics() {
      const ticket = ++analyticsRequest;
      analytics.setAttribute("aria-busy", "true");
      try {
        const { data } = await api("GET", `${cloneUrl}/analytics?days=${daysSelect.value}`);
        if (ticket !== analyticsRequest) return;
        renderAnalytics(data);
      } catch (err) {
        if (ticket !== analyticsRequest) return;
        const missing = err.status === 404 || err.status === 405;
        analytics.replaceChildren(
          el(
            "p",
            { class: missing ? "ui-muted" : "ui-error" },
            missing
              ? "Analytics are not available."
              : `Analytics could not be loaded: ${problemMessage(err)}`,
          ),
        );
      } finally {
        if (ticket === analyticsRequest) analytics.setAttribute("aria-busy", "false");
      }
    }
    daysSelect.addEventListener("change", loadAnalytics);
    loadAnalytics();

    // ---- delete (type the name to confirm)

    const deleteButton = $("delete-button");
    const deleteDialog = $("delete-dialog");
    if (deleteButton && deleteDialog) {
      const deleteForm = $("delete-form");
      const typed = $("delete-confirm");
      const yes = $("delete-yes");
      const box = $("delete-error");
      const matches = () => typed.value.trim() === state.name.trim();
      typed.addEventListener("input", () => {
        yes.disabled = !matches();
      });
      deleteButton.addEventListener("click", () => {
        typed.value = "";
        yes.disabled = true;
        box.textContent = "";
        deleteDialog.showModal();
        typed.focus();
      });
      $("delete-no").addEventListener("click", () => deleteDialog.close());
      deleteDialog.addEventListener("close", () => {
        if (deleteButton.isConnected) deleteButton.focus();
      });
      deleteForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        box.textContent = "";
        if (!matches()) {
          box.textContent = "Type the clone's name exactly as shown to delete it.";
          markInvalid(typed, box);
          return;
        }
        busy(yes, true);
        try {
          await api("DELETE", cloneUrl);
          window.location.assign(`/clones/${groupId}`);
        } catch (err) {
          box.textContent = problemMessage(err);
          busy(yes, false);
        }
      });
    }
  }

  // -- start --------------------------------------------------------------------------

  const views = {
    groups: () => ui.initWorkspaceForm("/clones"),
    group: initGroup,
    clone: initClone,
  };
  const init = views[body.dataset.view];
  if (init) init();
})();
