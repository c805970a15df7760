// Field actions through the outbox (DESIGN.md "Exactly once"): follow-up Done, Move and Cancel,
// a task's tick, reopen and video link, a new contact and a factory's hand-in are kept on the
// phone under a key of their own before they are sent. The row shows the change at once, marked
// as waiting; the server's answer confirms it, or its refusal stays by the row with its reason
// until the person drops it (here or in the sync centre) or sends it again.
import { drop, flush, items, outbox, retry, showCount, userId } from "./outbox.js";

// Which forms go through the outbox: the action's kind and the record it changes, read from
// the address it posts to (so that actions on one record are sent in the order made).
var ROUTES = [
  [/^\/follow-ups\/(\d+)\/complete$/, "follow_up_done", "follow-up"],
  [/^\/follow-ups\/(\d+)\/reschedule$/, "follow_up_move", "follow-up"],
  [/^\/follow-ups\/(\d+)\/cancel$/, "follow_up_cancel", "follow-up"],
  [/^\/tasks\/(\d+)\/complete$/, "task_tick", "task"],
  [/^\/tasks\/(\d+)\/reopen$/, "task_reopen", "task"],
  [/^\/tasks\/(\d+)\/video$/, "task_video", "task"],
  [/^\/factories\/(\d+)\/contacts$/, "contact_add", "contacts"],
  [/^\/factories\/new$/, "prospect_add", "prospect"],
  [/^\/portal\/tasks\/(\d+)\/evidence$/, "evidence_hand_in", "task"]
];
var CLOSES = { follow_up_done: true, follow_up_cancel: true };
// The forms emptied when their action is queued (so the next one can be typed): a refusal opens
// them again with what was sent and the server's message by each field.
var REFILLS = { contact_add: true, evidence_hand_in: true, prospect_add: true };
var words = document.getElementById("outbox-badge");

function say(name, value) {
  var text = words ? words.getAttribute("data-" + name) || "" : "";
  return text.replace("{reason}", value || "");
}

export function routeOf(url) {
  var path = new URL(url, window.location.href).pathname;
  for (var i = 0; i < ROUTES.length; i += 1) {
    var match = ROUTES[i][0].exec(path);
    // A new record (a prospect) has no id yet: each one is a record of its own (its key's).
    if (match) { return { path: path, kind: ROUTES[i][1], record: ROUTES[i][2] + "-" + (match[1] || "new"), id: match[1] || "" }; }
  }
  return null;
}

function newKey() {
  if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 14);
}

// The fields the server reads: not the token (the outbox sends a fresh one), and of a page whose
// one form serves every row (Today), only this row's date.
function fieldsOf(form, submitter, route) {
  var data = new FormData(form, submitter);
  var fields = [];
  data.forEach(function (value, name) {
    if (name === "csrf_token" || name === "client_key") { return; }
    var own = /^due_on-(\d+)$/.exec(name);
    if (own && own[1] !== route.id) { return; }
    if (value instanceof File && !value.size) { return; }
    fields.push([name, value]);
  });
  return fields;
}

// The row an action changes: the element around its button that a list draws per record.
function rowOf(element) {
  return element && (element.closest("li") || element.closest(".fp-fold, form"));
}

function rowFor(item) {
  var path = item.url;
  var button = document.querySelector('[formaction="' + path + '"], form[action="' + path + '"]');
  return rowOf(button);
}

function noteIn(row) {
  var note = row.querySelector(":scope > .outbox-note");
  if (!note) {
    note = document.createElement("div");
    note.className = "outbox-note";
    note.setAttribute("role", "status");
    row.appendChild(note);
  }
  return note;
}

