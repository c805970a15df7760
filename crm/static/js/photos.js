// The visit form's photos: each one shrunk before it waits in the outbox with the visit, and
// shown as a thumbnail that a tap removes. Before shrinking (which drops the photo's EXIF), its
// capture time is read, for the server to tell a photo taken on the spot from an album's.

import { parse } from "../vendor/exifr/mini.esm.js";

// EXIF's DateTimeOriginal and OffsetTimeOriginal, by number (exifr's mini build carries no
// names): the camera's wall clock, "2026:11:25 09:58:00", and that clock's offset, "+08:00".
var TAKEN = 36867;
var OFFSET = 36881;
var WALL_CLOCK = /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)/;

// The photo's capture time as an ISO instant with its offset, or "" when it has none (a
// screenshot, a photo sent through a chat app). Without an offset written beside it, the clock
// is read in the phone's zone.
export function captureTime(file) {
  var wanted = { ifd0: false, gps: false, exif: [TAKEN, OFFSET] };
  return parse(file, wanted).then(function (found) {
    var clock = WALL_CLOCK.exec((found && found[TAKEN]) || "");
    if (!clock) { return ""; }
    var offset = found[OFFSET];
    if (typeof offset === "string" && /^[+-]\d\d:\d\d$/.test(offset)) {
      return clock[1] + "-" + clock[2] + "-" + clock[3] + "T" + clock[4] + ":" + clock[5] + ":" +
        clock[6] + offset;
    }
    var taken = new Date(+clock[1], +clock[2] - 1, +clock[3], +clock[4], +clock[5], +clock[6]);
    return isNaN(taken.getTime()) ? "" : taken.toISOString();
  }).catch(function () { return ""; });
}

// Photos are shrunk on the phone: long side 1600 px, JPEG, no EXIF left (the portal's too).
export function shrink(file) {
  if (!window.createImageBitmap) { return Promise.resolve(file); }
  return createImageBitmap(file).then(function (bitmap) {
    var scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
    });
  }).catch(function () { return file; });  // not an image: the server says so by the field
}

// Watches the form's file input; the visit takes list() when it is saved.
export function photoPicker(picker, thumbs) {
  var photos = [];
  var times = [];  // each photo's capture time, "" for none

  function drawThumbs() {
    thumbs.textContent = "";
    photos.forEach(function (blob, index) {
      var item = document.createElement("li");
      var image = document.createElement("img");
      image.src = URL.createObjectURL(blob);
      image.alt = picker.labels[0].textContent + " " + (index + 1);
      image.className = "visit-thumb";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button button-quiet visit-thumb-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", image.alt + " ×");
      remove.addEventListener("click", function () {
        photos.splice(index, 1);
        times.splice(index, 1);
        drawThumbs();
      });
      item.appendChild(image);
      item.appendChild(remove);
      thumbs.appendChild(item);
    });
  }

  function take() {
    var files = Array.prototype.slice.call(picker.files);
    Promise.all([
      Promise.all(files.map(captureTime)),
      Promise.all(files.map(shrink))
    ]).then(function (read) {
      times = times.concat(read[0]);
      photos = photos.concat(read[1]);
      picker.value = "";
      drawThumbs();
    });
  }

  picker.addEventListener("change", take);
  // This module comes a moment after the page: photos picked meanwhile are taken now.
  if (picker.files.length) { take(); }

  return {
    list: function () { return photos.slice(); },
    times: function () { return times.slice(); },
    clear: function () { photos = []; times = []; drawThumbs(); }
  };
}
