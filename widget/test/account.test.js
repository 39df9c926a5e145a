// data-account="TOKEN": the widget shows one account's own published volume from
// GET /public/account/TOKEN, labelled as such, polled (never the live stream).
import assert from "node:assert/strict";
import { test } from "node:test";
import { API, WIDGET_URL, fakeServer, page } from "./harness.js";

const TOKEN = "Ab3_x-9QkLmN0pRsTuVwXy12";
const ACCOUNT_URL = `${API}/public/account/${TOKEN}`;
const tag = (attrs = "") => `<script src="${WIDGET_URL}" async data-account="${TOKEN}" ${attrs}></script>`;
const shadow = (el) => el.shadowRoot;
const tags = (el) => [...shadow(el).querySelectorAll(".tag")].map((t) => t.textContent);

function accountDoc(overrides = {}) {
  return {
    as_of: "2025-01-02T03:04:05Z",
    data_mode: "real",
    volume_24h_usd: "4001.00",
    volume_30d_usd: "1234567.895",
    ...overrides,
  };
}

// Answers the account document on its path and the market document elsewhere.
function server(account = accountDoc()) {
  const s = fakeServer();
  const market = s.fetch;
  s.account = account;
  s.fetch = async (url, options) => {
    if (!String(url).includes("/public/account/")) return market(url, options);
    s.calls.push({ url: String(url), options });
    if (s.down) throw new TypeError("Failed to fetch");
    if (!s.account) return { ok: false, status: 404, json: async () => ({ error: "not_found" }) };
    const body = structuredClone(s.account);
    return { ok: true, status: 200, json: async () => body };
  };
  return s;
}

test("a badge with data-account reads the account's figures and says they are its own", async () => {
  const p = await page(tag(), { eventSource: true, server: server() });
  const [el] = p.widgets();
  assert.equal(p.sources.length, 0, "an account embed never opens the live stream");
  assert.deepEqual(p.server.calls.map((c) => c.url), [ACCOUNT_URL]);
  assert.equal(p.server.calls[0].options.credentials, "omit");
  const link = shadow(el).querySelector("a.badge");
  assert.equal(shadow(el).querySelector(".k").textContent, "Own perp volume 30d");
  assert.equal(shadow(el).querySelector(".v").textContent, "$1.23M");
  assert.match(link.getAttribute("aria-label"), /^One account's own perpetual futures volume: \$1,234,567\.90 over 30 days, \$4,001\.00 over 24 hours/);
  assert.doesNotMatch(shadow(el).textContent, /24h perp volume/);
  assert.deepEqual(tags(el), []);
  p.close();
});

test("only the published figure is shown; the card lists each one", async () => {
  const p = await page(tag('data-layout="card"'), { server: server(accountDoc({ volume_30d_usd: undefined })) });
  const [el] = p.widgets();
  const root = shadow(el);
  assert.ok(root.querySelector("section.card.own"));
  assert.equal(root.querySelector("section").getAttribute("aria-label"), "Own perp volume");
  assert.equal(root.querySelector(".v").textContent, "$4.00K");
  assert.deepEqual([...root.querySelectorAll("li")].map((li) => li.textContent), ["Rolling 24 hours$4.00K"]);
  assert.equal(root.querySelector("li .x").getAttribute("title"), "$4,001.00");
  p.server.account = accountDoc();
  await p.clock.advance(60000);
  assert.deepEqual([...root.querySelectorAll("li span:first-child")].map((s) => s.textContent), ["Rolling 30 days", "Rolling 24 hours"]);
  p.close();
});

test("polls every 60 s by default (data-refresh still applies), pausing while hidden", async () => {
  const p = await page(tag(), { server: server() });
  await p.clock.advance(59999);
  assert.equal(p.server.calls.length, 1);
  await p.clock.advance(1);
  assert.equal(p.server.calls.length, 2);
  p.setHidden(true);
  await p.clock.advance(300000);
  assert.equal(p.server.calls.length, 2);
  p.close();
  const q = await page(tag('data-refresh="10"'), { server: server() });
  await q.clock.advance(10000);
  assert.equal(q.server.calls.length, 2);
  q.close();
});

test("a revoked token is an error state; simulated and offline are labelled", async () => {
  const p = await page(tag(), { server: server(null) });
  const [el] = p.widgets();
  assert.equal(shadow(el).textContent, "Volume unavailable");
  assert.equal(shadow(el).querySelector("a").getAttribute("title"), "perpvol: HTTP 404");
  p.close();

  const q = await page(tag(), { server: server(accountDoc({ data_mode: "simulated" })) });
  const [sim] = q.widgets();
  assert.deepEqual(tags(sim), ["Simulated"]);
  q.server.down = true;
  await q.clock.advance(60000);
  assert.deepEqual(tags(sim), ["Simulated", "Offline"]);
  assert.equal(shadow(sim).querySelector(".v").textContent, "$1.23M", "last figures kept");
  q.close();
});

test("account and market widgets on one page use separate feeds; a malformed token is ignored", async () => {
  const body =
    `<perpvol-volume data-api="${API}" data-account="${TOKEN}"></perpvol-volume>` +
    `<perpvol-volume data-api="${API}" data-live="poll"></perpvol-volume>` +
    `<perpvol-volume data-api="${API}" data-live="poll" data-account="../../api/keys"></perpvol-volume>` +
    `<script src="${WIDGET_URL}" async data-mount="none"></script>`;
  const p = await page(body, { server: server() });
  const [own, market, bad] = p.widgets();
  assert.deepEqual(p.server.calls.map((c) => c.url).sort(), [ACCOUNT_URL, `${API}/public/latest-volume`]);
  assert.equal(shadow(own).querySelector(".v").textContent, "$1.23M");
  assert.equal(shadow(market).querySelector(".v").textContent, "$51.31B");
  assert.equal(shadow(bad).querySelector(".v").textContent, "$51.31B", "not a token: the market figure");
  p.close();
});
