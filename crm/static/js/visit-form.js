// The visit form (visits/new.html): the check-in's time, place and key, the chosen factory's
// tasks, and a submit that puts the visit in the outbox first, so that it saves without a
// signal and sends itself later.
import { carried, consented, decline, declined, give } from "./location.js";
import { flush, outbox, showCount, userId } from "./outbox.js";
import { photoPicker } from "./photos.js";
import { voiceRecorder } from "./recorder.js";

var form = document.getElementById("visit-form");
var spoken = document.getElementById("visit-words");

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
  askOrLocate();
}

// The position is read only with the user's consent to location at check-in; before the first
// check-in the page asks (the notice and two buttons), and "Not now" is not asked again here.
var consentPanel = document.getElementById("location-consent");

function askOrLocate() {
  var place = document.getElementById("visit-place");
  consentPanel.hidden = true;
  if (consented()) {
    locate();
    return;
  }
  ["lat", "lng", "accuracy_m", "position_at"].forEach(function (name) { field(name).value = ""; });
  place.classList.remove("error");
  if (declined()) {
    place.textContent = say("place-withheld");
    return;
  }
  consentPanel.hidden = false;
  place.textContent = say("place-ask");
}

consentPanel.addEventListener("click", function (event) {
  var button = event.target.closest("[data-consent]");
  if (!button) { return; }
  if (button.getAttribute("data-consent") === "give") { give(); } else { decline(); }
  askOrLocate();
});

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

var photos = photoPicker(field("photos"), document.getElementById("visit-thumbs"));
var voice = voiceRecorder(field("voice_note"), say);

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
  // Each photo's capture time, in the photos' order, travels with the visit's fields.
  photos.times().forEach(function (time) { fields.push(["photo_taken_at", time]); });
  // A consent given on this phone travels with each visit until the server has it.
  carried().forEach(function (pair) { fields.push(pair); });
  var key = field("client_key").value;
  var item = {
    key: key, userId: userId, fields: fields, photos: photos.list(),
    voiceNote: voice.note(), createdAt: Date.now()
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
      queued[key] = true;
      form.reset();
      photos.clear();
      voice.clear();
      fresh();
    });
  });
});

// A visit this form saved on the phone and the outbox sent later: the form says so, with what
// still waits ("Saved" when nothing does).
var queued = {};
window.addEventListener("outbox:changed", function (event) {
  var sent = (event.detail && event.detail.sent) || {};
  var ours = Object.keys(sent).filter(function (key) { return queued[key]; });
  if (!ours.length) { return; }
  ours.forEach(function (key) { delete queued[key]; });
  var status = document.getElementById("visit-outbox");
  showCount().then(function (count) {
    status.textContent = count ? say("offline", count) : say("saved");
  });
});

fresh();
