// The admin's new-user form (admin/_user_fields.html, loaded by app.js): only the fields of the role chosen show.
// Without this script every role's fields show, each saying whose it is; the server reads only
// the chosen role's.

var role = document.getElementById("role");
var groups = document.querySelectorAll("[data-role-fields]");

function showChosen() {
  groups.forEach(function (group) {
    group.hidden = group.getAttribute("data-role-fields") !== role.value;
  });
}

if (role && groups.length) {
  role.addEventListener("change", showChosen);
  showChosen();
}
