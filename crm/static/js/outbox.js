// The phone's outbox (DESIGN.md "Exactly once", "The outbox outlives the session"). A visit is
// stored in IndexedDB before it is sent, and leaves only when the server has it: a success, or
// the server's word that it already has that key. Every staff page loads it, since any page
// that loads sends what waits; the visit form puts its visits here.

var body = document.body;
export var userId = body.getAttribute("data-user-id");
var DB_NAME = "crm-outbox";
var STORE = "visits";
var retryDelay = 5000;
var retryTimer = null;
var flushing = null;

// --- IndexedDB, plainly --------------------------------------------------------------------------
function openStore(mode) {
  return new Promise(function (resolve, reject) {
    var opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = function () {
      opening.result.createObjectStore(STORE, { keyPath: "key" });
    };
    opening.onerror = function () { reject(opening.error); };
    opening.onsuccess = function () {
      resolve(opening.result.transaction(STORE, mode).objectStore(STORE));
    };
  });
}

function request(store, call) {
  return new Promise(function (resolve, reject) {
    var req = call(store);
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });
}

export var outbox = {
  put: function (item) { return openStore("readwrite").then(function (s) { return request(s, function (st) { return st.put(item); }); }); },
  remove: function (key) { return openStore("readwrite").then(function (s) { return request(s, function (st) { return st.delete(key); }); }); },
  all: function () { return openStore("readonly").then(function (s) { return request(s, function (st) { return st.getAll(); }); }); }
};

function mine(items) {
  return items.filter(function (item) { return String(item.userId) === String(userId); });
}

// --- the count of waiting visits, on every staff page --------------------------------------------
var counter = document.getElementById("outbox-count");

function words(name, count) {
  var source = counter || document.getElementById("visit-words");
  var text = source ? source.getAttribute("data-" + name) || "" : "";
  return text.replace("{count}", String(count));
}

export function showCount(note) {
  if (!counter || !window.indexedDB) { return Promise.resolve(0); }
  return outbox.all().then(mine).then(function (items) {
    counter.hidden = items.length === 0;
    counter.setAttribute("data-count", String(items.length));
    counter.textContent = note && items.length ? words(note, items.length) : words("waiting", items.length);
    return items.length;
  });
}

// --- sending -------------------------------------------------------------------------------------
function session() {
  return fetch("/api/v1/session", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (response.status === 401) { return { signedOut: true }; }
      if (!response.ok) { throw new Error("session " + response.status); }
      return response.json();
    });
}

function send(item, token) {
  var data = new FormData();
  item.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
  item.photos.forEach(function (blob, index) { data.append("photos", blob, "photo-" + (index + 1) + ".jpg"); });
  if (item.voiceNote) { data.append("voice_note", item.voiceNote, "voice-note." + voiceExtension(item.voiceNote.type)); }
  return fetch("/api/v1/visits", {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { "X-CSRFToken": token, "Idempotency-Key": item.key, Accept: "application/json" }
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (json) {
      return { status: response.status, body: json };
    });
  });
}

function voiceExtension(type) {
  return /mp4/.test(type || "") ? "m4a" : /ogg/.test(type || "") ? "ogg" : "webm";
}

function later() {
  if (retryTimer) { return; }
  retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 300000);
}

// Sends every waiting visit of the signed-in user; resolves to {sent: {key: body}, refused: {key: error}}.
export function flush() {
  if (!userId || !window.indexedDB || !body.hasAttribute("data-outbox")) { return Promise.resolve(null); }
  if (flushing) { return flushing; }
  var result = { sent: {}, refused: {}, stopped: false };
  flushing = outbox.all().then(mine).then(function (items) {
    if (!items.length) { return result; }
    return session().then(function (who) {
      if (who.signedOut || String(who.user_id) !== String(userId)) {
        result.stopped = "signin";
        return result;
      }
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          if (result.stopped) { return null; }
          return send(item, who.csrf_token).then(function (answer) {
            var code = answer.body && answer.body.error ? answer.body.error.code : "";
            if (answer.status === 200 || answer.status === 201) {
              result.sent[item.key] = answer.body;
              return outbox.remove(item.key);
            }
            if (answer.status === 401) { result.stopped = "signin"; return null; }
            if (answer.status === 422 || answer.status === 404 || answer.status === 409 || answer.status === 400 && code !== "csrf_failed") {
              item.error = answer.body.error || { code: code };
              result.refused[item.key] = item.error;
              return outbox.put(item);
            }
            result.stopped = "later";  // rate limits, outages, an expired token: try again soon
            return null;
          });
        });
      }, Promise.resolve()).then(function () { return result; });
    });
  }).catch(function () {
    result.stopped = "later";  // offline: the fetch itself failed
    return result;
  }).then(function (done) {
    flushing = null;
    if (done.stopped === "later") { later(); } else { retryDelay = 5000; }
    return showCount(done.stopped === "signin" ? "signin" : null).then(function () { return done; });
  });
  return flushing;
}

// Sent when the network comes back, and on every page load that finds any waiting.
window.addEventListener("online", function () { flush(); });
showCount().then(function (count) { if (count) { flush(); } });
