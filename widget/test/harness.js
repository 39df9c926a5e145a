// Test harness: a jsdom page that loads the bundled widget through a real <script src> (so
// document.currentScript works), with a fake clock, a scripted fetch and a fake EventSource.
import { JSDOM, requestInterceptor } from "jsdom";
import { bundle } from "../build.mjs";

export const API = "https://vol.example";
export const WIDGET_URL = `${API}/widget.js`;
const code = await bundle();

export function doc(overrides = {}) {
  return {
    as_of: "2025-01-02T03:04:05Z",
    data_mode: "real",
    simulated: false,
    window: "rolling_24h",
    unit: "USD",
    total_usd: "51312345678.125",
    complete: true,
    estimated: false,
    excluded: [],
    exchanges: [
      venue("bybit", "Bybit", "20000000000.5", "0.389768"),
      venue("woox", "WOO X", "1312345677.625", "0.025575"),
      venue("hyperliquid", "Hyperliquid", "25000000000", "0.487213"),
      venue("paradex", "Paradex", "5000000000", "0.097443"),
    ],
    ...overrides,
  };
}

export function venue(exchange, label, volume_usd, share, stale = false) {
  return { exchange, label, volume_usd, share, as_of: "2025-01-02T03:04:00Z", stale };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function fakeClock(window) {
  let now = Date.parse("2025-01-02T03:04:06Z");
  let seq = 0;
  const timers = new Map();
  window.Date.now = () => now;
  window.setTimeout = (fn, ms = 0) => (timers.set(++seq, { at: now + ms, fn }), seq);
  window.setInterval = (fn, ms) => (timers.set(++seq, { at: now + ms, fn, every: ms }), seq);
  window.clearTimeout = window.clearInterval = (id) => timers.delete(id);
  return {
    timers,
    // Move time on by `ms`, running due timers in order (and letting promises settle after each).
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        const [id, timer] = due;
        now = timer.at;
        if (timer.every) timer.at += timer.every;
        else timers.delete(id);
        timer.fn();
        await flush();
      }
      now = end;
      await flush();
    },
  };
}

// Stands in for the server: `doc` is served, `status` other than 200 answers an error, `down` refuses.
export function fakeServer() {
  const server = { doc: doc(), status: 200, down: false, calls: [] };
  server.fetch = async (url, options) => {
    server.calls.push({ url: String(url), options });
    if (server.down) throw new TypeError("Failed to fetch");
    const body = structuredClone(server.doc);
    return { ok: server.status === 200, status: server.status, json: async () => body };
  };
  return server;
}

function fakeEventSourceClass(sources) {
  return class FakeEventSource {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.listeners = {};
      this.onerror = null;
      sources.push(this);
    }
    addEventListener(type, fn) {
      (this.listeners[type] ||= []).push(fn);
    }
    close() {
      this.readyState = 2;
      this.closed = true;
    }
    send(type, data) {
      this.readyState = 1;
      for (const fn of this.listeners[type] || []) fn({ data: typeof data === "string" ? data : JSON.stringify(data) });
    }
    fail(readyState) {
      this.readyState = readyState;
      this.onerror?.({});
    }
  };
}

// A page whose <body> is `body`; resolves once its scripts ran and pending fetches settled.
export async function page(body, { eventSource = false, server = fakeServer() } = {}) {
  const sources = [];
  let clock;
  let globalsBefore;
  let hidden = false;
  const dom = new JSDOM(`<!doctype html><html><head></head><body>${body}</body></html>`, {
    url: "https://host.example/page.html",
    runScripts: "dangerously",
    pretendToBeVisual: true,
    resources: {
      interceptors: [
        requestInterceptor((request) => {
          if (request.url === WIDGET_URL) {
            return new Response(code, { headers: { "Content-Type": "application/javascript" } });
          }
          return new Response("not found", { status: 404 });
        }),
      ],
    },
    beforeParse(window) {
      clock = fakeClock(window);
      window.fetch = server.fetch;
      window.EventSource = eventSource ? fakeEventSourceClass(sources) : undefined;
      Object.defineProperty(window.document, "hidden", { get: () => hidden, configurable: true });
      globalsBefore = new Set(Object.getOwnPropertyNames(window));
    },
  });
  const { window } = dom;
  if (window.document.readyState !== "complete") {
    await new Promise((resolve) => window.addEventListener("load", resolve));
  }
  await flush();
  return {
    dom,
    window,
    document: window.document,
    server,
    sources,
    clock,
    newGlobals: () => Object.getOwnPropertyNames(window).filter((name) => !globalsBefore.has(name)),
    setHidden(value) {
      hidden = value;
      window.document.dispatchEvent(new window.Event("visibilitychange"));
    },
    widgets: () => [...window.document.querySelectorAll("perpvol-volume")],
    close: () => window.close(),
  };
}

export { code, flush };
