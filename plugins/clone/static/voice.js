/*
 * Creator Platform — the clones' "Voice and video" screen (clone/voice.html), after
 * core's ui.js: each upload form posts its files (multipart, with the session's CSRF
 * token) to the clone's …/voice or …/appearance, then reloads to show the new state; a
 * refusal is shown in the form's alert box.
 */
(() => {
  "use strict";

  const UI = window.CreatorUI;
  const groupId = document.body.dataset.groupId;

  for (const form of document.querySelectorAll("form[data-upload]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = form.querySelector(".ui-error");
      box.textContent = "";
      if (!UI.requireFields(form, box, ["file"])) return;
      const cloneId = form.closest("[data-clone-id]").dataset.cloneId;
      const body = new FormData();
      for (const file of form.elements.namedItem("file").files) body.append("file", file);
      UI.busy(form, true);
      try {
        await UI.api("POST", `/api/v1/clone/groups/${groupId}/clones/${cloneId}/${form.dataset.upload}`, {
          form: body,
        });
        window.location.reload();
      } catch (err) {
        UI.showProblem(box, err, form);
        UI.busy(form, false);
      }
    });
  }
})();
