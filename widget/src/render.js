// Builds the widget's DOM from the feed state with createElement and textContent only: no innerHTML,
// no style attributes (a strict CSP allows setting `element.style` from script).

import { addDecimals, formatCompact, formatFull } from "./format.js";

const TITLE = "24h perp volume";
// The dashboard's venue colours (webapp/charts.py VENUE_COLORS), so a bar reads the same in both places.
const VENUE_COLORS = { bybit: "#E69F00", woox: "#0072B2", hyperliquid: "#009E73", paradex: "#CC79A7" };
const NO_DATA = "no data";
const LONG_TITLE = "Perpetual futures volume, rolling 24 hours";

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else el.setAttribute(key, value);
  }
  el.append(...children.filter((c) => c != null && c !== false));
  return el;
}

function clock(iso) {
  const at = new Date(iso);
  return isNaN(at) ? "" : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// What the widget shows, worked out from the document and the options.
export function summarize(state, { exchanges, staleMs, now = Date.now() }) {
  const doc = state.doc;
  let venues = doc.exchanges || [];
  if (exchanges) venues = venues.filter((v) => exchanges.includes(v.exchange));
  const fresh = venues.filter((v) => !v.stale && v.volume_usd != null);
  const missing = venues.filter((v) => !fresh.includes(v)).map((v) => v.label || v.exchange);
  const total = exchanges ? addDecimals(fresh.map((v) => v.volume_usd)) : doc.total_usd;
  // No venue counted: say "no data" and why (the server's no_data_reason), never a figure.
  const noData = fresh.length === 0 || total == null;
  return {
    venues,
    fresh,
    total,
    noData,
    reason: noData ? doc.no_data_reason || "no venue has a fresh figure" : null,
    partial: exchanges ? missing.length > 0 : doc.complete === false,
    missing,
    simulated: doc.simulated === true || doc.data_mode === "simulated",
    estimated: doc.estimated === true,
    offline: Boolean(state.error),
    stale: !state.error && now - state.at > staleMs,
    asOf: doc.as_of,
  };
}

function tags(s) {
  const partialTitle = `Partial: leaves out ${s.missing.join(", ")} (no fresh figure)`;
  return [
    s.simulated && h("span", { class: "tag sim", title: "Simulated data, not real exchange volume" }, "Simulated"),
    s.partial && h("span", { class: "tag", title: partialTitle }, "Partial"),
    s.offline && h("span", { class: "tag", title: "Server unreachable: showing the last figures" }, "Offline"),
    s.stale && h("span", { class: "tag", title: "No update for a while: figures may be out of date" }, "Stale"),
  ];
}

// The sentence a screen reader (and the hover title) gets for the whole widget.
function describe(s, heading) {
  return [
    s.noData ? `${heading}: ${NO_DATA} (${s.reason})` : `${heading}: ${formatFull(s.total)}`,
    s.simulated && "simulated data",
    s.estimated && "partly estimated",
    s.partial && `partial, leaves out ${s.missing.join(", ")}`,
    s.offline && "server unreachable, last known figures",
    s.stale && "may be out of date",
    s.asOf && `as of ${clock(s.asOf)}`,
  ]
    .filter(Boolean)
    .join("; ");
}

function placeholder(layout, state, api) {
  const text = state.error ? "Volume unavailable" : "Loading volume…";
  const cls = `w ${layout}${state.error ? " off" : ""}`;
  const title = state.error ? `perpvol: ${state.error}` : null;
  return h("a", { class: cls, href: `${api}/`, target: "_blank", rel: "noopener", title }, h("span", { class: "k" }, text));
}

export function render(state, { layout, api, ...options }) {
  if (!state.doc) return placeholder(layout, state, api);
  if (options.account) return renderAccount(state, layout, api, options);
  const s = summarize(state, options);
  const off = s.offline || s.stale || s.noData ? " off" : "";
  // data-asset: one coin's volume summed over the venues that list it.
  const heading = options.asset ? `${options.asset} perpetual futures volume across venues, rolling 24 hours` : LONG_TITLE;
  const label = describe(s, heading);
  const title = options.asset ? `${options.asset} ${TITLE}` : TITLE;
  const home = options.asset ? `${api}/assets/${options.asset}` : `${api}/`;
  const dot = h("span", { class: "dot", "aria-hidden": "true" });
  if (layout !== "card") {
    const attrs = { class: `w badge${off}`, href: home, target: "_blank", rel: "noopener" };
    return h(
      "a",
      { ...attrs, title: label, "aria-label": label },
      dot,
      h("span", { class: "k" }, title),
      h("b", { class: "v" }, s.noData ? NO_DATA : formatCompact(s.total)),
      ...tags(s),
    );
  }
  const full = s.noData ? NO_DATA : formatFull(s.total);
  return h(
    "section",
    { class: `w card${off}`, "aria-label": heading },
    h("header", null, dot, h("span", { class: "k" }, title), ...tags(s)),
    h(
      "p",
      { class: "v", role: "img", title: label, "aria-label": `Total ${full}` },
      s.noData ? NO_DATA : formatCompact(s.total),
    ),
    s.noData && h("p", { class: "why" }, s.reason),
    h("ul", null, ...s.venues.map((v) => venueRow(v, s))),
    h(
      "footer",
      null,
      s.asOf && h("time", { datetime: s.asOf }, `As of ${clock(s.asOf)}`),
      s.asOf && " · ",
      h("a", { href: home, target: "_blank", rel: "noopener" }, "perpvol ↗"),
    ),
  );
}

function venueRow(v, s) {
  const fresh = s.fresh.includes(v);
  const bar = h("i");
  const share = fresh && Number(s.total) > 0 ? (Number(v.volume_usd) / Number(s.total)) * 100 : 0;
  bar.style.width = `${share.toFixed(1)}%`; // CSSOM, allowed under a strict style-src
  if (VENUE_COLORS[v.exchange]) bar.style.background = VENUE_COLORS[v.exchange];
  const note = v.error ? `stale: ${v.error}` : "stale: no fresh figure";
  return h(
    "li",
    { class: fresh ? null : "st" },
    h("span", null, v.label || v.exchange),
    h("span", { class: "bar", "aria-hidden": "true" }, bar),
    h(
      "span",
      { class: "x", title: fresh ? `${formatFull(v.volume_usd)} (${share.toFixed(1)}%)` : note },
      fresh ? formatCompact(v.volume_usd) : "stale",
    ),
  );
}

// ---- data-account: one account's own published volume (GET /public/account/TOKEN) ----

const OWN = "Own perp volume";
const FIGURES = [
  ["volume_30d_usd", "30d", "30 days"],
  ["volume_24h_usd", "24h", "24 hours"],
];

// The figures the account chose to publish (30 days first), plus the state tags.
export function summarizeAccount(state, { staleMs, now = Date.now() }) {
  const doc = state.doc;
  return {
    figures: FIGURES.filter(([key]) => doc[key] != null).map(([key, short, long]) => ({ value: doc[key], short, long })),
    missing: [],
    simulated: doc.simulated === true || doc.data_mode === "simulated",
    offline: Boolean(state.error),
    stale: !state.error && now - state.at > staleMs,
    asOf: doc.as_of,
  };
}

function renderAccount(state, layout, api, options) {
  const s = summarizeAccount(state, options);
  const main = s.figures[0] || { value: null, short: "", long: "" };
  const label = [
    `One account's own perpetual futures volume: ${s.figures.map((f) => `${formatFull(f.value)} over ${f.long}`).join(", ") || "nothing published"}`,
    s.simulated && "simulated data",
    s.offline && "server unreachable, last known figures",
    s.stale && "may be out of date",
    s.asOf && `as of ${clock(s.asOf)}`,
  ]
    .filter(Boolean)
    .join("; ");
  const off = s.offline || s.stale ? " off" : "";
  const dot = h("span", { class: "dot", "aria-hidden": "true" });
  const link = { href: `${api}/`, target: "_blank", rel: "noopener" };
  if (layout !== "card") {
    return h(
      "a",
      { class: `w badge own${off}`, ...link, title: label, "aria-label": label },
      dot,
      h("span", { class: "k" }, `${OWN} ${main.short}`.trim()),
      h("b", { class: "v" }, formatCompact(main.value)),
      ...tags(s),
    );
  }
  return h(
    "section",
    { class: `w card own${off}`, "aria-label": OWN },
    h("header", null, dot, h("span", { class: "k" }, OWN), ...tags(s)),
    h("p", { class: "v", role: "img", title: label, "aria-label": `${main.long}: ${formatFull(main.value)}` }, formatCompact(main.value)),
    h(
      "ul",
      null,
      ...s.figures.map((f) => h("li", null, h("span", null, `Rolling ${f.long}`), h("span", { class: "x", title: formatFull(f.value) }, formatCompact(f.value)))),
    ),
    h("footer", null, s.asOf && h("time", { datetime: s.asOf }, `As of ${clock(s.asOf)}`), s.asOf && " · ", h("a", link, "perpvol ↗")),
  );
}
