// The pupil list: "/" jumps to the search box from anywhere on the page (not while typing
// in a field). A file, not an inline script: the Content-Security-Policy allows no inline code.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var box = document.getElementById("q");
  if (box) { event.preventDefault(); box.focus(); box.select(); }
});
