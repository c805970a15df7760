// The app's one script: small progressive enhancement on top of server-rendered pages.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // htmx requests carry the CSRF token that Flask-WTF expects in a header.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  // Forms that ask for confirmation say so in data-confirm (no inline handlers under the CSP).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

// The phone's outbox and the visit form (DESIGN.md "Exactly once", "The outbox outlives the
// session"). A visit is stored in IndexedDB before it is sent, and leaves only when the server
// has it: a success, or the server's word that it already has that key.
(function () {
  "use strict";

  var body = document.body;
  var userId = body.getAttribute("data-user-id");
  var DB_NAME = "crm-outbox";
  var STORE = "visits";
  var retryDelay = 5000;
  var retryTimer = null;
  var flushing = null;

  // --- the service worker: the app shell for staff; signing out clears its pages -------------
  if ("serviceWorker" in navigator) {
    if (body.hasAttribute("data-outbox")) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    } else if (!userId && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("clear-pages");
    }
  }
  if (!userId && window.caches) {
    caches.keys().then(function (names) {
      names.forEach(function (name) {
        if (/-pages$/.test(name)) { caches.delete(name); }
      });
    });
  }

  // --- IndexedDB, plainly ---------------------------------------------------------------------
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

  var outbox = {
    put: function (item) { return openStore("readwrite").then(function (s) { return request(s, function (st) { return st.put(item); }); }); },
    remove: function (key) { return openStore("readwrite").then(function (s) { return request(s, function (st) { return st.delete(key); }); }); },
    all: function () { return openStore("readonly").then(function (s) { return request(s, function (st) { return st.getAll(); }); }); }
  };

  function mine(items) {
    return items.filter(function (item) { return String(item.userId) === String(userId); });
  }

  // --- the count of waiting visits, on every staff page --------------------------------------
  var counter = document.getElementById("outbox-count");

  function words(name, count) {
    var source = counter || document.getElementById("visit-words");
    var text = source ? source.getAttribute("data-" + name) || "" : "";
    return text.replace("{count}", String(count));
  }

  function showCount(note) {
    if (!counter || !window.indexedDB) { return Promise.resolve(0); }
    return outbox.all().then(mine).then(function (items) {
      counter.hidden = items.length === 0;
      counter.setAttribute("data-count", String(items.length));
      counter.textContent = note && items.length ? words(note, items.length) : words("waiting", items.length);
      return items.length;
    });
  }

  // --- sending --------------------------------------------------------------------------------
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
  function flush() {
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

  window.addEventListener("online", function () { flush(); });
  showCount().then(function (count) { if (count) { flush(); } });

  // --- the visit form -------------------------------------------------------------------------
  var form = document.getElementById("visit-form");
  if (!form || !window.indexedDB) { return; }
  var spoken = document.getElementById("visit-words");
  var photos = [];

  function say(name, value) {
    return (spoken.getAttribute("data-" + name) || "").replace(/\{(count|metres|due|time)\}/, String(value));
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function isoWithOffset(d) {
    var offset = -d.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    var abs = Math.abs(offset);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function field(name) { return form.querySelector('[name="' + name + '"]'); }

  // The key is made when the form is shown, so that a double tap or a retry carries the same one.
  function fresh() {
    field("client_key").value = newKey();
    field("checked_in_at").value = isoWithOffset(new Date());
    locate();
  }

  function locate() {
    var place = document.getElementById("visit-place");
    if (!navigator.geolocation) { place.textContent = say("place-none"); return; }
    navigator.geolocation.getCurrentPosition(function (position) {
      field("lat").value = position.coords.latitude.toFixed(6);
      field("lng").value = position.coords.longitude.toFixed(6);
      field("accuracy_m").value = Math.round(position.coords.accuracy);
      field("position_at").value = new Date(position.timestamp).toISOString();
      place.classList.remove("error");
      place.textContent = say("place-ok", Math.round(position.coords.accuracy));
    }, function () {
      place.textContent = say("place-denied");
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  // Another factory than the page was drawn for: its tasks come from the phone's cached list.
  function showFactory(id) {
    if (!id) { return; }
    fetch(form.getAttribute("data-factories-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (list) {
        var chosen = list.factories.filter(function (f) { return String(f.id) === String(id); })[0];
        var tasks = document.getElementById("visit-task-list");
        var template = document.getElementById("visit-task-template");
        tasks.textContent = "";
        (chosen ? chosen.tasks : []).forEach(function (task) {
          var row = template.content.cloneNode(true);
          row.querySelector("input").value = task.id;
          row.querySelector("span").textContent = task.title;
          tasks.appendChild(row);
        });
        document.getElementById("visit-no-tasks").hidden = !!(chosen && chosen.tasks.length);
        var answers = document.getElementById("visit-answers");
        var followUp = chosen ? chosen.follow_up : null;
        field("follow_up_id").value = followUp ? followUp.id : "";
        answers.hidden = !followUp;
        answers.textContent = followUp ? say("answers", new Date(followUp.due_at).toLocaleString()) : "";
        var contacts = field("contact_id");
        while (contacts.options.length > 1) { contacts.remove(1); }
        (chosen ? chosen.contacts : []).forEach(function (contact) {
          contacts.add(new Option(contact.name, contact.id));
        });
      })
      .catch(function () {});
  }

  var select = field("factory_id");
  select.addEventListener("change", function () { showFactory(select.value); });
  var asked = new URLSearchParams(window.location.search).get("factory");
  if (asked && select.value !== asked) {
    select.value = asked;
    showFactory(asked);
  }

  // Photos are shrunk on the phone: long side 1600 px, JPEG, no EXIF left.
  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });  // not an image: the server says so by the field
  }

  var picker = field("photos");
  var thumbs = document.getElementById("visit-thumbs");

  function drawThumbs() {
    thumbs.textContent = "";
    photos.forEach(function (blob, index) {
      var item = document.createElement("li");
      var image = document.createElement("img");
      image.src = URL.createObjectURL(blob);
      image.alt = picker.labels[0].textContent + " " + (index + 1);
      image.className = "visit-thumb";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button button-quiet visit-thumb-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", image.alt + " ×");
      remove.addEventListener("click", function () { photos.splice(index, 1); drawThumbs(); });
      item.appendChild(image);
      item.appendChild(remove);
      thumbs.appendChild(item);
    });
  }

  picker.addEventListener("change", function () {
    Promise.all(Array.prototype.map.call(picker.files, shrink)).then(function (blobs) {
      photos = photos.concat(blobs);
      picker.value = "";
      drawThumbs();
    });
  });

  // The voice note: recorded on the phone (at most 2 minutes, stopped by itself), kept with
  // the outbox item as a Blob and sent as voice_note. Without a microphone API the plain
  // file input stays, and its file travels the same way.
  var VOICE_MAX_S = 120;
  var voicePicker = field("voice_note");
  var recorder = document.getElementById("visit-recorder");
  var voiceRecord = document.getElementById("voice-record");
  var voiceStop = document.getElementById("voice-stop");
  var voiceTime = document.getElementById("voice-time");
  var voiceRecorded = document.getElementById("voice-recorded");
  var voicePlayback = document.getElementById("voice-playback");
  var voiceNote = null;
  var voiceUrl = null;
  var voiceSession = null;

  function clock(seconds) { return Math.floor(seconds / 60) + ":" + pad(Math.floor(seconds % 60)); }

  function showVoice() {
    var recording = !!voiceSession;
    voiceRecord.hidden = recording || !!voiceNote;
    voiceStop.hidden = !recording;
    voiceTime.hidden = !recording && !voiceNote;
    voiceTime.classList.toggle("is-recording", recording);
    voiceRecorded.hidden = !voiceNote;
    if (voiceUrl) { URL.revokeObjectURL(voiceUrl); voiceUrl = null; }
    if (voiceNote) {
      voiceUrl = URL.createObjectURL(voiceNote);
      voicePlayback.src = voiceUrl;
    } else {
      voicePlayback.removeAttribute("src");
    }
  }

  function stopVoice() {
    if (voiceSession && voiceSession.recorder.state !== "inactive") { voiceSession.recorder.stop(); }
  }

  function recordVoice() {
    var types = ["audio/webm;codecs=opus", "audio/mp4", "audio/ogg;codecs=opus"];
    var type = types.filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0];
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var chunks = [];
      var started = Date.now();
      var rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      voiceSession = { recorder: rec, timer: null };
      rec.addEventListener("dataavailable", function (event) { if (event.data.size) { chunks.push(event.data); } });
      rec.addEventListener("stop", function () {
        window.clearInterval(voiceSession.timer);
        stream.getTracks().forEach(function (track) { track.stop(); });
        var discarded = voiceSession.discard;
        voiceSession = null;
        voiceNote = discarded ? null : new Blob(chunks, { type: (rec.mimeType || type || "audio/webm").split(";")[0] });
        voiceTime.textContent = say("voice-length", clock((Date.now() - started) / 1000));
        showVoice();
        if (voiceNote) { voicePlayback.focus(); }
      });
      voiceSession.timer = window.setInterval(function () {
        var seconds = (Date.now() - started) / 1000;
        voiceTime.textContent = clock(seconds) + " / " + clock(VOICE_MAX_S);
        if (seconds >= VOICE_MAX_S - 0.5) { stopVoice(); }  // the server refuses longer notes
      }, 250);
      voiceTime.textContent = clock(0) + " / " + clock(VOICE_MAX_S);
      rec.start(1000);
      showVoice();
      voiceStop.focus();
    }).catch(function () {
      var place = voicePicker.closest(".field");
      var note = document.createElement("p");
      note.className = "error js-error";
      note.textContent = say("voice-denied");
      place.appendChild(note);
    });
  }

  function clearVoice() {
    if (voiceSession) { voiceSession.discard = true; }
    stopVoice();
    voiceNote = null;
    voicePicker.value = "";
    showVoice();
  }

  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    voicePicker.hidden = true;
    recorder.hidden = false;
    voiceRecord.addEventListener("click", recordVoice);
    voiceStop.addEventListener("click", stopVoice);
    document.getElementById("voice-remove").addEventListener("click", function () {
      clearVoice();
      voiceRecord.focus();
    });
  }

  function clearErrors() {
    form.querySelectorAll(".js-error").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid='true']").forEach(function (node) { node.setAttribute("aria-invalid", "false"); });
    document.getElementById("visit-sent-error").hidden = true;
  }

  function showErrors(error) {
    var banner = document.getElementById("visit-sent-error");
    banner.textContent = (error && error.message) || say("error");
    banner.hidden = false;
    var fields = (error && error.fields) || {};
    Object.keys(fields).forEach(function (name) {
      var input = field(name) || form.querySelector("#" + name);
      var place = input && input.type !== "hidden" ? input.closest(".field") : document.getElementById("visit-place");
      if (!place) { return; }
      var note = document.createElement("p");
      note.className = "error js-error";
      note.textContent = fields[name];
      place.appendChild(note);
      if (input && input.type !== "hidden") { input.setAttribute("aria-invalid", "true"); }
    });
    banner.scrollIntoView({ block: "center" });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var data = new FormData(form);
    data.delete("photos");
    data.delete("voice_note");
    data.delete("csrf_token");
    var fields = [];
    data.forEach(function (value, name) { fields.push([name, value]); });
    var key = field("client_key").value;
    var picked = voicePicker.files && voicePicker.files[0];
    var item = {
      key: key, userId: userId, fields: fields, photos: photos.slice(),
      voiceNote: voiceNote || picked || null, createdAt: Date.now()
    };
    var status = document.getElementById("visit-outbox");
    status.textContent = say("sending");
    outbox.put(item).then(flush).then(function (result) {
      if (result && result.sent[key]) {
        window.location.assign(result.sent[key].visit.url);
        return;
      }
      if (result && result.refused[key]) {
        status.textContent = "";
        showErrors(result.refused[key]);
        return;
      }
      return showCount().then(function (count) {
        status.textContent = say("offline", count);
        form.reset();
        photos = [];
        drawThumbs();
        clearVoice();
        fresh();
      });
    });
  });

  fresh();
})();

