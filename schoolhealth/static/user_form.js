// Admin user form: show only the scope field the chosen role works in (a nurse's school, an
// institution account's institution, an official's district; none for administrators).
// Without JavaScript every field shows and the server ignores the ones the role does not use.
(function () {
  "use strict";
  var role = document.getElementById("role");
  if (!role) return;
  var scopeOf = { nurse: "school", institution: "institution", official: "district" };
  var scopes = ["school", "institution", "district"];
  function update() {
    var wanted = scopeOf[role.value];
    scopes.forEach(function (name) {
      var input = document.getElementById(name);
      var box = input && input.closest(".field");
      if (box) box.hidden = name !== wanted;
    });
  }
  role.addEventListener("change", update);
  update();
})();
