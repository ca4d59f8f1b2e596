/* SchoolHealth class grid: keyboard entry that saves as you go.
 *
 * Progressive enhancement: without this script the grid is a table of per-row forms.
 * With it:
 *  - Enter moves to the next cell (from the last cell of a row to the first cell of the
 *    next pupil), Shift+Enter moves back, ArrowUp/ArrowDown move within a column; Tab
 *    keeps the browser's order (the cells, then the row's "absent" box).
 *  - Each changed cell is POSTed alone as JSON with the row's version. The saves of one
 *    row go one after another, so each carries the version the previous one returned.
 *  - Until the server acknowledges a value it is kept in localStorage with the value the
 *    cell held before and the row's version: a reload (or a crashed tab) sends it again,
 *    and if the pupil's result changed meanwhile the server answers with a conflict
 *    shown on the cell, never a silent overwrite. Network and server failures are
 *    retried with backoff and shown on the cell; leaving the page warns while saves
 *    are pending.
 */
(function () {
  "use strict";

  var table = document.getElementById("screening-grid");
  if (!table || !window.fetch || !table.tBodies.length) {
    return;
  }
  document.documentElement.classList.add("js-enabled");
  table.classList.add("js");

  var readonly = table.getAttribute("data-readonly") === "1";
  var storageKey = "schoolhealth.pending." + table.getAttribute("data-session-id");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var rowById = {};
  rows.forEach(function (row) {
    rowById[row.getAttribute("data-student-id")] = row;
  });
  var states = {};
  var statusEl = document.getElementById("grid-status");
  var alertEl = document.getElementById("grid-alert");
  var doneEl = document.getElementById("grid-done");
  var anySaved = false;
  var CELL_STATES = ["cell-pending", "cell-failed", "cell-error", "cell-conflict"];

  function msg(name, params) {
    var text = table.getAttribute("data-msg-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(String(params[key]));
    });
    return text;
  }

  // ------------------------------------------------------------ pending store

  function loadPending() {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function storePending(pending) {
    try {
      if (Object.keys(pending).length) {
        window.localStorage.setItem(storageKey, JSON.stringify(pending));
      } else {
        window.localStorage.removeItem(storageKey);
      }
    } catch (e) {
      /* storage full or disabled: the in-memory queue still saves */
    }
  }

  // base: the value the cell held (as saved) before the edit; version: the row's version
  // then. Both stay those of the first unsaved edit of the cell.
  function remember(studentId, field, value, base, version) {
    var pending = loadPending();
    var key = studentId + "|" + field;
    var old = pending[key];
    pending[key] = {
      value: value,
      base: old && typeof old.base === "string" ? old.base : base,
      version: old && typeof old.version === "number" ? old.version : version,
      at: Date.now(),
    };
    storePending(pending);
  }

  function forget(studentId, field, value) {
    var pending = loadPending();
    var key = studentId + "|" + field;
    if (pending[key] && pending[key].value === value) {
      delete pending[key];
      storePending(pending);
    }
  }

  // ------------------------------------------------------------ navigation

  function usable(el) {
    return !el.disabled && el.offsetParent !== null;
  }

  function controls(row) {
    return Array.prototype.filter.call(row.querySelectorAll("[data-field]"), usable);
  }

  function focusCell(el) {
    if (!el) {
      return false;
    }
    el.focus();
    if (el.tagName === "INPUT" && el.select) {
      el.select();
    }
    return true;
  }

  function rowAfter(row, step) {
    var i = rows.indexOf(row) + step;
    while (i >= 0 && i < rows.length) {
      if (controls(rows[i]).length) {
        return rows[i];
      }
      i += step;
    }
    return null;
  }

  function moveNext(el, back) {
    var row = el.closest("tr");
    var list = controls(row);
    var i = list.indexOf(el);
    if (back) {
      if (i === -1 && list.length) {
        return focusCell(list[list.length - 1]);
      }
      if (i > 0) {
        return focusCell(list[i - 1]);
      }
      var prev = rowAfter(row, -1);
      if (prev) {
        var prevList = controls(prev);
        return focusCell(prevList[prevList.length - 1]);
      }
      return false;
    }
    if (i >= 0 && i < list.length - 1) {
      return focusCell(list[i + 1]);
    }
    var next = rowAfter(row, 1);
    return next ? focusCell(controls(next)[0]) : false;
  }

  function moveVertical(el, step) {
    var field = el.getAttribute("data-field");
    var row = el.closest("tr");
    while ((row = step > 0 ? row.nextElementSibling : row.previousElementSibling)) {
      var target = row.querySelector('[data-field="' + field + '"]');
      if (target && usable(target)) {
        return focusCell(target);
      }
    }
    return false;
  }

  table.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || !el.matches) {
      return;
    }
    var isField = el.matches("[data-field]");
    if (!isField && !el.matches("[data-absent]")) {
      return;
    }
    if (event.key === "Enter") {
      event.preventDefault(); // never submit the row form: the cell saves itself
      if (isField) {
        maybeSave(el);
      }
      moveNext(el, event.shiftKey);
    } else if (isField && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      maybeSave(el);
      moveVertical(el, event.key === "ArrowDown" ? 1 : -1);
    }
  });

  // ------------------------------------------------------------ cells

  function cellOf(row, field) {
    if (field === "absent") {
      return row.querySelector("[data-absent]");
    }
    return row.querySelector('[data-field="' + field + '"]');
  }

  function setCellState(el, kind, message) {
    if (!el) {
      return;
    }
    CELL_STATES.forEach(function (name) {
      el.classList.remove(name);
    });
    if (kind) {
      el.classList.add("cell-" + kind);
    }
    if (kind && message) {
      el.setAttribute("title", message);
    } else {
      el.removeAttribute("title");
    }
    if (kind === "error" || kind === "conflict") {
      el.setAttribute("aria-invalid", "true");
    } else {
      el.removeAttribute("aria-invalid");
    }
  }

  function showAlert(message) {
    if (!alertEl) {
      return;
    }
    alertEl.textContent = message || "";
    alertEl.hidden = !message;
  }

  function setAbsent(row, absent) {
    row.classList.toggle("is-absent", absent);
    Array.prototype.forEach.call(row.querySelectorAll("[data-field]"), function (el) {
      el.disabled = absent || readonly;
    });
  }

  function renderFlags(row, flags) {
    var cell = row.querySelector("[data-flags]");
    if (!cell) {
      return;
    }
    cell.textContent = "";
    (flags || []).forEach(function (flag) {
      var chip = document.createElement("span");
      chip.className = "chip " + (flag.severity >= 2 ? "bad" : "warn");
      chip.setAttribute("data-code", flag.code);
      chip.setAttribute("data-category", flag.category);
      chip.textContent = flag.label;
      cell.appendChild(chip);
    });
  }

  function updateProgress() {
    if (!doneEl) {
      return;
    }
    doneEl.textContent = String(
      rows.filter(function (row) {
        return row.getAttribute("data-done") === "1";
      }).length
    );
  }

  // ------------------------------------------------------------ saving

  function stateOf(row) {
    var id = row.getAttribute("data-student-id");
    if (!states[id]) {
      states[id] = { queue: [], busy: false, attempts: 0, timer: null, blocked: false };
    }
    return states[id];
  }

  function pendingCount() {
    return Object.keys(states).reduce(function (sum, id) {
      return sum + states[id].queue.length;
    }, 0);
  }

  function updateStatus() {
    var count = pendingCount();
    var failing = Object.keys(states).some(function (id) {
      return states[id].queue.length && (states[id].attempts > 0 || states[id].blocked);
    });
    table.setAttribute("data-pending", String(count));
    if (!statusEl) {
      return;
    }
    if (count) {
      statusEl.textContent = msg(failing ? "unsaved" : "saving", { count: count });
    } else {
      statusEl.textContent = anySaved ? msg("saved") : "";
    }
    statusEl.classList.toggle("is-failing", failing);
  }

  function hasQueued(state, field, from) {
    for (var i = from || 0; i < state.queue.length; i++) {
      if (state.queue[i].field === field) {
        return true;
      }
    }
    return false;
  }

  function lastTarget(el) {
    var queued = el.getAttribute("data-queued");
    return queued !== null ? queued : el.getAttribute("data-saved") || "";
  }

  function maybeSave(el) {
    if (readonly || el.disabled) {
      return;
    }
    var value = el.value;
    if (value === lastTarget(el)) {
      return;
    }
    el.setAttribute("data-queued", value);
    enqueue(el.closest("tr"), el.getAttribute("data-field"), value);
  }

  function savedValue(row, field) {
    var el = cellOf(row, field);
    return el ? el.getAttribute("data-saved") || "" : "";
  }

  // version: send with this row version instead of the row's current one (a value
  // replayed after a reload carries the version it was typed against).
  function enqueue(row, field, value, version) {
    var state = stateOf(row);
    remember(
      row.getAttribute("data-student-id"),
      field,
      value,
      savedValue(row, field),
      Number(row.getAttribute("data-version") || 0)
    );
    setCellState(cellOf(row, field), "pending");
    // A save not yet sent (or waiting to be retried) just takes the newer value.
    var first = state.busy && !state.timer ? 1 : 0;
    for (var i = first; i < state.queue.length; i++) {
      if (state.queue[i].field === field) {
        state.queue[i].value = value;
        updateStatus();
        return;
      }
    }
    state.queue.push({ field: field, value: value, version: version });
    updateStatus();
    pump(row);
  }

  function pump(row) {
    var state = stateOf(row);
    if (state.busy || state.blocked || !state.queue.length) {
      return;
    }
    state.busy = true;
    send(row);
  }

  function send(row) {
    var state = stateOf(row);
    var item = state.queue[0];
    var body = JSON.stringify({
      field: item.field,
      value: item.value,
      version:
        typeof item.version === "number"
          ? item.version
          : Number(row.getAttribute("data-version") || 0),
    });
    window
      .fetch(row.getAttribute("data-save-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken,
        },
        body: body,
      })
      .then(
        function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (response.redirected || type.indexOf("application/json") === -1) {
            var signedOut = response.redirected || response.status === 200;
            return {
              retry: true,
              reason: signedOut ? msg("signed-out") : msg("server") + " " + response.status,
            };
          }
          return response.json().then(
            function (data) {
              return { status: response.status, data: data };
            },
            function () {
              return { retry: true, reason: msg("server") + " " + response.status };
            }
          );
        },
        function () {
          return { retry: true, reason: msg("network") };
        }
      )
      .then(function (outcome) {
        handle(row, item, outcome);
      });
  }

  function retry(row, item, reason) {
    var state = stateOf(row);
    state.attempts += 1;
    var delay = Math.min(30000, 1000 * Math.pow(2, state.attempts - 1));
    setCellState(
      cellOf(row, item.field),
      "failed",
      msg("retrying", { reason: reason, seconds: Math.round(delay / 1000) })
    );
    updateStatus();
    state.timer = window.setTimeout(function () {
      state.timer = null;
      send(row);
    }, delay);
  }

  function handle(row, item, outcome) {
    var state = stateOf(row);
    var el = cellOf(row, item.field);
    if (outcome.retry || outcome.status >= 500 || outcome.status === 429) {
      retry(row, item, outcome.reason || msg("server") + " " + outcome.status);
      return;
    }
    var data = outcome.data || {};
    if (outcome.status === 400 && data.error === "csrf") {
      // The page's token expired: keep the values (localStorage) for the reload.
      state.blocked = true;
      state.busy = false;
      setCellState(el, "failed", msg("expired"));
      showAlert(msg("expired"));
      updateStatus();
      return;
    }
    state.attempts = 0;
    state.busy = false;
    state.queue.shift();
    forget(row.getAttribute("data-student-id"), item.field, item.value);
    var newer = hasQueued(state, item.field);
    if (data.ok) {
      anySaved = true;
      row.setAttribute("data-version", String(data.version));
      if (item.field === "absent") {
        el.setAttribute("data-saved", data.absent ? "1" : "0");
        if (!newer) {
          el.checked = !!data.absent;
          setAbsent(row, !!data.absent);
          setCellState(el, null);
        }
      } else if (el) {
        el.setAttribute("data-saved", data.value);
        if (!newer) {
          el.removeAttribute("data-queued");
          if (document.activeElement !== el || el.value === item.value) {
            el.value = data.value;
          }
          setCellState(el, null);
        }
      }
      row.setAttribute("data-done", data.done ? "1" : "0");
      row.classList.toggle("is-done", !!data.done);
      renderFlags(row, data.flags);
      updateProgress();
    } else if (data.error === "conflict") {
      if (typeof data.version === "number") {
        row.setAttribute("data-version", String(data.version));
      }
      if (el && !newer) {
        if (item.field === "absent") {
          el.checked = data.value === "1";
          el.setAttribute("data-saved", el.checked ? "1" : "0");
          setAbsent(row, el.checked);
        } else {
          el.value = data.value || "";
          el.setAttribute("data-saved", data.value || "");
          el.removeAttribute("data-queued");
        }
      }
      setCellState(el, "conflict", data.message);
      showAlert(data.message);
    } else {
      var message = data.message || msg("server") + " " + outcome.status;
      if (el && !newer) {
        if (item.field === "absent") {
          el.checked = item.value !== "1";
          setAbsent(row, el.checked);
        } else {
          el.removeAttribute("data-queued");
        }
      }
      setCellState(el, "error", message);
      showAlert(message);
    }
    updateStatus();
    pump(row);
  }

  if (!readonly) {
    table.addEventListener("change", function (event) {
      var el = event.target;
      if (el.matches("[data-field]")) {
        maybeSave(el);
      } else if (el.matches("[data-absent]")) {
        var row = el.closest("tr");
        setAbsent(row, el.checked);
        enqueue(row, "absent", el.checked ? "1" : "0");
      }
    });

    window.addEventListener("beforeunload", function (event) {
      var active = document.activeElement;
      if (active && table.contains(active) && active.matches("[data-field]")) {
        maybeSave(active); // kept in localStorage even if the page goes now
      }
      if (pendingCount() > 0) {
        event.preventDefault();
        event.returnValue = msg("leave");
        return msg("leave");
      }
      return undefined;
    });

    window.addEventListener("online", function () {
      Object.keys(states).forEach(function (id) {
        var state = states[id];
        if (state.timer) {
          window.clearTimeout(state.timer);
          state.timer = null;
          send(rowById[id]);
        }
      });
    });

    Array.prototype.forEach.call(table.querySelectorAll("[data-absent]"), function (el) {
      el.setAttribute("data-saved", el.checked ? "1" : "0");
    });

    // Values typed before a reload or a crash, never acknowledged: send them again.
    // When the row changed since (its version moved) and this cell no longer shows the
    // value it had when the value was typed, the value goes with the version it was
    // typed against: the server then answers "already saved" (our own save, whose
    // answer was lost) or a conflict naming who changed it, shown on the cell.
    var pending = loadPending();
    Object.keys(pending).forEach(function (key) {
      var parts = key.split("|");
      var row = rowById[parts[0]];
      var field = parts[1];
      var entry = pending[key] || {};
      var value = entry.value;
      var el = row && cellOf(row, field);
      if (!el || typeof value !== "string") {
        return;
      }
      var version;
      var rowVersion = Number(row.getAttribute("data-version") || 0);
      if (
        typeof entry.version === "number" &&
        entry.version !== rowVersion &&
        typeof entry.base === "string" &&
        entry.base !== savedValue(row, field)
      ) {
        version = entry.version;
      }
      if (field === "absent") {
        el.checked = value === "1";
        setAbsent(row, el.checked);
      } else {
        el.value = value;
        el.setAttribute("data-queued", value);
      }
      enqueue(row, field, value, version);
    });
  }

  // ------------------------------------------------------------ refraction columns

  var toggle = document.getElementById("toggle-refraction");
  if (toggle) {
    var prefKey = "schoolhealth.refraction";
    var preference = null;
    try {
      preference = window.localStorage.getItem(prefKey);
    } catch (e) {
      preference = null;
    }
    var shown = preference
      ? preference === "shown"
      : Array.prototype.some.call(
          table.querySelectorAll(".col-refraction [data-field]"),
          function (el) {
            return el.value !== "";
          }
        );
    var applyToggle = function () {
      table.classList.toggle("hide-refraction", !shown);
      toggle.setAttribute("aria-expanded", shown ? "true" : "false");
      toggle.textContent = toggle.getAttribute(shown ? "data-label-hide" : "data-label-show");
    };
    toggle.addEventListener("click", function () {
      shown = !shown;
      try {
        window.localStorage.setItem(prefKey, shown ? "shown" : "hidden");
      } catch (e) {
        /* the choice just is not remembered */
      }
      applyToggle();
    });
    applyToggle();
  }

  // Start where the work is: the first pupil not yet done.
  if (!readonly && (!document.activeElement || document.activeElement === document.body)) {
    var start = rows.filter(function (row) {
      return row.getAttribute("data-done") !== "1" && controls(row).length;
    })[0];
    if (start) {
      var firstEmpty = controls(start).filter(function (el) {
        return el.value === "";
      })[0];
      focusCell(firstEmpty || controls(start)[0]);
    }
  }
  updateStatus();
})();
