import assert from "node:assert/strict";
import { test } from "node:test";
import { API, WIDGET_URL, code, doc, fakeServer, page, venue } from "./harness.js";

const tag = (attrs = "") => `<script src="${WIDGET_URL}" async ${attrs}></script>`;
const shadow = (el) => el.shadowRoot;
const text = (el) => shadow(el).textContent.replace(/\s+/g, " ").trim();
const tags = (el) => [...shadow(el).querySelectorAll(".tag")].map((t) => t.textContent);

test("a script tag renders a badge where it is placed", async () => {
  const p = await page(`<p id="before">x</p>${tag()}<p id="after">y</p>`);
  const [el] = p.widgets();
  assert.ok(el, "no <perpvol-volume> rendered");
  assert.equal(el.previousElementSibling.id, "before");
  assert.equal(el.nextElementSibling.tagName, "SCRIPT");
  assert.equal(el.dataset.api, API);
  const link = shadow(el).querySelector("a.badge");
  assert.equal(link.getAttribute("href"), `${API}/`);
  assert.equal(link.getAttribute("rel"), "noopener");
  assert.equal(shadow(el).querySelector(".v").textContent, "$51.31B");
  assert.match(link.getAttribute("title"), /\$51,312,345,678\.13/);
  assert.match(link.getAttribute("aria-label"), /^Perpetual futures volume, rolling 24 hours: \$51,312,345,678\.13/);
  assert.deepEqual(tags(el), []);
  assert.equal(p.server.calls.length, 1);
  assert.equal(p.server.calls[0].url, `${API}/public/latest-volume`);
  assert.equal(p.server.calls[0].options.credentials, "omit");
  assert.equal(p.server.calls[0].options.cache, "no-cache");
  p.close();
});

test("no globals besides the element, no cookies, styles adopted (not a <style>)", async () => {
  const p = await page(tag());
  assert.deepEqual(p.newGlobals(), []);
  assert.ok(p.window.customElements.get("perpvol-volume"));
  assert.equal(p.document.cookie, "");
  const root = shadow(p.widgets()[0]);
  assert.equal(root.querySelector("style"), null);
  assert.equal(root.adoptedStyleSheets.length, 1);
  assert.equal(root.mode, "open");
  p.close();
});

test("the built file has no eval, innerHTML, cookies or storage", () => {
  for (const banned of ["eval(", "new Function", "innerHTML", "document.cookie", "localStorage", "sessionStorage"]) {
    assert.ok(!code.includes(banned), banned);
  }
  assert.match(code, /prefers-reduced-motion:reduce/);
  assert.match(code, /prefers-color-scheme:dark/);
});

test("simulated data is labelled visibly and for screen readers", async () => {
  const p = await page(tag(), {});
  p.server.doc = doc({ data_mode: "simulated", simulated: true });
  await p.clock.advance(30000);
  const [el] = p.widgets();
  assert.deepEqual(tags(el), ["Simulated"]);
  assert.match(shadow(el).querySelector("a").getAttribute("aria-label"), /simulated data/);
  p.close();
});

test("card layout lists venues; partial when the document is incomplete; total is total_usd", async () => {
  const p = await page(`<perpvol-volume data-layout="card" data-api="${API}/" data-theme="dark"></perpvol-volume>${tag('data-mount="none"')}`);
  p.server.doc = doc({
    total_usd: "46312345677.625",
    complete: false,
    excluded: ["bybit"],
    exchanges: [
      { ...venue("bybit", "Bybit", "20000000000.5", null, true), error: "HTTP 503" },
      venue("woox", "WOO X", "1312345677.625", "0.028337"),
      venue("hyperliquid", "Hyperliquid", "25000000000", "0.539810"),
      venue("paradex", "Paradex", "20000000000", "0.431853"),
    ],
  });
  await p.clock.advance(30000);
  assert.equal(p.widgets().length, 1, "data-mount=none must not add a widget");
  const [el] = p.widgets();
  const root = shadow(el);
  assert.ok(root.querySelector("section.card"));
  assert.equal(root.querySelector(".v").textContent, "$46.31B");
  assert.equal(root.querySelector(".v").getAttribute("aria-label"), "Total $46,312,345,677.63");
  assert.deepEqual(tags(el), ["Partial"]);
  assert.match(root.querySelector(".tag").title, /leaves out Bybit/);
  const rows = [...root.querySelectorAll("li")].map((li) => li.textContent);
  assert.deepEqual(rows, ["Bybitstale", "WOO X$1.31B", "Hyperliquid$25.00B", "Paradex$20.00B"]);
  const bybit = root.querySelector("li.st .x");
  assert.equal(bybit.title, "stale: HTTP 503");
  assert.equal(root.querySelectorAll("li .bar i")[2].style.width, "54%");
  // Each venue's bar in the dashboard's colour for it (Hyperliquid #009E73, WOO X #0072B2).
  assert.equal(root.querySelectorAll("li .bar i")[2].style.background, "rgb(0, 158, 115)");
  assert.equal(root.querySelectorAll("li .bar i")[1].style.background, "rgb(0, 114, 178)");
  assert.equal(root.querySelector("time").getAttribute("datetime"), "2025-01-02T03:04:05Z");
  assert.equal(root.querySelector("footer a").getAttribute("href"), `${API}/`);
  p.close();
});