// The row as the item stands: waiting, refused (with the reason and Drop), or saved. A refusal
// this page has just had moves the focus to its first marked field.
function mark(item, fresh) {
  var row = rowFor(item);
  if (!row) { return; }
  row.classList.remove("outbox-waiting", "outbox-refused", "outbox-sent");
  row.classList.toggle("outbox-closed", !!CLOSES[item.kind] && item.state !== "refused");
  clearFields(row);
  var note = noteIn(row);
  note.textContent = "";
  var text = document.createElement("span");
  note.appendChild(text);
  if (item.state === "sent") {
    row.classList.add("outbox-sent");
    text.textContent = say("saved");
    return;
  }
  if (item.state === "refused") {
    row.classList.add("outbox-refused");
    var shownByFields = REFILLS[item.kind] ? reopen(item) : [];
    var reason = reasonBesides(item.error, shownByFields);
    text.textContent = reason ? say("refused", reason) : say("refused-fields");
    markFields(row, item);
    var first = row.querySelector("[aria-invalid='true']");
    if (fresh && shownByFields.length && first) { first.focus(); }
    if (reason || !REFILLS[item.kind]) {  // else the form's own button sends it again, corrected
      note.appendChild(button(say("retry"), function () { retry(item.key); }));
    }
    note.appendChild(button(say("drop"), function () { drop(item.key); }));
    return;
  }
  row.classList.add("outbox-waiting");
  text.textContent = say("waiting-one");
}

// The refused fields, by their inputs in the row (a row's date is named with its record's id).
function markFields(row, item) {
  var fields = (item.error && item.error.fields) || {};
  var id = routeOf(item.url).id;
  Object.keys(fields).forEach(function (name) {
    var input = row.querySelector('[name="' + name + '"], [name="' + name + "-" + id + '"]');
    if (input && input.type !== "hidden") { input.setAttribute("aria-invalid", "true"); }
  });
}

// The form of an action that empties it, opened again with the values sent where the person has
// not typed anew, and the message by each refused field. Returns the messages shown by fields.
function reopen(item) {
  var form = document.querySelector('form[action="' + item.url + '"]');
  if (!form) { return []; }
  var panel = form.closest("details");
  if (panel) { panel.open = true; }
  // A field the page fills itself (data-outbox-auto: the phone's position, the nearest belt) is
  // not the person typing anew.
  var typed = Array.prototype.some.call(form.elements, function (input) {
    return input.type !== "hidden" && input.type !== "file" && input.value && input.name && !input.hasAttribute("data-outbox-auto");
  });
  if (!typed) { refill(form, item.fields); }
  var fields = (item.error && item.error.fields) || {};
  var shown = [];
  Object.keys(fields).forEach(function (name) {
    var input = form.elements.namedItem(name);
    if (!input || !input.closest || input.type === "hidden") { return; }
    var holder = input.closest(".field") || input.parentNode;
    var message = document.createElement("p");
    message.className = "error outbox-error";
    message.id = (input.id || name) + "-outbox-error";
    message.textContent = fields[name];
    holder.appendChild(message);
    holder.classList.add("field-invalid");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    input.setAttribute("data-outbox-describedby", described.join(" "));
    input.setAttribute("aria-describedby", described.concat(message.id).join(" "));
    shown.push(fields[name]);
  });
  return shown;
}

function refill(form, fields) {
  (fields || []).forEach(function (pair) {
    var input = form.elements.namedItem(pair[0]);
    if (input && input.type !== "file" && input.type !== "hidden" && typeof pair[1] === "string") { input.value = pair[1]; }
  });
}

// The server's message without the parts already shown by their fields.
function reasonBesides(error, shownByFields) {
  var message = (error && error.message) || "";
  shownByFields.forEach(function (text) { message = message.replace(text, ""); });
  return message.trim();
}

// The marks of an earlier refusal: the messages by the fields and their invalid state.
function clearFields(row) {
  row.querySelectorAll(".outbox-error").forEach(function (message) {
    var holder = message.parentNode;
    holder.classList.remove("field-invalid");
    message.remove();
  });
  row.querySelectorAll("[data-outbox-describedby]").forEach(function (input) {
    var before = input.getAttribute("data-outbox-describedby");
    if (before) { input.setAttribute("aria-describedby", before); } else { input.removeAttribute("aria-describedby"); }
    input.removeAttribute("data-outbox-describedby");
  });
  row.querySelectorAll("[aria-invalid='true']").forEach(function (input) { input.setAttribute("aria-invalid", "false"); });
}

function button(label, act) {
  var control = document.createElement("button");
  control.type = "button";
  control.className = "button button-subtle";
  control.textContent = label;
  control.addEventListener("click", act);
  return control;
}

