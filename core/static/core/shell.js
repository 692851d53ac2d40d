/*
 * Creator Platform — the shell's behaviour (core/templates/core/app.html), after ui.js:
 *
 *   menus      the workspace switcher and account menu (<details data-menu>) close on
 *              Escape (focus back on their button) and on a click elsewhere;
 *   log-out    the account menu's form posts /api/v1/auth/logout with the session's CSRF
 *              token, then goes to the log-in page (and back to the form's data-next);
 *   theme      the account menu's System / Light / Dark buttons set <html data-theme> and
 *              the creator_theme cookie, which the server reads so the next page is drawn
 *              in the chosen theme from its first paint;
 *   workspaces on the shell's own workspaces page (body[data-shell-home]), the "create a
 *              workspace" form.
 */
(() => {
  "use strict";

  const UI = window.CreatorUI;
  const menus = () => Array.from(document.querySelectorAll("details[data-menu]"));

  document.addEventListener("click", (event) => {
    for (const menu of menus()) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus()) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    }
  });
  for (const menu of menus()) {
    menu.addEventListener("toggle", () => {
      if (!menu.open) return;
      for (const other of menus()) if (other !== menu) other.open = false;
    });
  }

  for (const form of document.querySelectorAll("form[data-logout]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await UI.api("POST", "/api/v1/auth/logout");
      } catch (err) {
        // A session that already ended is as good as logged out.
        if (!(err instanceof UI.ApiError) || err.status !== 401) {
          button.disabled = false;
          window.alert(UI.problemMessage ? UI.problemMessage(err) : err.message);
          return;
        }
      }
      // data-next: where the log-in page leads afterwards (an invitation meant for
      // another address sends its invitee back to it).
      const next = form.dataset.next;
      window.location.assign(next ? `/account/login?next=${encodeURIComponent(next)}` : "/account/login");
    });
  }

  const themeButtons = Array.from(document.querySelectorAll("[data-theme-choice]"));
  for (const button of themeButtons) {
    button.addEventListener("click", () => {
      const choice = button.dataset.themeChoice;
      const root = document.documentElement;
      if (choice === "auto") {
        delete root.dataset.theme;
        document.cookie = "creator_theme=; path=/; max-age=0; samesite=lax";
      } else {
        root.dataset.theme = choice;
        document.cookie = `creator_theme=${choice}; path=/; max-age=31536000; samesite=lax`;
      }
      for (const other of themeButtons) {
        other.setAttribute("aria-pressed", String(other === button));
      }
    });
  }

  const home = document.body.dataset.shellHome;
  if (home) UI.initWorkspaceForm(home);
})();