test("data-exchanges picks venues and sums them exactly", async () => {
  const p = await page(tag('data-layout="card" data-exchanges="Bybit, woox"'));
  const [el] = p.widgets();
  assert.equal(shadow(el).querySelectorAll("li").length, 2);
  // 20000000000.5 + 1312345677.625, from the strings
  assert.equal(shadow(el).querySelector(".v").getAttribute("aria-label"), "Total $21,312,345,678.13");
  assert.deepEqual(tags(el), []);
  p.server.doc = doc();
  p.server.doc.exchanges[1].stale = true;
  await p.clock.advance(30000);
  assert.equal(shadow(el).querySelector(".v").textContent, "$20.00B");
  assert.deepEqual(tags(el), ["Partial"]);
  p.close();
});

test("several widgets on a page share one feed", async () => {
  const p = await page(
    `${tag('data-layout="card"')}<perpvol-volume></perpvol-volume><perpvol-volume data-refresh="60"></perpvol-volume>${tag()}`,
  );
  const widgets = p.widgets();
  assert.equal(widgets.length, 4);
  for (const el of widgets) assert.match(text(el), /\$51\.31B/);
  const calls = p.server.calls.length;
  assert.ok(calls <= 2, `${calls} fetches for one API`); // each script tag may fetch once at start
  await p.clock.advance(30000);
  assert.equal(p.server.calls.length, calls + 1, "one poll per interval for all widgets");
  p.close();
});

test("unreachable before any data: a small error state", async () => {
  const server = fakeServer();
  server.down = true;
  const p = await page(tag(), { server });
  const [el] = p.widgets();
  assert.equal(el.shadowRoot.textContent, "Volume unavailable");
  assert.match(el.shadowRoot.querySelector("a").title, /unreachable/);
  p.close();
});

test("server goes away: last figures kept, marked offline, polling backs off, recovers", async () => {
  const p = await page(tag('data-refresh="10"'));
  const [el] = p.widgets();
  p.server.down = true;
  await p.clock.advance(10000);
  assert.deepEqual(tags(el), ["Offline"]);
  assert.ok(shadow(el).querySelector(".badge.off"));
  assert.equal(shadow(el).querySelector(".v").textContent, "$51.31B");
  assert.match(shadow(el).querySelector("a").getAttribute("aria-label"), /server unreachable/);
  // retries at +10 s, then +20 s, +40 s ... (at most 5 min apart)
  await p.clock.advance(10000);
  const failed = p.server.calls.length;
  await p.clock.advance(19999);
  assert.equal(p.server.calls.length, failed, "retries back off");
  p.server.down = false;
  await p.clock.advance(1);
  assert.deepEqual(tags(el), []);
  assert.equal(shadow(el).querySelector(".off"), null);
  p.close();
});

test("an HTTP error (e.g. 429) is an error state too", async () => {
  const p = await page(tag());
  p.server.status = 503;
  await p.clock.advance(30000);
  assert.deepEqual(tags(p.widgets()[0]), ["Offline"]);
  p.close();
});

test("live via server-sent events; stale when nothing arrives; first render well under 50 ms", async () => {
  const p = await page(tag(), { eventSource: true });
  const [el] = p.widgets();
  assert.equal(p.sources.length, 1);
  assert.equal(p.sources[0].url, `${API}/api/live/sse`);
  assert.equal(p.server.calls.length, 0);
  assert.equal(shadow(el).textContent, "Loading volume…");
  const started = performance.now();
  p.sources[0].send("volume", doc({ total_usd: "1234567.891" }));
  assert.ok(performance.now() - started < 50);
  assert.equal(shadow(el).querySelector(".v").textContent, "$1.23M");
  p.sources[0].send("volume", "{garbled");
  assert.equal(shadow(el).querySelector(".v").textContent, "$1.23M");
  await p.clock.advance(130000);
  assert.deepEqual(tags(el), ["Stale"]);
  p.sources[0].send("volume", doc());
  assert.deepEqual(tags(el), []);
  p.close();
});

test("a dropped live connection shows offline and reconnects later", async () => {
  const p = await page(tag(), { eventSource: true });
  const [el] = p.widgets();
  p.sources[0].send("volume", doc());
  p.sources[0].fail(0);
  assert.ok(p.sources[0].closed);
  assert.deepEqual(tags(el), ["Offline"]);
  await p.clock.advance(5000);
  assert.equal(p.sources.length, 2);
  p.sources[1].send("volume", doc());
  assert.deepEqual(tags(el), []);
  p.close();
});

