// The phone reads its position only with its user's separate consent to location at check-in
// (crm.services.privacy.consent): the one rule every page script that locates asks here.
//
// The server's word comes on every page's body (the notice's version, when the consent was given,
// the last withdrawal). A consent given on this phone, with or without a signal, is kept here
// until the server has it: it travels with each outbox item meanwhile (carried()), and a later
// withdrawal, on the account page here or on another device, takes it back.
var body = document.body;
var userId = body.getAttribute("data-user-id") || "";
var KEY = "crm-location-" + userId;
export var notice = Number(body.getAttribute("data-location-notice") || 0);

function time(name) {
  return Date.parse(body.getAttribute(name) || "") || 0;
}

function kept() {
  try {
    return JSON.parse(window.localStorage.getItem(KEY) || "null") || {};
  } catch (error) {
    return {};
  }
}

function keep(record) {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(record));
  } catch (error) { /* private mode: the server's word alone */ }
}

// Whether this user consents now: the server says so (and no withdrawal on this phone came
// since), or this phone holds a consent to the current notice given after the last withdrawal.
export function consented() {
  if (!notice) { return false; }
  var own = kept();
  var withdrawn = Math.max(time("data-location-withdrawn"), own.withdrawnAt || 0);
  var given = time("data-location-at");
  if (given && given > withdrawn) {
    if (own.givenAt) { keep({ withdrawnAt: own.withdrawnAt }); }  // the server has it now
    return true;
  }
  return own.version === notice && (own.givenAt || 0) > withdrawn;
}

// Whether the user said "not now" to this notice on this phone (the visit form does not ask again).
export function declined() {
  return kept().declined === notice;
}

export function give() {
  keep({ version: notice, givenAt: Date.now(), withdrawnAt: kept().withdrawnAt });
  window.dispatchEvent(new Event("location:consented"));
}

// Run `start` once the user consents: now, or when they say yes on this page.
export function whenConsented(start) {
  if (consented()) {
    start();
  } else {
    window.addEventListener("location:consented", start, { once: true });
  }
}

export function decline() {
  var own = kept();
  own.declined = notice;
  keep(own);
}

// Withdrawn on this phone's account page: nothing is read from now, even from pages kept offline.
export function withdraw() {
  keep({ withdrawnAt: Date.now() });
}

// The consent an outbox item carries while the server does not have it: the visit's fields.
export function carried() {
  var own = kept();
  if (!consented() || !own.givenAt) { return []; }
  return [["location_consent", String(own.version)], ["location_consent_at", new Date(own.givenAt).toISOString()]];
}

// The account page's choice: withdrawing clears this phone's consent before the form leaves.
var choice = document.querySelector("form[data-location-choice]");
if (choice) {
  choice.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.value === "withdraw") { withdraw(); }
    if (button && button.value === "give") { keep({ withdrawnAt: kept().withdrawnAt }); }
  });
}
