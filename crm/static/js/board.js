// The pipeline board (pipeline/board.html). Dropping a card on another column opens the move
// dialog and puts the card back: nothing moves until the dialog is confirmed, and then the card
// moves in the page as it stands. Each card's
// "Move…" button opens the same dialog, which asks where to, without dragging. SortableJS
// (loaded by the board page) gives drag by mouse and by touch; on touch a short press starts
// it, so a finger can scroll.

var dialog = document.getElementById("board-dialog");
var body = document.getElementById("board-dialog-body");

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

// A confirmed move answers with the card in its new place, the counts and a message, swapped
// in by id (pipeline/_moved.html): the page stays where it was, and the dialog closes.
var statusTimer = null;
function moved() {
  var card = document.querySelector(".board-card-moved");
  dialog.close();
  if (card) {
    card.querySelector(".board-move-button").focus({ preventScroll: true });
    window.setTimeout(function () { card.classList.remove("board-card-moved"); }, 4000);
  }
  var status = document.getElementById("board-status");
  window.clearTimeout(statusTimer);
  statusTimer = window.setTimeout(function () { status.textContent = ""; }, 6000);
}

// "Show more" asks for the cards after those its column holds now: a move made in place may have
// taken one out or put one in since the page was drawn.
document.body.addEventListener("htmx:configRequest", function (event) {
  var link = event.detail.elt;
  if (!link.classList || !link.classList.contains("board-more")) { return; }
  var url = new URL(event.detail.path, window.location.href);
  url.searchParams.set("start", String(link.closest(".board-cards").querySelectorAll(".board-card").length));
  event.detail.path = url.pathname + url.search;
});

document.body.addEventListener("htmx:afterSwap", function (event) {
  if (event.detail.target !== body) { return; }
  if (body.querySelector("[data-board-moved]")) { moved(); } else { openDialog(); }
});
body.addEventListener("click", function (event) {
  if (event.target.closest("[data-dialog-close]")) { dialog.close(); }
});
dialog.addEventListener("click", function (event) {
  if (event.target === dialog) { dialog.close(); }  // a click on the backdrop
});
dialog.addEventListener("close", function () { body.replaceChildren(); });
// The entry imports this module while the page loads and it arrives a moment later: a "Move…"
// tapped meanwhile has filled the dialog without opening it.
if (body.firstElementChild) { openDialog(); }

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
        var url = card.querySelector(".board-move-button").getAttribute("href");
        load(url + (url.indexOf("?") === -1 ? "?" : "&") + "to=" + encodeURIComponent(column));
      }
    });
  });
  document.querySelector("[data-board]").classList.add("board-draggable");
}

// SortableJS is a deferred script, so it has run by DOMContentLoaded; this module is imported
// when the entry runs, which may be before SortableJS or after DOMContentLoaded.
if (window.Sortable) {
  start();
} else {
  document.addEventListener("DOMContentLoaded", start);
}
