// The service worker: keeps the app shell (today, my factories, the visit form and the
// phone's list of factories) so that the rep can open them and log a visit offline.
// Pages go network first and fall back to the cache; the app's own files go cache first.
"use strict";

// The hashed URLs of the app's files and their version come from the server, before this
// script (crm.assets.service_worker_prelude): a new set of files makes new caches.
var VERSION = "crm-v6-" + self.CRM_ASSETS_VERSION;  // v6: hashed file names, the outbox's actions
var PAGES = VERSION + "-pages";
var FILES = VERSION + "-files";
var SHELL = ["/today", "/factories/", "/visit", "/visit/factories.json", "/sync"];
var STATIC = self.CRM_PRECACHE.concat(["/favicon.ico"]);

self.addEventListener("install", function (event) {
  event.waitUntil(
    Promise.all([
      caches.open(FILES).then(function (cache) { return cache.addAll(STATIC); }),
      caches.open(PAGES).then(function (cache) {
        // One page that fails (signed out, not the user's role) must not stop the others.
        return Promise.all(SHELL.map(function (url) {
          return fetch(url, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
            if (response.ok) { return cache.put(url, response); }
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
  if (!isPage(url)) { return; }
  var key = shellKey(url);
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(PAGES).then(function (cache) { cache.put(key, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(PAGES).then(function (cache) {
        return cache.match(key).then(function (hit) {
          return hit || cache.match("/today").then(function (today) {
            return today || Response.error();
          });
        });
      });
    })
  );
});

self.addEventListener("message", function (event) {
  // Signing out clears the pages kept for the user who signed out.
  if (event.data === "clear-pages") {
    event.waitUntil(caches.delete(PAGES));
  }
});
