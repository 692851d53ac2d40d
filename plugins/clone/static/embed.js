/* Creator Platform: a clone's chat bubble for any site.
 *
 *   <script src="https://PLATFORM/clone/embed.js" data-clone="CLONE_ID" async></script>
 *
 * Optional: data-color="#4f46e5" (the bubble's colour), data-label="Chat with us".
 * The conversation runs in a frame served by the platform, so this page never sees it.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var cloneId = script.getAttribute("data-clone") || "";
  if (!/^[0-9a-fA-F-]{36}$/.test(cloneId)) {
    if (window.console) console.warn("clone embed: data-clone must be a clone's id");
    return;
  }
  var base = new URL(script.src, document.baseURI).origin;
  var color = script.getAttribute("data-color") || "";
  if (!/^#[0-9a-fA-F]{6}$/.test(color)) color = "#4f46e5";
  var label = (script.getAttribute("data-label") || "Chat with us").slice(0, 80);
  var frameId = "cp-clone-frame-" + cloneId;

  function style(el, rules) {
    for (var key in rules) el.style.setProperty(key, rules[key]);
  }

  function mount() {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "cp-clone-bubble";
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", frameId);
    button.textContent = "\uD83D\uDCAC";
    style(button, {
      position: "fixed", right: "20px", bottom: "20px", width: "56px", height: "56px",
      "border-radius": "50%", border: "0", background: color, color: "#fff",
      "font-size": "26px", "line-height": "56px", cursor: "pointer", padding: "0",
      "box-shadow": "0 4px 14px rgba(0,0,0,.25)", "z-index": "2147483000"
    });
    var frame = null;

    function setOpen(open) {
      if (open && !frame) {
        frame = document.createElement("iframe");
        frame.id = frameId;
        frame.className = "cp-clone-frame";
        frame.title = label;
        frame.src = base + "/clone/widget/" + encodeURIComponent(cloneId);
        style(frame, {
          position: "fixed", right: "20px", bottom: "88px", border: "0",
          width: "min(380px, calc(100vw - 40px))", height: "min(560px, calc(100vh - 120px))",
          "border-radius": "12px", background: "#fff", "z-index": "2147483000",
          "box-shadow": "0 8px 30px rgba(0,0,0,.3)"
        });
        document.body.appendChild(frame);
      } else if (frame) {
        frame.style.display = open ? "block" : "none";
      }
      button.setAttribute("aria-expanded", open ? "true" : "false");
      if (open && frame) frame.focus();
    }

    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    window.addEventListener("message", function (event) {
      // the frame's close button (only the platform's origin is listened to)
      if (event.origin === base && event.data && event.data.type === "cp-clone-close") {
        setOpen(false);
        button.focus();
      }
    });
    document.body.appendChild(button);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