// Today's "Near me" and "Plan my route": ask the phone where it is, then show the user's
// factories nearest to it, or the day's route from it (the server works out the distances,
// draws the map as SVG and sends the fragment as HTML). Near me needs the position; the route
// without it starts at the first factory due, and the server says so.
(function () {
  "use strict";

  function located(button, panel, url, needsPosition) {
    if (!button || !panel) {
      return;
    }
    var body = panel.querySelector("[data-near-body]");
    var messages = panel.querySelector("template[data-near-messages]");
    var finding = panel.querySelector("[data-near-status]");
    var findingText = finding ? finding.textContent : "";

    function message(name) {
      var found = messages && messages.content.querySelector('[data-message="' + name + '"]');
      return found ? found.textContent : "";
    }

    function show(text, alert) {
      var paragraph = document.createElement("p");
      paragraph.className = alert ? "alert alert-danger" : "muted";
      if (alert) {
        paragraph.setAttribute("role", "alert");
      }
      paragraph.textContent = text;
      body.replaceChildren(paragraph);
    }

    function ready() {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }

    function load(position) {
      var query = position ? "?lat=" + encodeURIComponent(position.coords.latitude) +
        "&lng=" + encodeURIComponent(position.coords.longitude) : "";
      fetch(url + query, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.redirected) {
            // Signed out meanwhile: the login page, not a list, came back.
            window.location.assign(response.url);
            return null;
          }
          if (!response.ok && response.status !== 422) {
            throw new Error("located: " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          if (html !== null) {
            body.innerHTML = html;
          }
        })
        .catch(function () { show(message("failed"), true); })
        .finally(ready);
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      panel.hidden = false;
      if (!navigator.geolocation) {
        if (needsPosition) {
          show(message("unsupported"), true);
        } else {
          load(null);
        }
        return;
      }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      show(findingText, false);
      navigator.geolocation.getCurrentPosition(load, function (error) {
        if (!needsPosition) {
          load(null);  // the route starts at the first factory due instead
          return;
        }
        // Code 1: the person (or the browser's settings) refused; it fails at once, never hangs.
        show(message(error.code === 1 ? "denied" : "unavailable"), true);
        ready();
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  var near = document.querySelector(".today-near-button[data-near-url]");
  located(near, document.getElementById("near"), near && near.getAttribute("data-near-url"), true);
  var route = document.querySelector(".today-route-button[data-route-url]");
  located(
    route, document.getElementById("route"), route && route.getAttribute("data-route-url"), false
  );
})();

// The pipeline board (pipeline/board.html). Dropping a card on another column opens the move
// dialog and puts the card back: nothing moves until the dialog is confirmed. Each card's
// "Move…" button opens the same dialog, which asks where to, without dragging. SortableJS (loaded by the board page)
// gives drag by mouse and by touch; on touch a short press starts it, so a finger can scroll.
(function () {
  "use strict";

  var dialog = document.getElementById("board-dialog");
  var body = document.getElementById("board-dialog-body");
  if (!dialog || !body) {
    return;
  }

  function openDialog() {
    if (!dialog.open) { dialog.showModal(); }
    var focus = body.querySelector("[aria-invalid='true'], textarea, input[type='checkbox'], .button");
    if (focus) { focus.focus(); }
  }

  function load(url) {
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: body, swap: "innerHTML" });
    } else {
      window.location.assign(url);
    }
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === body) { openDialog(); }
  });
  body.addEventListener("click", function (event) {
    if (event.target.closest("[data-dialog-close]")) { dialog.close(); }
  });
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) { dialog.close(); }  // a click on the backdrop
  });
  dialog.addEventListener("close", function () { body.replaceChildren(); });

  function start() {
    if (!window.Sortable) {
      return;
    }
    var origin = null;
    document.querySelectorAll(".board-cards[data-column]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "board",
        sort: false,
        draggable: ".board-card",
        filter: ".board-move-button",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 5,
        delay: 180,
        delayOnTouchOnly: true,
        ghostClass: "board-card-ghost",
        chosenClass: "board-card-chosen",
        dragClass: "board-card-drag",
        onStart: function (event) {
          origin = { list: event.from, next: event.item.nextSibling };
        },
        onAdd: function (event) {
          var card = event.item;
          var column = event.to.getAttribute("data-column");
          if (origin) { origin.list.insertBefore(card, origin.next); }
          var url = card.getAttribute("data-move-url");
          load(url + (url.indexOf("?") === -1 ? "?" : "&") + "to=" + encodeURIComponent(column));
        }
      });
    });
    document.querySelector("[data-board]").classList.add("board-draggable");
  }

  // This script and SortableJS are both deferred; both have run when the document is loaded.
  if (document.readyState === "complete") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
