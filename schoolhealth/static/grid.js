/* SchoolHealth class grid: keyboard entry that saves as you go.
 *
 * Progressive enhancement: without this script the grid is a table of per-row forms.
 * With it:
 *  - Enter moves to the next cell (from the last cell of a row to the first cell of the
 *    next pupil), Shift+Enter moves back, ArrowUp/ArrowDown move within a column (in
 *    choice lists too); Tab keeps the browser's order. Cells that do not apply are
 *    skipped by Enter (corrected acuity without glasses, the motion test without a
 *    positive bend test, the prone test with a normal sagittal curve).
 *  - A choice takes the key shown in its header (data-keys) and moves on; Delete clears
 *    it. A/R/I/E (data-not-screened-keys) mark the pupil not screened from any of its
 *    cells; N jumps to the next pupil's first empty cell.
 *  - An improbable value is answered "needs_confirmation": a prompt asks, Enter sends
 *    it again with confirm, Esc goes back to the cell.
 *  - Every refused value of a row is listed under its flags (and in the panel of the
 *    focused pupil) until it is corrected.
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
  var confirmBox = document.getElementById("grid-confirm");
  var confirmText = document.getElementById("grid-confirm-text");
  var confirmYes = document.getElementById("grid-confirm-yes");
  var confirmNo = document.getElementById("grid-confirm-no");
  var focusPanel = document.getElementById("grid-focus");
  var nextKey = (table.getAttribute("data-next-key") || "n").toLowerCase();
  var notScreenedKeys = {};
  try {
    JSON.parse(table.getAttribute("data-not-screened-keys") || "[]").forEach(function (pair) {
      notScreenedKeys[pair[0]] = pair[1];
    });
  } catch (e) {
    notScreenedKeys = {};
  }
  var rowErrors = {}; // student id -> {field: message}
  var asking = null; // {row, field, value, el} while the confirm prompt is shown
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

  function fieldValue(row, field) {
    var el = row.querySelector('[data-field="' + field + '"]');
    return el ? el.value : "";
  }

  // A cell that does not apply to this pupil, given the row's other values (and empty):
  // Enter and N pass over it; a click or Tab still reaches it.
  function skipped(el) {
    if (el.value !== "") {
      return false;
    }
    var row = el.closest("tr");
    var field = el.getAttribute("data-field");
    if (field === "cva_right" || field === "cva_left") {
      return fieldValue(row, "glasses") === "none";
    }
    if (field === "motion_test") {
      return fieldValue(row, "adams") !== "positive";
    }
    if (field === "prone_test") {
      return fieldValue(row, "sagittal") === "normal";
    }
    return false;
  }

  function stops(row) {
    return controls(row).filter(function (el) {
      return !skipped(el);
    });
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
    var list = stops(row);
    if (list.indexOf(el) === -1 && el.matches("[data-field]")) {
      // el itself is skippable now (e.g. just cleared): place it back in the order
      list = controls(row).filter(function (c) {
        return c === el || !skipped(c);
      });
    }
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
        var prevList = stops(prev);
        return focusCell(prevList[prevList.length - 1]);
      }
      return false;
    }
    if (i >= 0 && i < list.length - 1) {
      return focusCell(list[i + 1]);
    }
    var next = rowAfter(row, 1);
    return next ? focusCell(stops(next)[0]) : false;
  }

  function firstEmpty(row) {
    return stops(row).filter(function (el) {
      return el.value === "";
    })[0];
  }

  // The next pupil (after row) with an empty cell that applies: its first such cell.
  function jumpToNextPupil(row) {
    var i = rows.indexOf(row) + 1;
    for (; i < rows.length; i++) {
      var cell = firstEmpty(rows[i]);
      if (cell) {
        return focusCell(cell);
      }
    }
    return false;
  }

  function moveVertical(el, step) {
    var field = el.getAttribute("data-field");
    var selector = field ? '[data-field="' + field + '"]' : "[data-not-screened]";
    var row = el.closest("tr");
    while ((row = step > 0 ? row.nextElementSibling : row.previousElementSibling)) {
      var target = row.querySelector(selector);
      if (target && usable(target)) {
        return focusCell(target);
      }
    }
    return false;
  }

  function keysOf(el) {
    if (!el.hasAttribute("data-keys")) {
      return null;
    }
    try {
      return JSON.parse(el.getAttribute("data-keys") || "{}");
    } catch (e) {
      return null;
    }
  }

  // The key typed, with full-width digits and signs (Chinese input) read as ASCII.
  function typedKey(event) {
    var key = event.key || "";
    if (key.length === 1) {
      var code = key.charCodeAt(0);
      if (code >= 0xff01 && code <= 0xff5e) {
        key = String.fromCharCode(code - 0xfee0);
      } else if (key === "\u2212") {
        key = "-";
      }
    }
    return key.length === 1 ? key.toLowerCase() : key;
  }

  function markNotScreened(row, reason) {
    var select = row.querySelector("[data-not-screened]");
    if (!select || select.disabled) {
      return;
    }
    var active = document.activeElement;
    if (active && active.matches && active.matches("[data-field]") && row.contains(active)) {
      // a value typed but not yet sent is dropped: the pupil was not screened
      active.value = active.getAttribute("data-saved") || "";
    }
    select.value = reason;
    setAbsent(row, true);
    enqueue(row, "not_screened", reason);
  }

  table.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || !el.matches) {
      return;
    }
    if (event.isComposing) {
      return; // an input method is composing: its keys are not ours
    }
    var isField = el.matches("[data-field]");
    var isReason = el.matches("[data-not-screened]");
    if (!isField && !isReason) {
      return;
    }
    var row = el.closest("tr");
    var key = typedKey(event);
    if (key === "Enter") {
      event.preventDefault(); // never submit the row form: the cell saves itself
      if (isField) {
        maybeSave(el);
      }
      moveNext(el, event.shiftKey);
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      if (isField) {
        maybeSave(el);
      }
      moveVertical(el, key === "ArrowDown" ? 1 : -1);
    } else if (readonly) {
      return;
    } else if (key === nextKey && !event.shiftKey) {
      event.preventDefault();
      if (isField) {
        maybeSave(el);
      }
      jumpToNextPupil(row);
    } else if (notScreenedKeys[key] && !event.shiftKey) {
      event.preventDefault();
      markNotScreened(row, notScreenedKeys[key]);
      jumpToNextPupil(row);
    } else if (el.tagName === "SELECT" && (key === "Delete" || key === "Backspace")) {
      event.preventDefault();
      el.value = "";
      if (isReason) {
        setAbsent(row, false);
        enqueue(row, "not_screened", "");
      } else {
        maybeSave(el);
      }
    } else if (isField && el.tagName === "SELECT") {
      var keys = keysOf(el);
      if (keys && Object.prototype.hasOwnProperty.call(keys, key)) {
        event.preventDefault();
        el.value = keys[key];
        maybeSave(el);
        moveNext(el, false);
      } else if (key.length === 1 && key !== " ") {
        event.preventDefault(); // no type-ahead on labels: only the header's keys choose
      }
    }
  });

  // The focused pupil's name, age, flags and errors stay in view above the grid.
  function showFocus(row) {
    if (!focusPanel || !row) {
      return;
    }
    var name = row.querySelector(".pupil-name");
    var age = row.querySelector("[data-age]");
    var flags = row.querySelector("[data-flags]");
    document.getElementById("grid-focus-name").textContent = name ? name.textContent : "";
    document.getElementById("grid-focus-age").textContent = age ? age.textContent : "";
    var chips = document.getElementById("grid-focus-flags");
    chips.textContent = "";
    if (flags) {
      Array.prototype.forEach.call(flags.querySelectorAll(".chip"), function (chip) {
        chips.appendChild(chip.cloneNode(true));
      });
    }
    renderErrorList(document.getElementById("grid-focus-errors"), row);
    focusPanel.hidden = false;
    focusPanel.setAttribute("data-student-id", row.getAttribute("data-student-id"));
  }

  table.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("tr");
    if (row && row.hasAttribute("data-student-id")) {
      showFocus(row);
    }
  });

  // ------------------------------------------------------------ cells

  function cellOf(row, field) {
    if (field === "not_screened") {
      return row.querySelector("[data-not-screened]");
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
    Array.prototype.forEach.call(cell.querySelectorAll(".chip"), function (chip) {
      chip.parentNode.removeChild(chip);
    });
    var list = cell.querySelector("[data-errors]");
    (flags || []).forEach(function (flag) {
      var chip = document.createElement("span");
      chip.className = "chip " + (flag.severity >= 2 ? "bad" : "warn");
      chip.setAttribute("data-code", flag.code);
      chip.setAttribute("data-category", flag.category);
      chip.textContent = flag.label;
      if (flag.evidence) {
        var evidence = document.createElement("small");
        evidence.className = "evidence";
        evidence.textContent = " " + flag.evidence;
        chip.appendChild(evidence);
      }
      cell.insertBefore(chip, list);
    });
    if (focusPanel && focusPanel.getAttribute("data-student-id") === row.getAttribute("data-student-id")) {
      showFocus(row);
    }
  }

  // ------------------------------------------------------------ row errors

  function labelOf(row, field) {
    var el = cellOf(row, field);
    var label = el ? el.getAttribute("aria-label") || field : field;
    return label.split(" · ")[0];
  }

  function renderErrorList(list, row) {
    if (!list) {
      return;
    }
    list.textContent = "";
    var errors = rowErrors[row.getAttribute("data-student-id")] || {};
    Object.keys(errors).forEach(function (field) {
      var item = document.createElement("li");
      item.setAttribute("data-error-field", field);
      item.textContent = errors[field];
      list.appendChild(item);
    });
    list.hidden = !list.childNodes.length;
  }

  // message: the row's error for field (null: the field is fine now).
  function setRowError(row, field, message) {
    var id = row.getAttribute("data-student-id");
    var errors = rowErrors[id] || (rowErrors[id] = {});
    if (message) {
      errors[field] = message;
    } else {
      delete errors[field];
    }
    renderErrorList(row.querySelector("[data-errors]"), row);
    if (focusPanel && focusPanel.getAttribute("data-student-id") === id) {
      renderErrorList(document.getElementById("grid-focus-errors"), row);
    }
    var left = Object.keys(errors).map(function (f) {
      return errors[f];
    });
    if (!left.length) {
      var others = Object.keys(rowErrors).some(function (other) {
        return Object.keys(rowErrors[other]).length;
      });
      if (!others) {
        showAlert("");
      }
    }
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
  // replayed after a reload carries the version it was typed against). confirm: the
  // user confirmed this (improbable) value.
  function enqueue(row, field, value, version, confirm) {
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
        state.queue[i].confirm = !!confirm;
        updateStatus();
        return;
      }
    }
    state.queue.push({ field: field, value: value, version: version, confirm: !!confirm });
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
      confirm: item.confirm === true,
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
      if (item.field === "not_screened") {
        el.setAttribute("data-saved", data.not_screened || "");
        if (!newer) {
          el.value = data.not_screened || "";
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
      if (!newer) {
        setRowError(row, item.field, null);
      }
      row.setAttribute("data-done", data.done ? "1" : "0");
      row.classList.toggle("is-done", !!data.done);
      var ageCell = row.querySelector("[data-age]");
      if (ageCell && data.age) {
        ageCell.textContent = data.age;
      }
      renderFlags(row, data.flags);
      updateProgress();
    } else if (data.error === "needs_confirmation" && el && !newer) {
      el.removeAttribute("data-queued");
      setCellState(el, "error", data.message);
      setRowError(row, item.field, labelOf(row, item.field) + ": " + data.message);
      ask(row, item.field, item.value, data.message);
    } else if (data.error === "conflict") {
      if (typeof data.version === "number") {
        row.setAttribute("data-version", String(data.version));
      }
      if (el && !newer) {
        el.value = data.value || "";
        el.setAttribute("data-saved", data.value || "");
        el.removeAttribute("data-queued");
        if (item.field === "not_screened") {
          setAbsent(row, !!el.value);
        }
      }
      setCellState(el, "conflict", data.message);
      setRowError(row, item.field, data.message);
      showAlert(data.message);
    } else {
      var message = data.message || msg("server") + " " + outcome.status;
      if (el && !newer) {
        if (item.field === "not_screened") {
          el.value = el.getAttribute("data-saved") || "";
          setAbsent(row, !!el.value);
        } else {
          el.removeAttribute("data-queued");
        }
      }
      setCellState(el, "error", message);
      setRowError(row, item.field, message);
      showAlert(message);
    }
    updateStatus();
    pump(row);
  }

  // ------------------------------------------------------------ confirmation

  function ask(row, field, value, message) {
    if (!confirmBox) {
      return;
    }
    asking = { row: row, field: field, value: value };
    confirmText.textContent = message;
    confirmBox.hidden = false;
    confirmYes.focus();
  }

  function closeAsk(confirmed) {
    if (!asking) {
      return;
    }
    var current = asking;
    asking = null;
    confirmBox.hidden = true;
    var el = cellOf(current.row, current.field);
    if (confirmed) {
      if (el) {
        el.setAttribute("data-queued", current.value);
      }
      enqueue(current.row, current.field, current.value, undefined, true);
      if (el) {
        moveNext(el, false);
      }
    } else if (el) {
      focusCell(el);
    }
  }

  if (confirmBox) {
    confirmYes.addEventListener("click", function () {
      closeAsk(true);
    });
    confirmNo.addEventListener("click", function () {
      closeAsk(false);
    });
    confirmBox.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        closeAsk(false);
      }
    });
  }

  if (!readonly) {
    table.addEventListener("change", function (event) {
      var el = event.target;
      if (el.matches("[data-field]")) {
        maybeSave(el);
      } else if (el.matches("[data-not-screened]")) {
        var row = el.closest("tr");
        setAbsent(row, !!el.value);
        enqueue(row, "not_screened", el.value);
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
      if (field === "not_screened") {
        el.value = value;
        setAbsent(row, !!value);
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
    // The columns exist only in sessions that record refraction: shown unless the user
    // hid them.
    var shown = preference ? preference === "shown" : true;
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
      focusCell(firstEmpty(start) || controls(start)[0]);
    }
  }
  updateStatus();
})();
