/* Creator Platform: a clone's chat bubble for any site.
 *
 *   <script src="https://PLATFORM/clone/embed.js" data-clone="CLONE_ID" async></script>
 *
 * Optional: data-color="#4f46e5" (the bubble's colour; without it, the colour saved in
 * the clone's look, from /clone/widget/CLONE_ID/look.js), data-label="Chat with us".
 * The conversation runs in a frame served by the platform, so this page never sees it.
 * Icons are inline SVG (no emoji font needed).
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
  var DEFAULT_COLOR = "#4f46e5";
  var color = script.getAttribute("data-color") || "";
  var label = (script.getAttribute("data-label") || "Chat with us").slice(0, 80);
  var frameId = "cp-clone-frame-" + cloneId;
  var SVG = "http://www.w3.org/2000/svg";
  // Outline icons after Lucide (ISC licence): a speech bubble, and a cross to close.
  var ICONS = {
    chat: ["M7.9 20A9 9 0 1 0 4 16.1L2 22Z"],
    close: ["M18 6 6 18", "m6 6 12 12"]
  };

  function valid(value) { return /^#[0-9a-fA-F]{6}$/.test(value || ""); }

  function style(el, rules) {
    for (var key in rules) el.style.setProperty(key, rules[key]);
  }

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    style(svg, { display: "block", margin: "auto", "pointer-events": "none" });
    return svg;
  }

  /* White or near-black, whichever reads better on the bubble's colour. */
  function ink(hex) {
    var n = parseInt(hex.slice(1), 16);
    var channel = function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    var l = 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
    return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? "#ffffff" : "#111827";
  }

  function mount(accent) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "cp-clone-bubble";
    button.setAttribute("aria-label", label);
    button.setAttribute("title", label);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", frameId);
    button.appendChild(icon("chat"));
    style(button, {
      position: "fixed", right: "20px", bottom: "20px", width: "56px", height: "56px",
      "border-radius": "50%", border: "0", background: accent, color: ink(accent),
      cursor: "pointer", padding: "0", display: "flex", "align-items": "center",
      "justify-content": "center", "box-shadow": "0 6px 20px rgba(15,23,42,.28)",
      transition: "transform .15s ease", "z-index": "2147483000"
    });
    button.addEventListener("mouseenter", function () { button.style.transform = "scale(1.06)"; });
    button.addEventListener("mouseleave", function () { button.style.transform = ""; });
    button.addEventListener("focus", function () {
      button.style.outline = "3px solid " + accent;
      button.style.outlineOffset = "3px";
    });
    button.addEventListener("blur", function () { button.style.outline = ""; });
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
          width: "min(400px, calc(100vw - 40px))", height: "min(600px, calc(100vh - 120px))",
          "border-radius": "16px", background: "#fff", "z-index": "2147483000",
          "box-shadow": "0 12px 40px rgba(15,23,42,.28)"
        });
        document.body.appendChild(frame);
      } else if (frame) {
        frame.style.display = open ? "block" : "none";
      }
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.replaceChild(icon(open ? "close" : "chat"), button.firstChild);
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

  /* The saved look's colour, unless the page names one: a script of the platform's (a
   * page may run the platform's scripts where its CSP forbids fetching from it). A clone
   * that does not answer has none: the bubble keeps the default colour. */
  function accentThen(done) {
    if (valid(color)) return done(color);
    var settled = false;
    function settle() {
      if (settled) return;
      settled = true;
      var look = (window.cpCloneLook || {})[cloneId] || {};
      done(valid(look.accent) ? look.accent : DEFAULT_COLOR);
    }
    window.setTimeout(settle, 3000);
    var loader = document.createElement("script");
    loader.src = base + "/clone/widget/" + encodeURIComponent(cloneId) + "/look.js";
    loader.async = true;
    loader.onload = settle;
    loader.onerror = settle;
    (document.head || document.body).appendChild(loader);
  }

  function start() { accentThen(mount); }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
