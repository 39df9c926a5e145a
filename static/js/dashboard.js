// Small behaviours shared by the dashboard pages: the live-feed indicator, ticking ages, copy buttons.
(function () {
  "use strict";

  function setLive(state, text) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      el.dataset.live = state;
      var label = el.querySelector("[data-live-text]");
      if (label) label.textContent = text;
    });
  }

  // The feed being up is not enough for "Live": with no venue counted there is nothing live to show.
  function setFeedUp() {
    var total = document.querySelector("[data-venue-health]");
    if (total && total.dataset.venueHealth === "none") setLive("degraded", "Live feed · no venue data");
    else setLive("open", "Live");
  }

  document.addEventListener("htmx:sseOpen", setFeedUp);
  document.addEventListener("htmx:sseError", function () { setLive("error", "Reconnecting…"); });
  document.addEventListener("htmx:sseMessage", function (event) {
    setFeedUp();
    var stamp = document.querySelector("[data-last-update]");
    if (stamp) stamp.dataset.lastUpdate = String(Date.now());
  });

  // Same wording as webapp/formatting.py:age.
  function age(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    if (total < 60) return total + " s";
    var minutes = Math.floor(total / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    var days = Math.floor(hours / 24);
    hours = hours % 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var at = Date.parse(el.dataset.since);
      if (!isNaN(at)) el.textContent = age((now - at) / 1000);
    });
  }
  window.setInterval(tick, 1000);

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copyStatus || "");
    if (!source || !navigator.clipboard) {
      if (source && source.select) source.select();
      if (status) status.textContent = "Select the text and copy it (Ctrl+C)";
      return;
    }
    navigator.clipboard.writeText(source.value || source.textContent).then(function () {
      if (status) status.textContent = "Copied";
    }, function () {
      if (status) status.textContent = "Copy failed: select the text and copy it";
    });
  });
})();

// History form: picking a date means a custom range; after an update, the date fields show the range
// the server chose (a preset's start and end).
(function () {
  "use strict";
  // Capture phase: runs before htmx reads the form. Dates are sent only with a custom range.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.form || input.form.id !== "history-form") return;
    var form = input.form;
    if (input.type === "date") form.querySelector("input[name=range][value=custom]").checked = true;
    var custom = form.querySelector("input[name=range]:checked").value === "custom";
    form.elements.start.disabled = !custom;
    form.elements.end.disabled = !custom;
  }, true);
  document.addEventListener("htmx:load", function (event) {
    var panel = event.detail.elt;
    var form = document.getElementById("history-form");
    if (!form || !panel || panel.id !== "history-panel") return;
    form.elements.start.value = panel.dataset.start;
    form.elements.end.value = panel.dataset.end;
    form.elements.start.disabled = false;
    form.elements.end.disabled = false;
  });
})();
