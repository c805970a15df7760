// Today's "Near me" and the route page: ask the phone where it is, then show the user's
// factories nearest to it (the server works out the distances, draws the map as SVG and sends
// the fragment as HTML), or put the position in the route page's forms. The position is read
// only with the user's consent to location (location.js); without it, Near me says where to
// give it and the route starts at its first stop.
import { consented } from "./location.js";

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

  button.disabled = false;  // drawn disabled until this script is here to answer it
  button.addEventListener("click", function () {
    panel.hidden = false;
    if (!consented()) {
      if (needsPosition) {
        show(message("consent"), true);
      } else {
        load(null);
      }
      return;
    }
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

// The route page: the phone's position goes into the forms (the plan starts there; the stale
// factories are looked for around it). Without it the plan starts at its first stop.
var routeForms = document.querySelectorAll("[data-route-form], [data-route-nearby]");
if (routeForms.length && navigator.geolocation && consented()) {
  navigator.geolocation.getCurrentPosition(function (position) {
    routeForms.forEach(function (form) {
      var lat = form.querySelector("[data-route-lat]");
      var lng = form.querySelector("[data-route-lng]");
      if (lat && lng) {
        lat.value = String(position.coords.latitude);
        lng.value = String(position.coords.longitude);
        lat.disabled = false;
        lng.disabled = false;
      }
    });
  }, function () {}, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

// Moving a stop or planning again needs the server: with no network the page (kept for
// offline use) says so instead of leaving for the browser's error page.
var offlineMessage = document.querySelector("template[data-route-offline]");
document.querySelectorAll("form.route-move, [data-route-form]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (navigator.onLine !== false || !offlineMessage) {
      return;
    }
    event.preventDefault();
    var shown = document.getElementById("route-offline");
    if (!shown) {
      shown = offlineMessage.content.firstElementChild.cloneNode(true);
      shown.id = "route-offline";
      var heading = document.querySelector("main h1");
      heading.parentNode.insertBefore(shown, heading.nextSibling);
    }
    shown.scrollIntoView({ block: "nearest" });
  });
});
