// Dark/light theme: follows the system until the visitor picks one with the toggle (kept in localStorage).
// Loaded without `defer` in <head> so the right theme is applied before the first paint.
(function () {
  "use strict";
  var KEY = "perpvol-theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }

  function isDark() {
    var choice = stored();
    return choice === "dark" || (choice !== "light" && media.matches);
  }

  function labelButtons(dark) {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", dark ? "true" : "false");
      button.setAttribute("title", dark ? "Switch to the light theme" : "Switch to the dark theme");
    });
  }

  function apply() {
    var dark = isDark();
    var root = document.documentElement;
    root.classList.toggle("dark", dark);
    root.dataset.theme = dark ? "dark" : "light";
    labelButtons(dark);
    document.dispatchEvent(new CustomEvent("perpvol:theme", { detail: { dark: dark } }));
  }

  apply();
  media.addEventListener("change", apply);
  document.addEventListener("DOMContentLoaded", function () { labelButtons(isDark()); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-theme-toggle]");
    if (!button) return;
    try { window.localStorage.setItem(KEY, isDark() ? "light" : "dark"); } catch (e) { /* private mode */ }
    apply();
  });
})();
