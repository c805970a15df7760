// The visit form's live distance to the chosen factory, so that the rep knows before saving that
// the visit will be marked off-site. The radius is the server's setting, sent with the page
// (data-checkin-radius-m); the server still decides when the visit arrives.

import { whenConsented } from "./location.js";

var form = document.getElementById("visit-form");
var select = form.querySelector('[name="factory_id"]');
var note = document.getElementById("visit-distance");
var radius = Number(form.getAttribute("data-checkin-radius-m"));
var EARTH_RADIUS_M = 6371008.8;  // as crm.services.field.geo
var here = null;

function radians(degrees) { return degrees * Math.PI / 180; }

// The great-circle distance (haversine), as crm.services.field.geo.distance_m works it out.
function metresBetween(lat1, lng1, lat2, lng2) {
  var dPhi = radians(lat2 - lat1);
  var dLambda = radians(lng2 - lng1);
  var a = Math.pow(Math.sin(dPhi / 2), 2) +
    Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.pow(Math.sin(dLambda / 2), 2);
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

function show() {
  var option = select.options[select.selectedIndex];
  var lat = option ? parseFloat(option.getAttribute("data-lat")) : NaN;
  var lng = option ? parseFloat(option.getAttribute("data-lng")) : NaN;
  if (!here || isNaN(lat) || isNaN(lng)) {
    note.hidden = true;  // no position yet, or a factory with no place: nothing to compare
    return;
  }
  var metres = Math.round(metresBetween(here.latitude, here.longitude, lat, lng));
  var far = metres > radius;
  var words = note.getAttribute(far ? "data-far" : "data-near") || "";
  note.textContent = words.replace("{metres}", metres.toLocaleString(document.documentElement.lang));
  note.classList.toggle("visit-distance-far", far);
  note.setAttribute("role", far ? "alert" : "status");
  note.hidden = false;
}

select.addEventListener("change", show);
// visit-form.js may choose the factory from the address without a change event.
select.addEventListener("input", show);
// Only with the user's consent to location at check-in (location.js), given now or on this page.
if (navigator.geolocation && radius > 0) {
  whenConsented(function () {
    navigator.geolocation.watchPosition(function (position) {
      here = position.coords;
      show();
    }, function () {
      here = null;
      show();
    }, { enableHighAccuracy: true, maximumAge: 60000 });
  });
}
