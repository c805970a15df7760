// The portal's evidence photos: shrunk on the phone as visit photos are (photos.js), then handed
// to the outbox like any hand-in (actions.js), instead of an original of several megabytes; the
// form shows the shrinking and the sending until the answer's page comes. Without this script
// the form posts the original as it is.
import { shrink } from "./photos.js";

function words(box, name) {
  return box.getAttribute("data-" + name) || "";
}

function show(box, name) {
  box.hidden = false;
  box.querySelector(".portal-send-words").textContent = words(box, name);
}

function setUp(form) {
  var picker = form.querySelector('input[type="file"]');
  var row = form.closest("li");
  var box = row && row.querySelector(".portal-send");
  if (!picker || !box || !window.DataTransfer) { return; }
  form.addEventListener("submit", function (event) {
    if (form.hasAttribute("data-shrunk")) {
      // The shrunk photo goes on to the outbox (actions.js listens on the document).
      form.removeAttribute("data-shrunk");
      if (navigator.onLine) { show(box, "sending"); } else { box.hidden = true; }
      return;
    }
    if (!picker.files.length) { return; }  // no photo: the hand-in goes as it is
    event.preventDefault();
    var submitter = event.submitter;
    show(box, "shrinking");
    shrink(picker.files[0]).then(function (blob) {
      var files = new DataTransfer();
      files.items.add(new File([blob], "photo.jpg", { type: blob.type || "image/jpeg" }));
      picker.files = files.files;
      form.setAttribute("data-shrunk", "");
      if (submitter) { form.requestSubmit(submitter); } else { form.requestSubmit(); }
    });
  });
  window.addEventListener("offline", function () { box.hidden = true; });
}

document.querySelectorAll("form[data-shrink-photos]").forEach(setUp);
