/*
 * Creator Platform — what every plugin's pages share (plain ES2020, no framework, no build
 * step). A page loads this file before its own script, both with `defer` (deferred scripts
 * run in order):
 *
 *   <script src="/static/core/ui.js" defer></script>
 *   <script src="/static/<plugin>/<page>.js" defer></script>
 *
 * It defines one global, `CreatorUI`, and touches nothing else. One copy serves the
 * website builder, the clone management pages and a third party's pages alike, so they
 * talk to the API and show its problems the same way:
 *
 *   api(method, url, {body, form, ifMatch, accept})  one JSON API call; writes carry the
 *       session's CSRF token (X-CSRF-Token, from GET /api/v1/auth/session, fetched once
 *       and again when the API says csrf_failed); a 401 sends the person to the log-in
 *       page and back; problem+json errors become ApiError (status, problem, code);
 *   headersFor, csrf, toLogin, ApiError, OFFLINE       for requests api() does not cover
 *       (a streamed response);
 *   el(tag, attrs, ...children)                        an element, text escaped;
 *   problemMessage, showProblem, requireFields, clearInvalid, markInvalid   errors in a
 *       role="alert" box, the field the problem names marked aria-invalid and focused;
 *   busy, submitButton, values, say, confirmDialog, autoSlug, slugify, randomSuffix,
 *   humanize                                           small form helpers;
 *   initWorkspaceForm(home)                            the "create a workspace" form
 *       (#workspace-form): creates the group and goes to `${home}/${id}`.
 *
 * No inline script or style: the pages' CSP allows scripts from /static only.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  // -- the API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      const p = problem && typeof problem === "object" ? problem : {};
      super(p.detail || p.title || (status ? `The request failed (${status}).` : "Network error."));
      this.status = status;
      this.problem = p;
      this.code = p.code || "";
    }
  }

  const OFFLINE = Object.freeze({
    detail: "The server could not be reached. Check your connection.",
  });
  let csrfToken = null;

  /** To the log-in page, coming back here afterwards. */
  function toLogin() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/account/login?next=${encodeURIComponent(next)}`);
  }

  /** The session's CSRF token (fetched once; again with refresh). */
  async function csrf(refresh = false) {
    if (csrfToken && !refresh) return csrfToken;
    let response;
    try {
      response = await fetch("/api/v1/auth/session", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch {
      throw new ApiError(0, OFFLINE);
    }
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, { detail: "Your session has ended. Log in again." });
    }
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
    csrfToken = (await response.json()).csrf_token;
    return csrfToken;
  }

  /** The request's headers; writes carry the CSRF token. */
  async function headersFor(method, { json = true, ifMatch = null, accept = "application/json" } = {}) {
    const headers = { Accept: accept };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = await csrf();
      if (json) headers["Content-Type"] = "application/json"; // multipart sets its own
    }
    if (ifMatch) headers["If-Match"] = ifMatch;
    return headers;
  }

  /** One API call: JSON in, JSON (or text) out; problem+json errors become ApiError. */
  async function api(method, url, { body: payload, form, ifMatch, accept, retried = false } = {}) {
    const headers = await headersFor(method, { json: !form, ifMatch, accept });
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        body: form || (payload === undefined ? undefined : JSON.stringify(payload)),
      });
    } catch {
      throw new ApiError(0, OFFLINE);
    }
    let data = null;
    if (response.status !== 204) {
      const type = response.headers.get("content-type") || "";
      data = type.includes("json")
        ? await response.json().catch(() => null)
        : await response.text();
    }
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, data);
    }
    if (response.status === 403 && data && data.code === "csrf_failed" && !retried) {
      await csrf(true);
      return api(method, url, { body: payload, form, ifMatch, accept, retried: true });
    }
    if (!response.ok) {
      throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
    }
    return { data, etag: response.headers.get("ETag"), status: response.status };
  }

  // -- elements and words -------------------------------------------------------------

  /** el("p", {class: "x"}, "text", child, …): an element; attributes set as attributes. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function slugify(text, max = 63) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, max)
      .replace(/-+$/g, "");
  }

  function randomSuffix() {
    const bytes = crypto.getRandomValues(new Uint8Array(4));
    return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
  }

  function humanize(name) {
    const words = String(name).replace(/_/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** Announce text in a live region (emptied first, so the same words are read again). */
  function say(region, text) {
    region.textContent = "";
    window.setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  // -- forms and problems -------------------------------------------------------------

  function problemMessage(err) {
    if (err.code === "quota_exceeded") {
      const limit = err.problem.limit !== undefined ? ` (limit: ${err.problem.limit})` : "";
      return `You have reached your plan's limit${limit}. ${err.message}`;
    }
    if (err.code === "forbidden") return `You are not allowed to do this: ${err.message}`;
    return err.message;
  }

  function clearInvalid(form) {
    form.querySelectorAll('[aria-invalid="true"]').forEach((input) => {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-errormessage");
    });
  }

  function markInvalid(input, box) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-errormessage", box.id);
    input.focus();
  }

  /** Show an error in a role="alert" box and mark the field the problem names. */
  function showProblem(box, err, form) {
    box.textContent = problemMessage(err);
    if (!form) return;
    clearInvalid(form);
    // "properties.name" or "allowed_origins[2]" names the form field "name" / "allowed_origins".
    const field = String(err.problem.field || "")
      .split(".")
      .pop()
      .replace(/\[\d+\]$/, "");
    const input = field ? form.elements.namedItem(field) : null;
    if (input instanceof HTMLElement) markInvalid(input, box);
  }

  /** False (and the first empty field named and marked) unless every field has a value. */
  function requireFields(form, box, names) {
    clearInvalid(form);
    for (const name of names) {
      const input = form.elements.namedItem(name);
      if (!input) continue;
      const empty = input.type === "file" ? !input.files.length : !String(input.value).trim();
      if (empty) {
        const label = form.querySelector(`label[for="${input.id}"]`);
        // The label's own words, without a trailing "(optional …)".
        const what = label ? label.childNodes[0].textContent.trim() : humanize(name);
        box.textContent = input.type === "file" ? "Choose a file." : `${what} is required.`;
        markInvalid(input, box);
        return false;
      }
    }
    return true;
  }

  function submitButton(form) {
    return form.querySelector('button[type="submit"]');
  }

  /** Disable a button (a form: its submit button) while its request runs. */
  function busy(target, on) {
    const button = target instanceof HTMLFormElement ? submitButton(target) : target;
    if (!button) return;
    button.disabled = on;
    if (on) button.setAttribute("aria-busy", "true");
    else button.removeAttribute("aria-busy");
  }

  /** A form's fields as trimmed strings. */
  function values(form) {
    const out = {};
    for (const [key, value] of new FormData(form).entries()) out[key] = String(value).trim();
    return out;
  }

  /** Fill a slug field from another field until the person edits the slug themselves. */
  function autoSlug(form) {
    for (const slug of form.querySelectorAll("[data-slug-from]")) {
      const source = $(slug.dataset.slugFrom);
      if (!source) continue;
      slug.addEventListener("input", () => {
        slug.dataset.touched = slug.value ? "1" : "";
      });
      const follow = () => {
        if (!slug.dataset.touched) slug.value = slugify(source.value);
      };
      source.addEventListener("input", follow);
      if (source.value && !slug.value) follow(); // typed before this script ran
    }
  }

  /** A modal confirmation (<dialog>): resolves true when confirmed. */
  function confirmDialog(dialog, text) {
    return new Promise((resolve) => {
      const yes = dialog.querySelector("#confirm-yes");
      const no = dialog.querySelector("#confirm-no");
      const opener = document.activeElement;
      dialog.querySelector("#confirm-text").textContent = text;
      const finish = (answer) => {
        yes.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        dialog.removeEventListener("cancel", onNo);
        if (dialog.open) dialog.close();
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(answer);
      };
      const onYes = () => finish(true);
      const onNo = (event) => {
        if (event) event.preventDefault();
        finish(false);
      };
      yes.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      dialog.addEventListener("cancel", onNo);
      dialog.showModal();
      no.focus();
    });
  }

  // -- the workspaces page ------------------------------------------------------------

  /** Create a workspace (POST /api/v1/groups) from #workspace-form, then go to
   * `${home}/${group id}`. The slug is made from the name, made unique by a suffix. */
  function initWorkspaceForm(home) {
    const form = $("workspace-form");
    if (!form) return;
    const box = $("workspace-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      box.textContent = "";
      if (!requireFields(form, box, ["name"])) return;
      const name = form.elements.namedItem("name").value.trim();
      const slug = `${slugify(name, 50) || "workspace"}-${randomSuffix()}`;
      busy(form, true);
      try {
        const { data } = await api("POST", "/api/v1/groups", { body: { name, slug } });
        window.location.assign(`${home}/${data.id}`);
      } catch (err) {
        showProblem(box, err, form);
        busy(form, false);
      }
    });
  }

  window.CreatorUI = Object.freeze({
    ApiError,
    OFFLINE,
    api,
    autoSlug,
    busy,
    clearInvalid,
    confirmDialog,
    csrf,
    el,
    headersFor,
    humanize,
    initWorkspaceForm,
    markInvalid,
    problemMessage,
    randomSuffix,
    requireFields,
    say,
    showProblem,
    slugify,
    submitButton,
    toLogin,
    values,
  });
})();
