// The prospect form (factories/new_prospect.html): the phone's position as the factory's place
// unless the rep typed one, the team's belt nearest to it chosen, and the likely duplicates of
// what is typed listed (with links) while there is a network. The save itself goes through the
// outbox (actions.js); a refusal for duplicates lists them again, with "Save anyway". The phone's
// position is read only with the user's consent to location (location.js).
import { consented } from "./location.js";

var form = document.getElementById("prospect-form");
var place = document.getElementById("np-place");
var lat = form.elements.namedItem("lat");
var lng = form.elements.namedItem("lng");
var belt = form.elements.namedItem("belt_id");
var panel = document.getElementById("prospect-duplicates");
var typedPlace = !!lat.value;  // a point sent back by the server, or typed: not overwritten
var chosenBelt = false;
var EARTH_RADIUS_M = 6371008.8;  // as crm.services.field.geo

function radians(degrees) { return degrees * Math.PI / 180; }

function metresBetween(lat1, lng1, lat2, lng2) {
  var dPhi = radians(lat2 - lat1);
  var dLambda = radians(lng2 - lng1);
  var a = Math.pow(Math.sin(dPhi / 2), 2) +
    Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.pow(Math.sin(dLambda / 2), 2);
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

function say(name, metres) {
  place.textContent = (place.getAttribute("data-" + name) || "").replace("{metres}", metres || "");
}

// The belt whose centre is nearest, as crm.services.factories.prospects.nearest_belt_id.
function nearestBelt(here) {
  if (chosenBelt || !belt) { return; }
  var best = null;
  Array.prototype.forEach.call(belt.options, function (option) {
    var bLat = parseFloat(option.getAttribute("data-lat"));
    var bLng = parseFloat(option.getAttribute("data-lng"));
    if (isNaN(bLat) || isNaN(bLng)) { return; }
    var metres = metresBetween(here.latitude, here.longitude, bLat, bLng);
    if (!best || metres < best.metres) { best = { option: option, metres: metres }; }
  });
  if (best) { belt.value = best.option.value; }
}

var lastHere = null;
function useHere(position) {
  var here = position.coords;
  lastHere = position;
  nearestBelt(here);
  if (typedPlace) { return; }
  var before = lat.value + "," + lng.value;
  lat.value = here.latitude.toFixed(6);
  lng.value = here.longitude.toFixed(6);
  say("here", Math.round(here.accuracy).toLocaleString(document.documentElement.lang));
  if (before !== lat.value + "," + lng.value) {
    check();
    if (!mapBox.querySelector(".np-map")) { drawMap(); }
  }
}

// The likely duplicates of what the form holds, drawn by the server (links only to what the
// rep may see). Offline, the list stays as it was: the server checks again when it is sent.
var asked = 0;
function check() {
  if (!form.elements.namedItem("name").value.trim() && !form.elements.namedItem("contact_phone").value.trim() && !lat.value) { return; }
  var query = new URLSearchParams();
  ["name", "contact_phone", "credit_code", "belt_id", "lat", "lng"].forEach(function (name) {
    var input = form.elements.namedItem(name);
    if (input && input.value) { query.set(name, input.value); }
  });
  var mine = ++asked;
  fetch(form.getAttribute("data-duplicates-url") + "?" + query.toString(), { credentials: "same-origin" }).then(function (response) {
    return response.ok ? response.text() : null;
  }).then(function (html) {
    if (html !== null && mine === asked) {
      panel.innerHTML = html;  // the server's own fragment (no script runs under the CSP)
    }
  }).catch(function () {});
}

form.addEventListener("change", function (event) {
  var name = event.target.name;
  if (name === "lat" || name === "lng") {
    typedPlace = !!(lat.value || lng.value);
    say(typedPlace ? "pinned" : "none");
  }
  if (name === "belt_id") { chosenBelt = true; }
  if (name === "lat" || name === "lng") { drawMap(); }
  if (name !== "save_anyway") { check(); }
});
form.addEventListener("reset", function () {
  // Queued: the next prospect starts empty, at the phone's position again.
  typedPlace = false;
  chosenBelt = false;
  window.setTimeout(function () {
    panel.innerHTML = "";
    if (lastHere) { useHere(lastHere); }
  }, 0);
});
// A refusal (duplicates found when the outbox sent it) brings the form back: list them again.
new MutationObserver(function (changes) {
  var refused = changes.some(function (change) {
    return Array.prototype.some.call(change.addedNodes, function (node) {
      return node.classList && node.classList.contains("outbox-error");
    });
  });
  if (refused) { check(); }
}).observe(form, { childList: true, subtree: true });

// --- the map: the server draws it around the place (no map service); a tap moves the pin ---------
var mapBox = document.getElementById("np-map");
var more = form.querySelector(".np-more");
var TILE = 256;

function drawMap() {
  if (!more.open || !lat.value || !lng.value) { return; }
  var query = new URLSearchParams({ lat: lat.value, lng: lng.value });
  fetch(mapBox.getAttribute("data-map-url") + "?" + query.toString(), { credentials: "same-origin" }).then(function (response) {
    return response.ok ? response.text() : null;
  }).then(function (html) {
    if (html !== null) { mapBox.innerHTML = html; }
  }).catch(function () {});  // offline: the place is typed by hand
}

// A tap on the drawing, as a position: Web Mercator backwards from the pin's known place.
function positionAt(svg, box, event) {
  var point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  var at = point.matrixTransform(svg.getScreenCTM().inverse());
  var zoom = Number(box.getAttribute("data-zoom"));
  var size = TILE * Math.pow(2, zoom);
  var pinLat = radians(Number(box.getAttribute("data-lat")));
  var pinX = (Number(box.getAttribute("data-lng")) + 180) / 360 * size;
  var pinY = (0.5 - Math.log((1 + Math.sin(pinLat)) / (1 - Math.sin(pinLat))) / (4 * Math.PI)) * size;
  var worldX = pinX - Number(box.getAttribute("data-here-x")) + at.x;
  var worldY = pinY - Number(box.getAttribute("data-here-y")) + at.y;
  return {
    x: at.x,
    y: at.y,
    lat: Math.atan(Math.sinh(Math.PI * (1 - 2 * worldY / size))) * 180 / Math.PI,
    lng: worldX / size * 360 - 180
  };
}

function movePin(box, to) {
  var pin = box.querySelector(".field-map-here");
  pin.querySelectorAll("circle").forEach(function (circle) {
    circle.setAttribute("cx", to.x.toFixed(2));
    circle.setAttribute("cy", to.y.toFixed(2));
  });
  var label = pin.querySelector("text");
  label.setAttribute("x", to.x.toFixed(2));
  label.setAttribute("y", (to.y - 18).toFixed(2));
  label.textContent = box.getAttribute("data-pin-label");
}

mapBox.addEventListener("click", function (event) {
  var box = mapBox.querySelector(".np-map");
  var svg = box && box.querySelector("svg");
  if (!svg) { return; }
  event.preventDefault();  // a factory's point too: the pin goes there, the form stays
  var to = positionAt(svg, box, event);
  movePin(box, to);
  lat.value = to.lat.toFixed(6);
  lng.value = to.lng.toFixed(6);
  typedPlace = true;
  say("pinned");
  check();
});
more.addEventListener("toggle", drawMap);

if (navigator.geolocation && consented()) {
  navigator.geolocation.watchPosition(useHere, function () {
    if (!typedPlace) { say("none"); }
  }, { enableHighAccuracy: true, maximumAge: 60000 });
} else if (!typedPlace) {
  say("none");
}
