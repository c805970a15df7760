// The data export's card (account page): poll its progress while it is made, then load the page
// again to show the download link. Without this script the card's "Check again" does the same.

var card = document.querySelector("[data-export-progress]");
var bar = card.querySelector("progress");
var words = card.querySelector(".export-progress-text");
var wait = 1500;

function check() {
  fetch(card.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (answer) {
      if (!answer.ok) throw new Error("status " + answer.status);
      return answer.json();
    })
    .then(function (progress) {
      if (progress.done) {
        window.location.reload();
        return;
      }
      if (progress.state === "running") {
        bar.value = progress.percent;
        words.textContent = card.dataset.running.replace("{percent}", progress.percent);
      }
      wait = 1500;
      window.setTimeout(check, wait);
    })
    .catch(function () {
      // A lost answer is asked again more slowly; the export goes on regardless.
      wait = Math.min(wait * 2, 15000);
      window.setTimeout(check, wait);
    });
}

window.setTimeout(check, wait);
