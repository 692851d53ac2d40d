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

  function finish(item, message) {
    item.querySelector(".content").textContent = message.content;
    item.setAttribute("data-message", message.id);
    if (message.unanswered) item.classList.add("unanswered");
    if (message.citations && message.citations.length) {
      var sources = el("div", "sources");
      sources.appendChild(el("span", "", "Sources:"));
      var list = el("ol");
      message.citations.forEach(function (c) {
        var entry = el("li", "citation");
        entry.appendChild(el("strong", "", c.title || "Source"));
        if (c.quote) entry.appendChild(el("q", "", c.quote));
        list.appendChild(entry);
      });
      sources.appendChild(list);
      item.appendChild(sources);
    }
    if (message.role === "assistant" && message.id) item.appendChild(rating(message));
    scrollDown();
  }

  function rating(message) {
    var box = el("div", "rate");
    [["up", "\uD83D\uDC4D", "Helpful"], ["down", "\uD83D\uDC4E", "Not helpful"]].forEach(function (r) {
      var b = el("button", "", r[1]);
      b.type = "button";
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