test("a live feed refused outright (CORS, HTTP error) falls back to polling", async () => {
  const p = await page(tag(), { eventSource: true });
  p.sources[0].fail(2);
  await p.clock.advance(0);
  assert.equal(p.server.calls.length, 1);
  assert.match(text(p.widgets()[0]), /\$51\.31B/);
  p.close();
});

test('data-live="poll" polls even where EventSource exists; data-refresh is at least 5 s', async () => {
  const p = await page(tag('data-live="poll" data-refresh="1"'), { eventSource: true });
  assert.equal(p.sources.length, 0);
  assert.equal(p.server.calls.length, 1);
  await p.clock.advance(4999);
  assert.equal(p.server.calls.length, 1);
  await p.clock.advance(1);
  assert.equal(p.server.calls.length, 2);
  p.close();
});

test("pauses while the tab is hidden, catches up when shown", async () => {
  const p = await page(tag(), { eventSource: true });
  const sse = p.sources[0];
  p.setHidden(true);
  assert.ok(sse.closed);
  assert.equal(p.clock.timers.size, 0, "no timers left while hidden");
  p.setHidden(false);
  assert.equal(p.sources.length, 2);

  const q = await page(tag());
  q.setHidden(true);
  await q.clock.advance(120000);
  assert.equal(q.server.calls.length, 1);
  q.setHidden(false);
  await q.clock.advance(0);
  assert.equal(q.server.calls.length, 2);
  p.close();
  q.close();
});

test("options can change after rendering; removing the widget stops its feed", async () => {
  const p = await page(tag('data-theme="light"'));
  const [el] = p.widgets();
  assert.equal(el.dataset.theme, "light");
  el.dataset.layout = "card";
  assert.ok(shadow(el).querySelector("section.card"));
  assert.equal(shadow(el).querySelector(".v").textContent, "$51.31B", "keeps the shared feed's data");
  el.dataset.api = "https://other.example";
  await p.clock.advance(0);
  assert.equal(p.server.calls.at(-1).url, "https://other.example/public/latest-volume");
  assert.equal(p.clock.timers.size, 2, "the old feed stopped: one poll timer and one ticker left");
  el.remove();
  assert.equal(p.clock.timers.size, 0);
  p.close();
});

test("no venue counted: the badge and the card say no data and why, never a figure", async () => {
  const down = (exchange, label) => ({ ...venue(exchange, label, null, null, true), error: "unreachable" });
  const empty = doc({
    total_usd: null,
    no_data_reason: "cannot reach any exchange",
    complete: false,
    excluded: ["bybit", "woox", "hyperliquid", "paradex"],
    exchanges: [down("bybit", "Bybit"), down("woox", "WOO X"), down("hyperliquid", "Hyperliquid"), down("paradex", "Paradex")],
  });
  const p = await page(`${tag()}${tag('data-layout="card"')}`);
  p.server.doc = empty;
  await p.clock.advance(30000);
  const [badge, card] = p.widgets();
  assert.equal(shadow(badge).querySelector(".v").textContent, "no data");
  assert.match(shadow(badge).querySelector("a").getAttribute("aria-label"), /no data \(cannot reach any exchange\)/);
  assert.ok(shadow(badge).querySelector("a").className.includes("off"), "the live dot must not pulse");
  assert.equal(shadow(card).querySelector(".v").textContent, "no data");
  assert.equal(shadow(card).querySelector(".why").textContent, "cannot reach any exchange");
  assert.ok(!text(badge).includes("$0") && !text(card).includes("$0"));
  p.close();
});

test("a document delivered late never replaces a newer one", async () => {
  const p = await page(tag(), { eventSource: true });
  const [el] = p.widgets();
  p.sources[0].send("volume", doc({ seq: 20, total_usd: "2000000", judged_at: "2025-01-02T03:04:06Z" }));
  p.sources[0].send("volume", doc({ seq: 19, total_usd: "1000000", judged_at: "2025-01-02T03:04:07Z" }));
  assert.equal(shadow(el).querySelector(".v").textContent, "$2.00M");
  const rejudged = doc({ seq: 20, total_usd: "1500000", judged_at: "2025-01-02T03:04:08Z" });
  p.sources[0].send("volume", rejudged);
  assert.equal(shadow(el).querySelector(".v").textContent, "$1.50M");
  p.sources[0].send("volume", doc({ seq: 20, total_usd: "2000000", judged_at: "2025-01-02T03:04:07Z" }));
  assert.equal(shadow(el).querySelector(".v").textContent, "$1.50M");
  p.close();
});
