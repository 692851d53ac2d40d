/*
 * Creator Platform — the workspace screens' behaviour (core/templates/core/members.html,
 * invite.html, account.html), after ui.js. Every write is one API call through
 * CreatorUI.api (session + CSRF token); its problem is shown in the section's alert box.
 *
 *   members      invite by email with a role (the link is shown to copy: there is no
 *                mail yet), change a role, remove a member or leave, revoke an invitation;
 *   invite       accept the invitation whose token is in the page's path, then open the
 *                workspace;
 *   tokens       create an API token (shown once, to copy), revoke one;
 *   copy         [data-copy="input id"] buttons copy that input's value.
 */
(() => {
  "use strict";

  const UI = window.CreatorUI;
  const $ = (id) => document.getElementById(id);
  const status = $("members-status");
  const announce = (text) => status && UI.say(status, text);

  // -- copy buttons ---------------------------------------------------------------------
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = $(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch {
        document.execCommand("copy"); // no clipboard permission (http, old browsers)
      }
      const label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(() => {
        button.textContent = label;
      }, 2000);
    });
  }

  // "8 Dec 2026", as the server writes dates.
  const day = (iso) =>
    new Date(iso).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });

  const confirm = (text) => UI.confirmDialog($("confirm-dialog"), text);

  // -- members and invitations ----------------------------------------------------------
  const groupId = document.body.dataset.groupId;
  const me = document.body.dataset.me;
  const base = groupId ? `/api/v1/groups/${groupId}` : "";

  const inviteForm = $("invite-form");
  if (inviteForm) {
    const box = $("invite-error");
    inviteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      box.textContent = "";
      if (!UI.requireFields(inviteForm, box, ["email"])) return;
      const { email, role } = UI.values(inviteForm);
      UI.busy(inviteForm, true);
      try {
        const { data } = await UI.api("POST", `${base}/invitations`, { body: { email, role } });
        $("invite-created-email").textContent = data.invitation.email;
        $("invite-link").value = `${window.location.origin}/invite/${data.token}`;
        $("invite-created").hidden = false;
        addInvitation(data.invitation, inviteForm.elements.namedItem("role"));
        inviteForm.reset();
        $("invite-link").focus();
        $("invite-link").select();
      } catch (err) {
        UI.showProblem(box, err, inviteForm);
      } finally {
        UI.busy(inviteForm, false);
      }
    });
  }

  function addInvitation(invitation, roleSelect) {
    const list = $("invitations-list");
    if (!list) return;
    const option = Array.from(roleSelect.options).find((o) => o.value === invitation.role);
    const expires = day(invitation.expires_at);
    const revoke = UI.el(
      "button",
      {
        type: "button",
        class: "ui-button ui-button-small ui-button-danger",
        "data-revoke": invitation.id,
        "data-email": invitation.email,
      },
      "Revoke",
      UI.el("span", { class: "visually-hidden" }, ` the invitation of ${invitation.email}`),
    );
    list.prepend(
      UI.el(
        "li",
        { class: "ws-row", "data-invitation-id": invitation.id },
        UI.el(
          "div",
          { class: "ws-who" },
          UI.el("strong", {}, invitation.email),
          UI.el("span", { class: "ui-muted" }, `${option ? option.text : invitation.role} · expires ${expires}`),
        ),
        UI.el("div", { class: "ws-row-actions" }, revoke),
      ),
    );
    $("invitations-empty").hidden = true;
  }

  document.addEventListener("click", async (event) => {
    const target = event.target instanceof Element ? event.target.closest("button") : null;
    if (!target) return;
    if (target.dataset.revoke) await revokeInvitation(target);
    else if (target.dataset.remove) await removeMember(target);
    else if (target.dataset.revokeToken) await revokeToken(target);
  });

  async function revokeInvitation(button) {
    const email = button.dataset.email;
    if (!(await confirm(`Withdraw the invitation of ${email}? Its link stops working.`))) return;
    const box = $("invitations-error");
    box.textContent = "";
    UI.busy(button, true);
    try {
      await UI.api("DELETE", `${base}/invitations/${button.dataset.revoke}`);
      button.closest("li").remove();
      $("invitations-empty").hidden = Boolean($("invitations-list").children.length);
      announce(`The invitation of ${email} was withdrawn.`);
    } catch (err) {
      UI.showProblem(box, err);
      UI.busy(button, false);
    }
  }

  async function removeMember(button) {
    const row = button.closest("li");
    const name = row.dataset.name;
    const leaving = button.dataset.remove === me;
    const question = leaving
      ? "Leave this workspace? You lose access to everything in it until someone invites you again."
      : `Remove ${name} from this workspace? They lose access to everything in it.`;
    if (!(await confirm(question))) return;
    const box = $("members-error");
    box.textContent = "";
    UI.busy(button, true);
    try {
      await UI.api("DELETE", `${base}/members/${button.dataset.remove}`);
      if (leaving) {
        window.location.assign("/app?all=1");
        return;
      }
      row.remove();
      announce(`${name} was removed.`);
    } catch (err) {
      UI.showProblem(box, err);
      UI.busy(button, false);
    }
  }

  for (const select of document.querySelectorAll("select[data-role-of]")) {
    select.addEventListener("change", async () => {
      const box = $("members-error");
      box.textContent = "";
      const name = select.closest("li").dataset.name;
      select.disabled = true;
      try {
        await UI.api("PATCH", `${base}/members/${select.dataset.roleOf}`, {
          body: { role: select.value },
        });
        select.dataset.current = select.value;
        announce(`${name} is now ${select.options[select.selectedIndex].text}.`);
        if (select.dataset.roleOf === me && select.value !== "org_owner") {
          window.location.reload(); // no longer an owner: the page shows less
        }
      } catch (err) {
        select.value = select.dataset.current;
        UI.showProblem(box, err);
      } finally {
        select.disabled = false;
      }
    });
  }

  // -- accepting an invitation ----------------------------------------------------------
  const accept = $("accept-invitation");
  if (accept) {
    accept.addEventListener("click", async () => {
      const box = $("accept-error");
      box.textContent = "";
      const token = decodeURIComponent(window.location.pathname.split("/").pop());
      UI.busy(accept, true);
      try {
        await UI.api("POST", "/api/v1/invitations/accept", { body: { token } });
        window.location.assign(`/app/${accept.dataset.groupId}`);
      } catch (err) {
        UI.showProblem(box, err);
        UI.busy(accept, false);
      }
    });
  }

  // -- API tokens -----------------------------------------------------------------------
  const tokenForm = $("token-form");
  if (tokenForm) {
    const box = $("token-error");
    tokenForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      box.textContent = "";
      if (!UI.requireFields(tokenForm, box, ["name"])) return;
      const { name, expires_in_days: days } = UI.values(tokenForm);
      const body = { name };
      if (days) body.expires_in_days = Number(days);
      UI.busy(tokenForm, true);
      try {
        const { data } = await UI.api("POST", "/api/v1/me/tokens", { body });
        $("token-secret").value = data.token;
        $("token-created").hidden = false;
        addToken(data);
        tokenForm.reset();
        $("token-secret").focus();
        $("token-secret").select();
      } catch (err) {
        UI.showProblem(box, err, tokenForm);
      } finally {
        UI.busy(tokenForm, false);
      }
    });
  }

  function addToken(token) {
    const expires = token.expires_at ? `expires ${day(token.expires_at)}` : "does not expire";
    $("tokens-list").prepend(
      UI.el(
        "li",
        { class: "ws-row", "data-token-id": token.id },
        UI.el(
          "div",
          { class: "ws-who" },
          UI.el("strong", {}, token.name),
          UI.el("span", { class: "ui-muted" }, `Created ${day(new Date().toISOString())} · never used · ${expires}`),
        ),
        UI.el(
          "div",
          { class: "ws-row-actions" },
          UI.el(
            "button",
            {
              type: "button",
              class: "ui-button ui-button-small ui-button-danger",
              "data-revoke-token": token.id,
              "data-name": token.name,
            },
            "Revoke",
            UI.el("span", { class: "visually-hidden" }, ` ${token.name}`),
          ),
        ),
      ),
    );
    $("tokens-empty").hidden = true;
  }

  async function revokeToken(button) {
    const name = button.dataset.name;
    if (!(await confirm(`Revoke the token "${name}"? Scripts using it stop working at once.`))) return;
    const box = $("tokens-error");
    box.textContent = "";
    UI.busy(button, true);
    try {
      await UI.api("DELETE", `/api/v1/me/tokens/${button.dataset.revokeToken}`);
      button.closest("li").remove();
      $("tokens-empty").hidden = Boolean($("tokens-list").children.length);
    } catch (err) {
      UI.showProblem(box, err);
      UI.busy(button, false);
    }
  }
})();
