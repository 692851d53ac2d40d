/*
 * Creator Platform — log-in and sign-up forms.
 *
 * Posts the form as JSON to the auth API named by the form's data-endpoint
 * (/api/v1/auth/login or /api/v1/auth/signup). On success the API has set the session
 * cookie: go to the page the server chose from the `next` query parameter (the form's
 * data-next: a page of the platform itself), else to /. On error, show the problem's
 * `detail` in the role="alert" region and focus the field it names. A sign-up with an email that already has an
 * account answers like any sign-up but gives no session (the API does not tell whether an
 * email is registered): when the new session does not work, say so and point to log-in.
 * Plain ES2020, no inline script (CSP-friendly).
 */
(() => {
  "use strict";

  const form = document.getElementById("account-form");
  if (!form) return;
  const errorBox = document.getElementById("account-error");
  const submit = form.querySelector('button[type="submit"]');

  /** Where to continue: the server's choice of the `next` parameter (a page of the
   *  platform itself, never another host or a tenant's page; see safe_next). */
  function nextPath() {
    return form.dataset.next || "/";
  }

  function showError(message, field) {
    errorBox.textContent = message;
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const input = field ? form.elements.namedItem(field) : null;
    if (input instanceof HTMLElement) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-errormessage", "account-error");
      input.focus();
    }
  }

  /** Whether the session cookie just set is a live session. */
  async function sessionWorks() {
    const check = await fetch("/api/v1/auth/session", {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    return check.ok;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    const body = {};
    for (const [key, value] of new FormData(form).entries()) {
      if (key === "name" && !String(value).trim()) continue;
      body[key] = key === "password" ? String(value) : String(value).trim();
    }
    if (!body.email) return showError("Enter your email address.", "email");
    if (!body.password) return showError("Enter your password.", "password");
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.dataset.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (response.ok) {
        if (form.dataset.endpoint.endsWith("/signup") && !(await sessionWorks())) {
          return showError(
            "We could not sign you in. If you already have an account with this email, " +
              "log in with its password instead.",
            "email",
          );
        }
        window.location.assign(nextPath());
        return;
      }
      let problem = {};
      try {
        problem = await response.json();
      } catch {
        problem = {};
      }
      showError(problem.detail || problem.title || `Something went wrong (${response.status}).`,
        problem.field);
    } catch {
      showError("The server could not be reached. Check your connection and try again.");
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });
})();