function unmark(key, url) {
  var row = rowFor({ url: url });
  if (!row) { return; }
  row.classList.remove("outbox-waiting", "outbox-refused", "outbox-sent", "outbox-closed");
  clearFields(row);
  var note = row.querySelector(":scope > .outbox-note");
  if (note) { note.remove(); }
}

// Each row as the outbox has it: on load, and whenever the outbox changed. A row shows "Saved"
// only for what this page sent: the page drawn after it shows the change itself.
var shown = {};
var loadedAt = Date.now();
function showAll(refused) {
  return items().then(function (list) {
    var present = {};
    var urls = {};
    list.filter(function (item) { return item.url && (item.state !== "sent" || item.sentAt > loadedAt); }).forEach(function (item) {
      present[item.key] = true;
      urls[item.url] = true;
      shown[item.key] = item.url;
      mark(item, !!(refused && refused[item.key]));
    });
    Object.keys(shown).forEach(function (key) {
      if (!present[key] && !urls[shown[key]]) { unmark(key, shown[key]); }
      if (!present[key]) { delete shown[key]; }
    });
  });
}

document.addEventListener("submit", function (event) {
  if (event.defaultPrevented || !window.indexedDB) { return; }  // a confirmation said no
  var form = event.target;
  var submitter = event.submitter;
  var url = submitter && submitter.hasAttribute("formaction") ? submitter.getAttribute("formaction") : form.getAttribute("action");
  var route = url && routeOf(url);
  if (!route) { return; }
  event.preventDefault();
  var panel = (submitter || form).closest("details[open]");
  if (panel) { panel.removeAttribute("open"); }  // the Move panel: the row says what happens now
  var key = newKey();
  var item = {
    key: key, userId: userId, kind: route.kind, url: route.path, record: route.id ? route.record : route.record + "-" + key,
    fields: fieldsOf(form, submitter, route), state: "waiting", createdAt: Date.now(),
    label: labelOf(submitter || form), photos: [], voiceNote: null
  };
  queue(item, form);
});

// A double tap queues the same action once; the same form sent again replaces its refused action
// (which the server never applied), so the corrected one is not held back behind it.
function queue(item, form) {
  items().then(function (list) {
    var twin = list.filter(function (one) {
      return one.state === "waiting" && one.url === item.url && JSON.stringify(plain(one.fields)) === JSON.stringify(plain(item.fields));
    })[0];
    if (twin) { return null; }
    var replaced = list.filter(function (one) { return one.state === "refused" && one.url === item.url; });
    return Promise.all(replaced.map(function (one) { return outbox.remove(one.key); })).then(function () {
      return outbox.put(item);
    }).then(function () {
      mark(item);
      shown[item.key] = item.url;
      if (REFILLS[item.kind]) { form.reset(); }
      return showCount().then(flush).then(function (result) {
        // Sent at once: the page the form would have led to, with the server's "saved" message.
        var answer = result && result.sent[item.key];
        if (answer && answer.location) { go(answer.location); }
      });
    });
  });
}

// To the page the answer names, drawn afresh even when only its #anchor differs from this one.
function go(location) {
  var target = new URL(location, window.location.href);
  var here = window.location;
  if (target.pathname + target.search === here.pathname + here.search && target.hash) {
    here.hash = target.hash;
    here.reload();
    return;
  }
  here.assign(target.href);
}

function plain(fields) {
  return fields.map(function (pair) { return [pair[0], typeof pair[1] === "string" ? pair[1] : pair[1].name]; });
}

// What the sync centre calls the action: the row's name and the button's word.
function labelOf(element) {
  var row = rowOf(element);
  var named = row && row.querySelector(".row-title, .row-name, h2, h3, summary, strong");
  var action = element.tagName === "BUTTON" ? element.textContent.trim() : "";
  var submit = !action && element.querySelector && element.querySelector("button[type=submit], button:not([type])");
  action = action || (submit ? submit.textContent.trim() : "");
  return [action, named ? named.textContent.trim() : ""].filter(Boolean).join(" · ");
}

window.addEventListener("outbox:changed", function (event) { showAll(event.detail && event.detail.refused); });
showAll();
