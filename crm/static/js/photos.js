// The visit form's photos: each one shrunk before it waits in the outbox with the visit, and
// shown as a thumbnail that a tap removes.

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
      remove.addEventListener("click", function () { photos.splice(index, 1); drawThumbs(); });
      item.appendChild(image);
      item.appendChild(remove);
      thumbs.appendChild(item);
    });
  }

  function take() {
    Promise.all(Array.prototype.map.call(picker.files, shrink)).then(function (blobs) {
      photos = photos.concat(blobs);
      picker.value = "";
      drawThumbs();
    });
  }

  picker.addEventListener("change", take);
  // This module comes a moment after the page: photos picked meanwhile are taken now.
  if (picker.files.length) { take(); }

  return {
    list: function () { return photos.slice(); },
    clear: function () { photos = []; drawThumbs(); }
  };
}
