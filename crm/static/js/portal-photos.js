// The portal's evidence photos: shrunk on the phone as visit photos are (photos.js), then sent
// with the progress shown, instead of an original of several megabytes and a silent wait. The
// server's answer (the portal with its message, or the form with what to correct) replaces the
// page. Without this script the form posts the original as it is.
import { shrink } from "./photos.js";

function words(box, name, percent) {
  return (box.getAttribute("data-" + name) || "").replace("{percent}", String(percent));
}

// The answer's page replaces this one; its forms are set up again.
function show(answer, form) {
  var next = new DOMParser().parseFromString(answer.responseText, "text/html");
  if (answer.status < 300) {
    var row = form.closest("li[id]");
    window.history.replaceState(null, "", answer.responseURL.split("#")[0] + (row ? "#" + row.id : ""));
  }
  document.title = next.title;
  document.body.replaceWith(document.adoptNode(next.body));
  setUp(document);
  var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target) { target.scrollIntoView({ block: "center" }); }
}

function send(form, data, box) {
  var bar = box.querySelector("progress");
  var said = box.querySelector(".portal-send-words");
  var request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.upload.addEventListener("progress", function (event) {
    if (!event.lengthComputable) { return; }
    var percent = Math.round(event.loaded * 100 / event.total);
    bar.value = percent;
    said.textContent = words(box, "sending", percent);
  });
  request.addEventListener("load", function () { show(request, form); });
  request.addEventListener("error", function () {
    said.textContent = words(box, "failed");
    form.querySelector('button[type="submit"]').disabled = false;
  });
  request.send(data);
}

function setUp(root) {
  root.querySelectorAll("form[data-shrink-photos]").forEach(function (form) {
    var picker = form.querySelector('input[type="file"]');
    var box = form.querySelector(".portal-send");
    if (!picker || !box || !window.FormData) { return; }
    form.addEventListener("submit", function (event) {
      if (!picker.files.length) { return; }  // no photo: the plain post does
      event.preventDefault();
      form.querySelector('button[type="submit"]').disabled = true;
      box.hidden = false;
      box.querySelector(".portal-send-words").textContent = words(box, "shrinking");
      shrink(picker.files[0]).then(function (blob) {
        var data = new FormData(form);
        data.set(picker.name, blob, "photo.jpg");
        send(form, data, box);
      });
    });
  });
}

setUp(document);
