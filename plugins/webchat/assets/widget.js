// Omni web chat widget. Embed with:
//   <script src="https://omni.example.com/hooks/webchat/widget.js" defer
//           data-user-id="..." data-user-hash="..." data-email="..."></script>
// The script talks to the connector instance it was loaded from.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var data = script.dataset;
  var storeKey = "omni-webchat:" + base;
  var state = JSON.parse(localStorage.getItem(storeKey) || "{}");
  if (!state.visitorId) {
    state.visitorId = "v-" + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
    state.after = 0;
  }
  function save() { localStorage.setItem(storeKey, JSON.stringify(state)); }
  save();

  var root = document.createElement("div");
  root.className = "omni-chat";
  root.innerHTML =
    '<div class="omni-chat-log" aria-live="polite"></div>' +
    '<form class="omni-chat-form"><input name="text" autocomplete="off" placeholder="Write a message…" maxlength="4000">' +
    '<button type="submit">Send</button></form>' +
    '<div class="omni-chat-rate">How did we do? ' +
    [1, 2, 3, 4, 5].map(function (n) { return '<button type="button" data-score="' + n + '">' + n + '</button>'; }).join("") +
    '</div>';
  (document.getElementById(data.mount || "omni-chat") || document.body).appendChild(root);
  var log = root.querySelector(".omni-chat-log");
  var form = root.querySelector("form");
  var seen = {};

  function show(who, text, id) {
    if (id && seen[id]) return;
    if (id) seen[id] = true;
    var line = document.createElement("div");
    line.className = "omni-chat-line omni-chat-" + who;
    line.textContent = text;
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.elements.text;
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    var body = { visitor_id: state.visitorId, message_id: "m-" + Date.now() + "-" + Math.floor(Math.random() * 1e9), text: text };
    if (data.userId) body.user_id = data.userId;
    if (data.email) body.email = data.email;
    if (data.userHash) body.user_hash = data.userHash;
    if (data.name) body.name = data.name;
    show("visitor", text);
    send(body, 0);
  });

  root.querySelector(".omni-chat-rate").addEventListener("click", function (event) {
    var score = Number(event.target.dataset && event.target.dataset.score);
    if (!score) return;
    var body = { visitor_id: state.visitorId, rating_id: "r-" + Date.now(), score: score };
    fetch(base + "/csat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { if (r.ok) show("agent", "Thanks for rating us " + score + "/5!"); });
  });

  function send(body, attempt) {
    fetch(base + "/messages", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        if (r.status >= 500 && attempt < 5) return setTimeout(function () { send(body, attempt + 1); }, 1000 * (attempt + 1));
        if (!r.ok) r.json().then(function (e) { show("error", (e.error && e.error.message) || "Message refused"); });
      })
      .catch(function () { if (attempt < 5) setTimeout(function () { send(body, attempt + 1); }, 1000 * (attempt + 1)); });
  }

  function poll() {
    fetch(base + "/poll?visitor_id=" + encodeURIComponent(state.visitorId) + "&after=" + (state.after || 0))
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (reply) {
        if (reply) {
          reply.messages.forEach(function (m) { show("agent", m.text, m.id); });
          state.after = reply.cursor;
          save();
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, document.hidden ? 10000 : 2000); });
  }
  poll();
})();
