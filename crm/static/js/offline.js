// Offline, said and kept. A page drawn from the phone's cache says since when ("Offline: as of
// 09:12", in the user's language and the install's time zone: sw.js marks the page it answers
// from the cache). After each sign-in the service worker keeps the rep's working set again, and
// every page shows how far it has got. Signing out may drop the rep's waiting visits.
import { outbox, userId } from "./outbox.js";

var body = document.body;
var note = document.getElementById("offline-note");
var hideTimer = null;

function words(name, values) {
  var text = note.getAttribute("data-" + name) || "";
  Object.keys(values).forEach(function (key) { text = text.replace("{" + key + "}", String(values[key])); });
  return text;
}

function say(text, kind) {
  window.clearTimeout(hideTimer);
  note.textContent = text;
  note.className = "offline-note offline-note-" + kind;
  note.hidden = false;
}

// The time of day in the install's zone; a day other than today's is named too.
function timeOf(iso) {
  var zone = note.getAttribute("data-zone") || undefined;
  var lang = document.documentElement.lang || undefined;
  var at = new Date(iso);
  var day = function (d) { return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(d); };
  var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone };
  try {
    if (day(at) !== day(new Date())) { options.month = "short"; options.day = "numeric"; }
    return new Intl.DateTimeFormat(lang, options).format(at);
  } catch (error) {  // a zone this browser does not know: the phone's own
    delete options.timeZone;
    return new Intl.DateTimeFormat(lang, options).format(at);
  }
}

var cachedAt = body.getAttribute("data-offline-at");
if (cachedAt) {
  say(words("as-of", { time: timeOf(cachedAt) }), "cached");
}

// --- the working set: asked for on every page that came from the network --------------------------
var shown = false;
if ("serviceWorker" in navigator && !cachedAt && userId) {
  navigator.serviceWorker.addEventListener("message", function (event) {
    var message = event.data || {};
    if (message.type === "offline-progress") {
      shown = true;
      say(words("keeping", { done: message.done, total: message.total }), "keeping");
    } else if (message.type === "offline-kept" && shown) {
      say(words("kept", { total: message.total }), "kept");
      hideTimer = window.setTimeout(function () { note.hidden = true; }, 5000);
    } else if (message.type === "offline-failed" && shown) {
      note.hidden = true;
    }
  });
  navigator.serviceWorker.startMessages();
  navigator.serviceWorker.ready.then(function (registration) {
    if (registration.active && navigator.onLine) {
      registration.active.postMessage({ type: "keep-working-set", user: userId });
    }
  });
}

// --- signing out ---------------------------------------------------------------------------------
// The kept pages go when the sign-in page opens (app.js) and by the answer's Clear-Site-Data; the
// rep's waiting visits stay for their next sign-in unless the rep chooses here to drop them. The
// question is asked at once, from the count that outbox.js shows, so that an ordinary sign-out
// leaves as a plain form post.
function dropWaiting() {
  return outbox.all().then(function (items) {
    return Promise.all(items.filter(function (item) {
      return String(item.userId) === String(userId);
    }).map(function (item) { return outbox.remove(item.key); }));
  });
}

document.querySelectorAll('form[action$="/logout"]').forEach(function (form) {
  form.addEventListener("submit", function (event) {
    // No more background copies under this sign-in: one answered after the sign-out would race it.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("clear-pages");
    }
    var counter = document.getElementById("outbox-count");
    var waiting = Number(counter && counter.getAttribute("data-count")) || 0;
    if (!waiting || form.hasAttribute("data-dropped") || !window.confirm(words("drop", { count: waiting }))) {
      return;
    }
    event.preventDefault();
    dropWaiting().catch(function () {}).then(function () {
      form.setAttribute("data-dropped", "");
      form.submit();
    });
  });
});
