// The sync centre (sync/index.html): the phone's outbox as lists of what was refused (with the
// server's reason, Retry and Drop), what waits, and what was sent (with the time).
import { drop, flush, items, retry } from "./outbox.js";

var centre = document.getElementById("sync-centre");
var template = document.getElementById("sync-row");
var badge = document.getElementById("outbox-badge");

function word(name, value) {
  return (centre.getAttribute("data-" + name) || "").replace("{time}", value || "");
}

function summary(name, count) {
  return (badge.getAttribute("data-summary-" + name) || "").replace("{count}", String(count));
}

function when(ms) {
  var at = new Date(ms);
  var today = new Date();
  var time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return at.toDateString() === today.toDateString() ? time : at.toLocaleDateString() + " " + time;
}

function groupOf(item) {
  return item.state === "sent" ? "sent" : item.state === "refused" ? "refused" : "waiting";
}

function rowFor(item) {
  var row = template.content.firstElementChild.cloneNode(true);
  row.setAttribute("data-key", item.key);
  row.setAttribute("data-kind", item.kind || "visit");
  row.querySelector("[data-sync-label]").textContent = item.label || word("visit");
  row.querySelector("[data-sync-time]").textContent = item.state === "sent"
    ? word("sent-at", when(item.sentAt)) : word("made-at", when(item.createdAt));
  if (item.state === "refused") {
    var reason = row.querySelector("[data-sync-reason]");
    reason.textContent = (item.error && item.error.message) || "";
    reason.hidden = false;
    row.querySelector("[data-sync-buttons]").hidden = false;
    row.querySelector("[data-sync-retry]").addEventListener("click", function () { retry(item.key); });
    row.querySelector("[data-sync-drop]").addEventListener("click", function () { drop(item.key); });
  }
  return row;
}

function draw() {
  return items().then(function (list) {
    var counts = { refused: 0, waiting: 0, sent: 0 };
    centre.querySelectorAll("[data-sync-group]").forEach(function (group) {
      group.querySelector("[data-sync-list]").textContent = "";
    });
    list.slice().reverse().forEach(function (item) {
      var name = groupOf(item);
      counts[name] += 1;
      centre.querySelector('[data-sync-group="' + name + '"] [data-sync-list]').appendChild(rowFor(item));
    });
    Object.keys(counts).forEach(function (name) {
      centre.querySelector('[data-sync-group="' + name + '"]').hidden = counts[name] === 0;
    });
    var text = [];
    if (counts.refused) { text.push(summary("refused", counts.refused)); }
    text.push(summary("waiting", counts.waiting));
    document.getElementById("sync-summary").textContent = list.length ? text.join(" ") : word("never");
  });
}

document.getElementById("sync-now").addEventListener("click", function () { flush(); });
window.addEventListener("outbox:changed", draw);
draw();
