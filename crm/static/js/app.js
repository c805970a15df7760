// The entry script of every page (a module): htmx's CSRF header, confirmations and the
// service worker; then each concern's module, imported only where the page has its element.

function csrfToken() {
  var meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// htmx requests carry the CSRF token that Flask-WTF expects in a header.
document.addEventListener("htmx:configRequest", function (event) {
  event.detail.headers["X-CSRFToken"] = csrfToken();
});

// Forms, and the buttons that send them, that ask for confirmation say so in data-confirm (no
// inline handlers under the CSP). On a page whose one form serves every row, a button's empty
// data-confirm asks the form's data-confirm-row, about what names the button's row.
function question(form, button) {
  if (!button || !button.hasAttribute("data-confirm")) {
    return form.getAttribute && form.getAttribute("data-confirm");
  }
  var own = button.getAttribute("data-confirm");
  if (own) { return own; }
  var group = button.closest("[aria-labelledby]");
  var name = group && document.getElementById(group.getAttribute("aria-labelledby"));
  return (form.getAttribute("data-confirm-row") || "")
    .replace("%(factory)s", name ? name.textContent.trim() : "");
}

document.addEventListener("submit", function (event) {
  var asked = question(event.target, event.submitter);
  if (asked && !window.confirm(asked)) {
    event.preventDefault();
  }
});

// --- the service worker: the app shell for staff; signing out clears its pages -------------------
var body = document.body;
var userId = body.getAttribute("data-user-id");
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

// A form that its module sends (the visit form, through the outbox) must not be posted by the
// browser when Save is tapped before the module has come: the tap waits for it, then submits.
function holdSubmits(form, loading) {
  var tapped = null;
  function hold(event) {
    event.preventDefault();
    tapped = event;
  }
  function release() {
    form.removeEventListener("submit", hold);
    if (!tapped) { return; }
    if (tapped.submitter) { form.requestSubmit(tapped.submitter); } else { form.requestSubmit(); }
  }
  form.addEventListener("submit", hold);
  loading.then(release);
}

// A module the page could not fetch (the signal went while the page loaded, before the service
// worker kept it) leaves the page as the server drew it: its forms post as plain forms, and the
// failure is a warning, not an uncaught error.
var pageModules = [];
function load(path) {
  var module = import(path).catch(function (error) {
    console.warn("Not loaded: " + path + " (" + error.message + ")");
    return null;
  });
  pageModules.push(module);
  return module;
}

// --- each page's own modules ---------------------------------------------------------------------
// A module is fetched only by the pages that have its element, and it sets itself up when it
// runs. The service worker (sw.js) precaches every one of them, so that the visit form opens
// offline too. The outbox sends what waits whenever a signed-in page loads.
// Field actions go through the outbox (actions.js, on the pages that have their forms): a form
// sent before that module has come waits for it, as the visit form does, so that no action
// leaves without its key.
var ACTION_FORMS = '[formaction^="/follow-ups/"], form[action^="/tasks/"], ' +
  'form[action^="/factories/"][action$="/contacts"], form[action^="/portal/tasks/"], ' +
  'form[action="/factories/new"]';
if (userId) {
  load("./outbox.js");
}
if (document.querySelector("form[data-location-choice]")) {
  load("./location.js");
}
if (userId && document.querySelector(ACTION_FORMS)) {
  var early = null;
  var holdEarly = function (event) {
    event.preventDefault();
    event.stopPropagation();
    early = early || event;
  };
  document.addEventListener("submit", holdEarly, true);
  load("./actions.js").finally(function () {
    document.removeEventListener("submit", holdEarly, true);
    if (early) { early.target.requestSubmit(early.submitter || undefined); }
  });
}
if (userId && document.getElementById("sync-centre")) {
  load("./sync-centre.js");
}
var visitForm = document.getElementById("visit-form");
if (visitForm && window.indexedDB) {
  holdSubmits(visitForm, load("./visit-form.js"));
}
if (document.querySelector(".today-near-button[data-near-url], [data-route-form], [data-route-nearby]")) {
  load("./route.js");
}
if (document.querySelector("[data-role-fields]") && document.getElementById("role")) {
  load("./user-form.js");
}
if (document.getElementById("prospect-form")) {
  load("./prospect-form.js");
}
if (document.getElementById("board-dialog")) {
  load("./board.js");
}
if (document.querySelector("[data-import-progress]")) {
  load("./imports.js");
}
if (document.querySelector("[data-export-progress]")) {
  load("./takeout.js");
}
if (document.querySelector("[data-bulk-approve]")) {
  load("./requests.js");
}
// Offline (offline.js): the cached page's note, the working set kept at sign-in, signing out.
// The visit form's distance to the factory; the portal's photos shrunk before they are sent.
if (body.hasAttribute("data-outbox")) {
  load("./offline.js");
}
if (visitForm) {
  load("./check-in-distance.js");
}
var shrinking = document.querySelectorAll("form[data-shrink-photos]");
if (shrinking.length) {
  var photoModule = load("./portal-photos.js");
  shrinking.forEach(function (form) { holdSubmits(form, photoModule); });
}

// Once every module the page asked for has come (or failed), the page says so: a tap from then on
// goes through the modules' own handlers, not the early hold (the browser tests wait for this).
Promise.all(pageModules).then(function () {
  document.documentElement.setAttribute("data-modules", "ready");
});
