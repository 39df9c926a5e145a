// perpvol embeddable widget: defines <perpvol-volume> and, when loaded by a plain script tag, renders
// one where the tag is. No globals besides the element, no cookies, no eval, no inline styles.

import { getFeed } from "./feed.js";
import { render } from "./render.js";
import { adoptStyles } from "./style.js";

const TAG = "perpvol-volume";
const script = document.currentScript;
const scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;

class PerpvolVolume extends HTMLElement {
  static get observedAttributes() {
    return ["data-layout", "data-exchanges", "data-refresh", "data-live", "data-api", "data-account", "data-asset"];
  }

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.fallbackStyle = adoptStyles(this.root);
    this.state = { doc: null, error: null, at: 0 };
  }

  get options() {
    const data = this.dataset;
    const exchanges = (data.exchanges || "")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean);
    // data-account="TOKEN": the account's own published figures (polled; the server caches them 60 s).
    const account = /^[\w-]{1,99}$/.test(data.account || "") ? data.account : null;
    const refreshMs = Math.max(5, Number(data.refresh) || (account ? 60 : 30)) * 1000;
    // data-asset="BTC": that coin's volume across venues (polled from /public/asset/BTC).
    const asset = /^[a-z0-9]{1,40}$/i.test(data.asset || "") ? data.asset.toUpperCase() : null;
    return {
      account,
      asset,
      api: (data.api || scriptOrigin).replace(/\/+$/, ""),
      layout: data.layout === "card" ? "card" : "badge",
      exchanges: exchanges.length ? exchanges : null,
      live: data.live === "poll" ? "poll" : "sse",
      refreshMs,
      staleMs: Math.max(120000, 3 * refreshMs),
    };
  }

  connectedCallback() {
    this.subscribe();
  }

  disconnectedCallback() {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  attributeChangedCallback() {
    if (this.unsubscribe) this.subscribe();
  }

  subscribe() {
    const { api, live, refreshMs, account, asset } = this.options;
    const path = account ? `/public/account/${account}` : asset && `/public/asset/${asset}`;
    const feed = path ? getFeed(api, "poll", path) : getFeed(api, live);
    const leave = this.unsubscribe;
    this.unsubscribe = feed.add(this, refreshMs); // join first, so a feed shared with others is kept
    if (leave && feed !== this.feed) leave();
    this.feed = feed;
    this.update(feed.state);
  }

  // Called by the feed with its state ({doc, error, at}); renders synchronously.
  update(state) {
    this.state = state;
    const view = render(state, this.options);
    this.root.replaceChildren(...(this.fallbackStyle ? [this.fallbackStyle, view] : [view]));
  }
}

if (!customElements.get(TAG)) customElements.define(TAG, PerpvolVolume);

// <script src=".../widget.js" data-...>: render in place (data-mount="none" only defines the element).
if (script && script.dataset.mount !== "none") {
  const el = document.createElement(TAG);
  for (const { name, value } of script.attributes) {
    if (name.startsWith("data-") && name !== "data-mount") el.setAttribute(name, value);
  }
  if (!el.dataset.api) el.dataset.api = scriptOrigin;
  const parent = script.parentNode;
  if (parent && parent !== document.head) parent.insertBefore(el, script);
  else if (document.body) document.body.append(el);
  else document.addEventListener("DOMContentLoaded", () => document.body.append(el));
}
