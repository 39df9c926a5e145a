// The embed page's live preview: loads the real widget script with the chosen data-* attributes into
// #widget-preview, after the first render and after every htmx update of the configurator's output.
(function () {
  "use strict";

  function preview() {
    var box = document.getElementById("widget-preview");
    if (!box || box.dataset.widgetReady !== "true") return;
    var attrs = JSON.parse(box.dataset.widgetAttrs || "[]");
    box.replaceChildren();
    var script = document.createElement("script");
    script.src = box.dataset.widgetSrc;
    script.async = true;
    attrs.forEach(function (pair) { script.setAttribute(pair[0], pair[1]); });
    box.appendChild(script);
  }

  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt === document.body || (elt && elt.id === "embed-output")) preview();
  });
})();
