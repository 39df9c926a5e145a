// data-asset="BTC": the widget shows one coin's rolling-24h volume across venues from
// GET /public/asset/BTC, labelled with the coin, polled (never the live stream).
import assert from "node:assert/strict";
import { test } from "node:test";
import { API, WIDGET_URL, doc, fakeServer, page, venue } from "./harness.js";

const ASSET_URL = `${API}/public/asset/BTC`;
const tag = (attrs = "") => `<script src="${WIDGET_URL}" async data-asset="btc" ${attrs}></script>`;
const shadow = (el) => el.shadowRoot;
const tags = (el) => [...shadow(el).querySelectorAll(".tag")].map((t) => t.textContent);

function assetDoc(overrides = {}) {
  return doc({
    asset: "BTC",
    total_usd: "18450000000.5",
    exchanges: [venue("bybit", "Bybit", "12450000000.5", null), venue("hyperliquid", "Hyperliquid", "6000000000", null)],
    ...overrides,
  });
}

// Answers the asset document on its path and the market document elsewhere.
function server(asset = assetDoc()) {
  const s = fakeServer();
  const market = s.fetch;
  s.asset = asset;
  s.fetch = async (url, options) => {
    if (!String(url).includes("/public/asset/")) return market(url, options);
    s.calls.push({ url: String(url), options });
    if (!s.asset) return { ok: false, status: 404, json: async () => ({ error: "unknown_asset" }) };
    const body = structuredClone(s.asset);
    return { ok: true, status: 200, json: async () => body };
  };
  return s;
}

test("a badge with data-asset shows that coin's volume across venues and links to its page", async () => {
  const p = await page(tag(), { eventSource: true, server: server() });
  const [el] = p.widgets();
  assert.equal(p.sources.length, 0, "an asset embed polls; the live stream carries the market total");
  assert.deepEqual(p.server.calls.map((c) => c.url), [ASSET_URL]);
  assert.equal(p.server.calls[0].options.credentials, "omit");
  const link = shadow(el).querySelector("a.badge");
  assert.equal(shadow(el).querySelector(".k").textContent, "BTC 24h perp volume");
  assert.equal(shadow(el).querySelector(".v").textContent, "$18.45B");
  assert.equal(link.getAttribute("href"), `${API}/assets/BTC`);
  assert.match(link.getAttribute("aria-label"), /^BTC perpetual futures volume across venues, rolling 24 hours: \$18,450,000,000\.50/);
  assert.deepEqual(tags(el), []);
  p.close();
});

test("the card lists the coin's venues; a stale one makes it partial", async () => {
  const stale = assetDoc({
    complete: false,
    exchanges: [venue("bybit", "Bybit", "12450000000.5", null), venue("woox", "WOO X", "5", null, true)],
  });
  const p = await page(tag('data-layout="card"'), { server: server(stale) });
  const [el] = p.widgets();
  const root = shadow(el);
  assert.equal(root.querySelector("section").getAttribute("aria-label"), "BTC perpetual futures volume across venues, rolling 24 hours");
  assert.deepEqual([...root.querySelectorAll("li > span:first-child")].map((s) => s.textContent), ["Bybit", "WOO X"]);
  assert.deepEqual(tags(el), ["Partial"]);
  p.close();
});

test("an unknown asset says the volume is unavailable", async () => {
  const p = await page(tag(), { server: server(null) });
  const [el] = p.widgets();
  assert.match(shadow(el).textContent, /Volume unavailable/);
  p.close();
});
