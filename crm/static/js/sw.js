// The service worker: keeps the app shell (today, my factories, the visit form and the
// phone's list of factories) so that the rep can open them and log a visit offline.
// Pages go network first and fall back to the cache; the app's own files go cache first.
"use strict";

// The hashed URLs of the app's files and their version come from the server, before this
// script (crm.assets.service_worker_prelude): a new set of files makes new caches.
var VERSION = "crm-v8-" + self.CRM_ASSETS_VERSION;  // v8: the day's route kept
var PAGES = VERSION + "-pages";
var FILES = VERSION + "-files";
var SHELL = ["/today", "/today/route", "/factories/", "/factories/new", "/visit", "/visit/factories.json", "/sync", "/offline"];
var STATIC = self.CRM_PRECACHE.concat(["/favicon.ico"]);

self.addEventListener("install", function (event) {
  event.waitUntil(
    Promise.all([
      caches.open(FILES).then(function (cache) { return cache.addAll(STATIC); }),
      caches.open(PAGES).then(function (cache) {
        // One page that fails (signed out, not the user's role) must not stop the others.
        return Promise.all(SHELL.map(function (url) {
          return fetch(url, { credentials: "same-origin", redirect: "manual", headers: { "X-Offline-Keep": "1" } }).then(function (response) {
            if (response.ok) { return keep(url, response); }
          }).catch(function () {});
        }));
      })
    ]).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(VERSION) !== 0;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function shellKey(url) {
  // The visit form is one shell whatever factory it opens on; the script reads the query.
  if (url.pathname === "/visit") { return "/visit"; }
  // The day's route is one page whatever position it was asked from: the plan is the same.
  if (url.pathname === "/today/route") { return "/today/route"; }
  return url.pathname + url.search;
}

function isPage(url) {
  return SHELL.indexOf(url.pathname) !== -1 || /^\/factories\/\d+$/.test(url.pathname);
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/favicon.ico") {
    event.respondWith(
      caches.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) {
            var copy = response.clone();
            caches.open(FILES).then(function (cache) { cache.put(request, copy); });
          }
          return response;
        });
      })
    );
    return;
  }
  if (!isPage(url)) {
    // Any other page, offline, says that it is not kept on this phone (not the browser's error).
    if (request.mode === "navigate") { event.respondWith(fetch(request).catch(offlinePage)); }
    return;
  }
  var key = shellKey(url);
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && !response.redirected) { keep(key, response.clone()); }
      return response;
    }).catch(function () {
      return caches.open(PAGES).then(function (cache) { return cache.match(key); }).then(function (hit) {
        return hit ? fromCache(hit) : offlinePage();
      });
    })
  );
});

// --- offline: pages kept with the time they were fetched, the working set kept at sign-in ------
var OFFLINE = "/offline";
var KEPT = "/offline/kept";  // when the working set was last kept, and for whom
var KEEP_AGAIN_AFTER_MS = 12 * 3600 * 1000;
var keeping = null;  // the progress of the keeping under way: {user, done, total}

function keep(key, response) {
  // The page is kept with the time it was fetched, for its "Offline: as of 09:12" note; the
  // body is read whole, so its length and encoding are no longer the wire's.
  var headers = new Headers(response.headers);
  headers.set("X-Fetched-At", new Date().toISOString());
  headers.delete("Content-Length");
  headers.delete("Content-Encoding");
  return response.blob().then(function (body) {
    return caches.open(PAGES).then(function (cache) {
      return cache.put(key, new Response(body, { status: response.status, statusText: response.statusText, headers: headers }));
    });
  });
}

function fromCache(hit) {
  // A page drawn from the cache says so: its body carries the time it was fetched (offline.js).
  var at = hit.headers.get("X-Fetched-At");
  if (!at || !/text\/html/.test(hit.headers.get("Content-Type") || "")) { return hit; }
  return hit.text().then(function (html) {
    return new Response(html.replace("<body", '<body data-offline-at="' + at + '"'), {
      status: hit.status, statusText: hit.statusText, headers: hit.headers
    });
  });
}

function offlinePage() {
  return caches.open(PAGES).then(function (cache) { return cache.match(OFFLINE); }).then(function (page) {
    return page || Response.error();
  });
}

function tell(message) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    windows.forEach(function (client) { client.postMessage(message); });
  });
}

function fetchAndKeep(url) {
  // The header leaves the user's one-time messages for the page they open (crm.views.field).
  var asked = { credentials: "same-origin", redirect: "manual", headers: { "X-Offline-Keep": "1" } };
  return fetch(url, asked).then(function (response) {
    if (!response.ok) { throw new Error(url + " " + response.status); }  // signed out, not allowed
    return keep(shellKey(new URL(url, self.location.origin)), response.clone()).then(function () { return response; });
  });
}

// The rep's working set, kept again after each sign-in: the shell's pages, then the page of each
// factory they own (from the visit form's list), a few at a time, telling every window how far.
function keepWorkingSet(user) {
  var run = keeping = { user: user, done: 0, total: SHELL.length };
  var stopped = function () { return keeping !== run; };  // signed out meanwhile
  var progress = function () {
    return tell({ type: "offline-progress", done: run.done, total: run.total });
  };
  return fetchAndKeep("/visit/factories.json").then(function (response) { return response.json(); }).then(function (list) {
    if (String(list.user_id) !== String(user)) { throw new Error("another user"); }
    var urls = SHELL.filter(function (url) { return url !== "/visit/factories.json"; });
    list.factories.forEach(function (factory) {
      if (factory.owned) { urls.push("/factories/" + factory.id); }
    });
    run.done = 1;
    run.total = urls.length + 1;
    progress();
    var queue = urls.slice();
    function next() {
      var url = queue.shift();
      if (!url || stopped()) { return Promise.resolve(); }
      return fetchAndKeep(url).catch(function () {}).then(function () {
        run.done += 1;
        return progress();
      }).then(next);
    }
    return Promise.all([next(), next(), next()]);
  }).then(function () {
    if (stopped()) { throw new Error("signed out"); }
    var at = new Date().toISOString();
    var total = run.total;
    return caches.open(PAGES).then(function (cache) {
      return cache.put(KEPT, new Response(JSON.stringify({ user: String(user), at: at, total: total })));
    }).then(function () { return tell({ type: "offline-kept", at: at, total: total }); });
  }).catch(function () {
    return tell({ type: "offline-failed" });
  }).then(function () { if (!stopped()) { keeping = null; } });
}

function keepIfDue(user) {
  if (keeping) {
    return tell({ type: "offline-progress", done: keeping.done, total: keeping.total });
  }
  return caches.open(PAGES).then(function (cache) { return cache.match(KEPT); }).then(function (hit) {
    return hit ? hit.json() : null;
  }).then(function (kept) {
    var fresh = kept && kept.user === String(user) && Date.now() - Date.parse(kept.at) < KEEP_AGAIN_AFTER_MS;
    return fresh ? null : keepWorkingSet(user);
  });
}

self.addEventListener("message", function (event) {
  // Signing out clears the pages kept for the user who signed out.
  if (event.data === "clear-pages") {
    keeping = null;
    event.waitUntil(caches.delete(PAGES));
  } else if (event.data && event.data.type === "keep-working-set" && event.data.user) {
    event.waitUntil(keepIfDue(event.data.user));
  }
});
