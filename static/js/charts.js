// Renders every [data-chart] element with vega-embed, from the spec in the <script type="application/json">
// it names; again after htmx swaps (history, live updates) and theme changes.
// CSP: no eval (vega's expression interpreter), no injected <style> (styles live in app.css).
(function () {
  "use strict";
  var views = new WeakMap();

  function options() {
    var dark = document.documentElement.classList.contains("dark");
    return {
      actions: false,
      renderer: "canvas",
      ast: true,
      expr: vegaEmbed.expressionInterpreter,
      defaultStyle: false,
      theme: dark ? "dark" : undefined,
      config: { background: "transparent" },
      tooltip: { disableDefaultStyle: true, theme: dark ? "dark" : "light" },
    };
  }

  function render(el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source || typeof vegaEmbed === "undefined") return;
    var previous = views.get(el);
    if (previous) previous.finalize();
    // vega-embed replaces role and aria-label with generic ones; keep the page's description.
    if (!el.dataset.label) el.dataset.label = el.getAttribute("aria-label") || "";
    el.setAttribute("aria-busy", "true");
    vegaEmbed(el, JSON.parse(source.textContent), options()).then(function (result) {
      views.set(el, result.view);
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", el.dataset.label);
      el.removeAttribute("aria-roledescription");
      el.setAttribute("aria-busy", "false");
      el.dataset.rendered = String(Number(el.dataset.rendered || 0) + 1);
    }).catch(function (error) {
      el.setAttribute("aria-busy", "false");
      console.error("perpvol chart:", error);
    });
  }

  function renderWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("[data-chart]")) render(root);
    root.querySelectorAll("[data-chart]").forEach(render);
  }

  // htmx fires htmx:load on the page at start-up and on every piece of swapped-in content (SSE too).
  document.addEventListener("htmx:load", function (event) { renderWithin(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof htmx === "undefined") renderWithin(document);
  });
  document.addEventListener("perpvol:theme", function () {
    if (document.readyState !== "loading") renderWithin(document);
  });
})();
