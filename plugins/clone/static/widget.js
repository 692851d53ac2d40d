/* The chat panel of a clone's widget (the page inside the bubble's frame).
 * Talks to /api/v1/clone/widget/{clone}: an anonymous session kept in sessionStorage,
 * questions streamed back as server-sent events, citations and thumbs up/down. */
(function () {
  "use strict";
  var body = document.body;
  var cloneId = body.getAttribute("data-clone");
  var api = "/api/v1/clone/widget/" + cloneId;
  var storeKey = "cp-clone-session:" + cloneId;
  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var send = document.getElementById("send");
  var status = document.getElementById("status");
  var closeButton = document.getElementById("close");
  var accent = body.getAttribute("data-accent");
  if (/^#[0-9a-fA-F]{6}$/.test(accent || "")) {
    document.documentElement.style.setProperty("--accent", accent);
    document.documentElement.style.setProperty("--accent-ink", ink(accent));
  }
  var SVG = "http://www.w3.org/2000/svg";
  // Outline icons after Lucide (ISC licence): no emoji font is needed to see them.
  var ICONS = {
    up: ["M7 10v12", "M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z"],
    down: ["M17 14V2", "M9 18.12 10 14H4.17a2 2 0 0 1-1.92-2.56l2.33-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.76a2 2 0 0 0-1.79 1.11L12 22a3.13 3.13 0 0 1-3-3.88Z"],
    link: ["M15 3h6v6", "M10 14 21 3", "M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6"]
  };

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  /* White or near-black text, whichever reads better on the accent colour. */
  function ink(hex) {
    var n = parseInt(hex.slice(1), 16);
    var channel = function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    var l = 0.2126 * channel(n >> 16) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
    return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? "#ffffff" : "#111827";
  }
  var session = null;
  try { session = JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (e) { session = null; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function problemText(response, body) {
    if (body && body.detail) return body.detail;
    return "Something went wrong (" + response.status + "). Please try again.";
  }

  function addMessage(role, text) {
    var item = el("li", "msg " + role);
    var content = el("div", "content", text);
    item.appendChild(content);
    log.appendChild(item);
    scrollDown();
    return item;
  }

  /* The answer's text with its [n] markers as small source numbers. */
  function withSourceNumbers(node, text) {
    node.textContent = "";
    var marker = /\s?\[(\d{1,3})\]/g, at = 0, found;
    while ((found = marker.exec(text)) !== null) {
      if (found.index > at) node.appendChild(document.createTextNode(text.slice(at, found.index)));
      var ref = el("sup", "cite-ref");
      ref.appendChild(el("span", "sr-only", " source "));
      ref.appendChild(document.createTextNode(found[1]));
      node.appendChild(ref);
      at = marker.lastIndex;
    }
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
  }

  function finish(item, message) {
    withSourceNumbers(item.querySelector(".content"), message.content);
    item.setAttribute("data-message", message.id);
    if (message.unanswered) item.classList.add("unanswered");
    if (message.citations && message.citations.length) {
      var sources = el("div", "sources");
      sources.appendChild(el("span", "sources-label", "Sources"));
      var list = el("ol");
      list.setAttribute("aria-label", "Sources of this answer");
      message.citations.forEach(function (c, i) {
        list.appendChild(citation(c, i + 1));
      });
      sources.appendChild(list);
      item.appendChild(sources);
    }
    if (message.role === "assistant" && message.id) item.appendChild(rating(message));
    scrollDown();
  }

  /* The passage that answered, the question's words marked, its source linked when public. */
  function citation(c, number) {
    var entry = el("li", "citation");
    var head = el("div", "cite-head");
    head.appendChild(el("span", "cite-num", String(number)));
    var title = c.title || "Source";
    if (/^https?:\/\//.test(c.url || "")) {
      var link = el("a", "", title);
      link.href = c.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.setAttribute("aria-label", title + " (opens the source in a new tab)");
      link.appendChild(icon("link"));
      head.appendChild(link);
    } else {
      head.appendChild(el("span", "", title));
    }
    entry.appendChild(head);
    if (c.quote) entry.appendChild(marked(el("blockquote", "cite-quote"), c.quote, c.marks || []));
    return entry;
  }

  /* Fills node with text, its [start, end) spans in <mark>. */
  function marked(node, text, spans) {
    var at = 0;
    spans.forEach(function (span) {
      var start = span[0], end = span[1];
      if (start < at || end > text.length || end <= start) return;
      if (start > at) node.appendChild(document.createTextNode(text.slice(at, start)));
      node.appendChild(el("mark", "", text.slice(start, end)));
      at = end;
    });
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }

  function rating(message) {
    var box = el("div", "rate");
    box.appendChild(el("span", "rate-label", "Helpful?"));
    [["up", "up", "Helpful"], ["down", "down", "Not helpful"]].forEach(function (r) {
      var b = el("button", "");
      b.appendChild(icon(r[1]));
      b.type = "button";
      b.title = r[2];
      b.setAttribute("aria-label", r[2]);
      b.setAttribute("aria-pressed", message.feedback === r[0] ? "true" : "false");
      b.addEventListener("click", function () {
        call("POST", "/messages/" + message.id + "/feedback", { feedback: r[0] }).then(function (res) {
          if (!res.ok) return;
          box.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
          b.setAttribute("aria-pressed", "true");
          status.textContent = "Thanks for your feedback.";
        });
      });
      box.appendChild(b);
    });
    return box;
  }

  function call(method, path, payload, accept) {
    var headers = { "Accept": accept || "application/json" };
    if (session) headers["X-Clone-Session"] = session.session;
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method, headers: headers, credentials: "omit",
      body: payload === undefined ? undefined : JSON.stringify(payload)
    });
  }

  function startSession() {
    return call("POST", "/sessions").then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) throw new Error(problemText(res, data));
        session = data;
        try { sessionStorage.setItem(storeKey, JSON.stringify(data)); } catch (e) { /* private mode */ }
        return data;
      });
    });
  }

  function restore() {
    if (!session) return;
    call("GET", "/messages").then(function (res) {
      if (res.status === 401 || res.status === 404) {
        session = null;
        sessionStorage.removeItem(storeKey);
        return null;
      }
      return res.ok ? res.json() : null;
    }).then(function (messages) {
      (messages || []).forEach(function (m) {
        var item = addMessage(m.role, m.content);
        if (m.role === "assistant") finish(item, m);
      });
    }).catch(function () { /* offline: start fresh on the next question */ });
  }

  /* Reads a server-sent events body, calling onEvent(name, data) per event. */
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          var block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          var name = "message", data = [];
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) name = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
          });
          if (data.length) onEvent(name, JSON.parse(data.join("\n")));
        }
        return pump();
      });
    }
    return pump();
  }

  function ask(question) {
    addMessage("user", question);
    var answer = addMessage("assistant", "");
    answer.setAttribute("aria-busy", "true");
    var text = "";
    send.disabled = true;
    status.textContent = "Thinking\u2026";
    var ready = session ? Promise.resolve(session) : startSession();
    return ready.then(function () {
      return call("POST", "/messages?stream=true", { content: question }, "text/event-stream");
    }).then(function (res) {
      if (res.status === 401 || res.status === 404) {  // session or conversation gone: anew
        session = null;
        sessionStorage.removeItem(storeKey);
        return startSession().then(function () {
          return call("POST", "/messages?stream=true", { content: question }, "text/event-stream");
        });
      }
      return res;
    }).then(function (res) {
      if (!res.ok) {
        return res.json().catch(function () { return null; }).then(function (body) {
          throw new Error(problemText(res, body));
        });
      }
      status.textContent = "";
      return readEvents(res, function (name, data) {
        if (name === "delta") {
          text += data.text;
          answer.querySelector(".content").textContent = text;
          scrollDown();
        } else if (name === "done") {
          finish(answer, data);
        } else if (name === "error") {
          throw new Error(data.detail || "The answer was interrupted.");
        }
      });
    }).catch(function (error) {
      answer.classList.add("failed");
      answer.querySelector(".content").textContent = error.message;
      status.textContent = "";
    }).then(function () {
      answer.removeAttribute("aria-busy");
      send.disabled = false;
      input.focus();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("input", function () {  // grows with what is typed
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 128) + "px";
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  if (closeButton) {
    closeButton.addEventListener("click", function () {
      window.parent.postMessage({ type: "cp-clone-close" }, "*");
    });
  }
  restore();
})();
