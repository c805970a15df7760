// The phone's outbox (DESIGN.md "Exactly once", "The outbox outlives the session"). A visit or
// a field action (actions.js) is stored in IndexedDB before it is sent, and counts as sent only
// when the server has it: a success, or the server's word that it already has that key. Sent
// items stay a week, without their files, for the sync centre (sync-centre.js); a refused one
// stays until it is fixed or dropped, and holds back the later actions on its record. Every
// signed-in page loads it, since any page that loads sends what waits.

var body = document.body;
export var userId = body.getAttribute("data-user-id");
var DB_NAME = "crm-outbox";
var STORE = "visits";
var retryDelay = 5000;
var retryTimer = null;
var flushing = null;
// Asked for again while a flush was under way (the network back while the last try failed):
// run once more as soon as it ends, rather than wait for the retry timer.
var again = false;

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

var SENT_KEPT_MS = 7 * 24 * 3600 * 1000;

// The signed-in user's items, in the order they were made.
export function mine(items) {
  return items.filter(function (item) { return String(item.userId) === String(userId); })
    .sort(function (a, b) { return (a.createdAt || 0) - (b.createdAt || 0); });
}

function waiting(items) {
  return items.filter(function (item) { return item.state !== "sent"; });
}

// What the sync centre and the pages read: the user's items, oldest first.
export function items() {
  if (!window.indexedDB) { return Promise.resolve([]); }
  return outbox.all().then(mine);
}

// Sent: kept for the sync centre with the time, without its photos and files.
function markSent(item, answer) {
  item.state = "sent";
  item.sentAt = Date.now();
  item.answer = answer;
  delete item.error;
  item.photos = [];
  item.voiceNote = null;
  if (item.fields) {
    item.fields = item.fields.map(function (pair) {
      return typeof pair[1] === "string" ? pair : [pair[0], pair[1] && pair[1].name || ""];
    });
  }
  return outbox.put(item);
}

function pruneSent(all) {
  var old = all.filter(function (item) { return item.state === "sent" && Date.now() - item.sentAt > SENT_KEPT_MS; });
  return Promise.all(old.map(function (item) { return outbox.remove(item.key); }));
}

function changed(detail) {
  window.dispatchEvent(new CustomEvent("outbox:changed", { detail: detail || {} }));
}

// Sent again: a refused item the person fixed or wants tried again.
export function retry(key) {
  return outbox.all().then(function (all) {
    var item = all.filter(function (one) { return one.key === key; })[0];
    if (!item) { return null; }
    item.state = "waiting";
    delete item.error;
    return outbox.put(item).then(flush);
  });
}

export function drop(key) {
  return outbox.remove(key).then(function () { changed({ dropped: key }); return showCount(); });
}

// --- the count of waiting visits, on every staff page --------------------------------------------
var counter = document.getElementById("outbox-count");
var badge = document.getElementById("outbox-badge");

function words(name, count) {
  var source = counter || document.getElementById("visit-words");
  var text = source ? source.getAttribute("data-" + name) || "" : "";
  return text.replace("{count}", String(count));
}

export function showCount(note) {
  if (!window.indexedDB) { return Promise.resolve(0); }
  return outbox.all().then(mine).then(waiting).then(function (items) {
    if (badge) {
      var number = badge.querySelector("[data-outbox-number]");
      number.textContent = String(items.length);
      number.hidden = items.length === 0;
      badge.setAttribute("data-count", String(items.length));
    }
    if (!counter) { return items.length; }
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

function answerOf(response) {
  return response.json().catch(function () { return {}; }).then(function (json) {
    return { status: response.status, body: json };
  });
}

// A field action: its page's form, posted as the form would be, with the key as the header.
function sendAction(item, token) {
  var data = new FormData();
  item.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
  return fetch(item.url, {
    method: "POST",
    body: data,
    credentials: "same-origin",
    redirect: "manual",
    headers: { "X-CSRFToken": token, "Idempotency-Key": item.key, Accept: "application/json" }
  }).then(answerOf);
}

function send(item, token) {
  if (item.url) { return sendAction(item, token); }
  var data = new FormData();
  item.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
  item.photos.forEach(function (blob, index) { data.append("photos", blob, "photo-" + (index + 1) + ".jpg"); });
  if (item.voiceNote) { data.append("voice_note", item.voiceNote, "voice-note." + voiceExtension(item.voiceNote.type)); }
  return fetch("/api/v1/visits", {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { "X-CSRFToken": token, "Idempotency-Key": item.key, Accept: "application/json" }
  }).then(answerOf);
}

function voiceExtension(type) {
  return /mp4/.test(type || "") ? "m4a" : /ogg/.test(type || "") ? "ogg" : "webm";
}

function later() {
  if (retryTimer) { return; }
  retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 300000);
}

// Sends every waiting item of the signed-in user, in the order made; an item whose record has an
// earlier one refused (or not yet sent) waits for it. Resolves to {sent: {key: body}, refused:
// {key: error}}.
export function flush() {
  if (!userId || !window.indexedDB) { return Promise.resolve(null); }
  if (flushing) { again = true; return flushing; }
  var result = { sent: {}, refused: {}, stopped: false };
  var held = {};
  flushing = outbox.all().then(function (all) { return pruneSent(all).then(function () { return all; }); })
    .then(mine).then(waiting).then(function (items) {
    items.forEach(function (item) { if (item.state === "refused" && item.record) { held[item.record] = true; } });
    items = items.filter(function (item) { return item.state !== "refused"; });
    if (!items.length) { return result; }
    return session().then(function (who) {
      if (who.signedOut || String(who.user_id) !== String(userId)) {
        result.stopped = "signin";
        return result;
      }
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          if (result.stopped || item.record && held[item.record]) { return null; }
          return send(item, who.csrf_token).then(function (answer) {
            var code = answer.body && answer.body.error ? answer.body.error.code : "";
            if (answer.status === 200 || answer.status === 201) {
              result.sent[item.key] = answer.body;
              return markSent(item, answer.body);
            }
            if (item.record) { held[item.record] = true; }
            if (answer.status === 401) { result.stopped = "signin"; return null; }
            if (answer.status === 422 || answer.status === 404 || answer.status === 409 || answer.status === 400 && code !== "csrf_failed") {
              item.error = answer.body.error || { code: code };
              item.state = "refused";
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
    if (again) {
      again = false;
      retryDelay = 5000;
      if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
      window.setTimeout(flush, 0);
    } else if (done.stopped === "later") { later(); } else { retryDelay = 5000; }
    changed(done);
    return showCount(done.stopped === "signin" ? "signin" : null).then(function () { return done; });
  });
  return flushing;
}

// Sent when the network comes back, and on every page load that finds any waiting.
window.addEventListener("online", function () { flush(); });
showCount().then(function (count) { if (count) { flush(); } });
