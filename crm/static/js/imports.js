// The import page's progress bar: poll the run's progress until it is done, then reload.

var box = document.querySelector("[data-import-progress]");
var bar = box.querySelector("progress");
var text = box.querySelector(".im-progress-text");
var delay = 1000;

function show(state) {
  bar.value = state.percent;
  bar.textContent = state.percent + " %";
  if (state.waiting) {
    text.textContent = box.dataset.waiting;
  } else if (state.phase === "writing") {
    text.textContent = box.dataset.writing;
  } else {
    text.textContent = box.dataset.checking
      .replace("{done}", state.processed.toLocaleString())
      .replace("{total}", state.total.toLocaleString());
  }
}

function poll() {
  fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("status " + response.status);
      return response.json();
    })
    .then(function (state) {
      if (state.done) {
        window.location.reload();
        return;
      }
      show(state);
      delay = 1000;
      window.setTimeout(poll, delay);
    })
    .catch(function () {
      // A lost answer (a network blip) is retried more slowly; the work goes on regardless.
      delay = Math.min(delay * 2, 10000);
      window.setTimeout(poll, delay);
    });
}

window.setTimeout(poll, 500);
