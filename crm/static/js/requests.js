// The decision queue's bulk approval: the number of ticked requests on its button, and buttons
// to tick or untick every eligible card of the page. Without this script the form still posts
// the ticked cards, and the next page names them before anything changes.
var form = document.querySelector("[data-bulk-approve]");

function boxes() {
  return Array.prototype.slice.call(
    document.querySelectorAll('input[name="change_ids"][form="' + form.id + '"]')
  );
}

function show() {
  var ticked = boxes().filter(function (box) { return box.checked; }).length;
  var button = form.querySelector("[data-bulk-submit]");
  button.textContent = ticked
    ? button.getAttribute("data-words-some").replace("{num}", String(ticked))
    : button.getAttribute("data-words-none");
  button.disabled = ticked === 0;
}

function tickAll(checked) {
  boxes().forEach(function (box) { box.checked = checked; });
  show();
}

if (form) {
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[name="change_ids"]')) { show(); }
  });
  var all = form.querySelector("[data-bulk-all]");
  var none = form.querySelector("[data-bulk-none]");
  all.disabled = false;  // drawn disabled in their place until this script answers them
  none.disabled = false;
  all.addEventListener("click", function () { tickAll(true); });
  none.addEventListener("click", function () { tickAll(false); });
  show();
}
