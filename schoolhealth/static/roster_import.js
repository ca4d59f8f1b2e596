// Roster import progress: poll the job's small JSON endpoint, reload when it finishes.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = document.getElementById("import-progress-bar");
  var text = document.getElementById("import-progress-text");
  var labels = document.getElementById("import-progress-labels").dataset;
  function show(data) {
    if (data.total) { bar.max = data.total; bar.value = data.progress; }
    if (data.state === "queued") { text.textContent = labels.queued; }
    else if (data.state === "writing") { text.textContent = labels.writing; }
    else {
      text.textContent = labels.running.replace("{done}", data.progress).replace("{total}", data.total);
    }
  }
  function poll() {
    fetch(box.dataset.pollUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.assign(data.url); return; }
        show(data);
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
}());
