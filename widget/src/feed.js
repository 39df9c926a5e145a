// One data source per API origin, mode and path, shared by every widget on the page that uses it:
// server-sent events (falling back to polling) or polling, paused while the tab is hidden. An account's
// embed (`/public/account/TOKEN`) is always polled: it has no live stream.

const PUBLIC_PATH = "/public/latest-volume";
const SSE_PATH = "/api/live/sse";
const TICK_MS = 10000; // re-render this often so an old figure gets flagged stale
const MAX_BACKOFF_MS = 300000;

const feeds = new Map();

// `seq` orders builds (when both documents carry one); `judged_at` orders re-judgements of one build.
function older(doc, than) {
  if (doc.seq != null && than.seq != null && Number(doc.seq) !== Number(than.seq)) return Number(doc.seq) < Number(than.seq);
  return Boolean(doc.judged_at && than.judged_at) && Date.parse(doc.judged_at) < Date.parse(than.judged_at);
}

export function getFeed(api, live, path = PUBLIC_PATH) {
  const key = `${api} ${live} ${path}`;
  let feed = feeds.get(key);
  if (!feed) {
    const sse = path === PUBLIC_PATH && live !== "poll" && typeof EventSource === "function";
    feed = new Feed(api, sse, () => feeds.delete(key), path);
    feeds.set(key, feed);
  }
  return feed;
}

class Feed {
  constructor(api, sse, onEmpty, path) {
    this.api = api;
    this.path = path;
    this.sse = sse;
    this.onEmpty = onEmpty;
    this.subs = new Map(); // element -> its refresh interval in ms
    this.state = { doc: null, error: null, at: 0 };
    this.fails = 0;
    this.on = false;
    this.onVisibility = () => (document.hidden ? this.stop() : this.start());
  }

  // Subscribe `el` (it gets `el.update(state)`); returns the unsubscribe function.
  add(el, refreshMs) {
    const first = !this.subs.size;
    this.subs.set(el, refreshMs);
    if (first) {
      document.addEventListener("visibilitychange", this.onVisibility);
      this.start();
    }
    return () => {
      this.subs.delete(el);
      if (this.subs.size) return;
      document.removeEventListener("visibilitychange", this.onVisibility);
      this.stop();
      this.onEmpty();
    };
  }

  get refreshMs() {
    return Math.min(...this.subs.values());
  }

  start() {
    if (this.on || document.hidden) return;
    this.on = true;
    this.ticker = setInterval(() => this.emit(), TICK_MS);
    this.sse ? this.listen() : this.poll();
  }

  stop() {
    this.on = false;
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    this.es?.close();
    this.es = null;
  }

  emit() {
    for (const el of this.subs.keys()) el.update(this.state);
  }

  receive(doc) {
    this.fails = 0;
    // A document delivered late (older build, or an older judgement of the same build) is dropped.
    if (this.state.doc && older(doc, this.state.doc)) return;
    this.state = { doc, error: null, at: Date.now() };
    this.emit();
  }

  fail(error) {
    this.fails += 1;
    this.state = { ...this.state, error };
    this.emit();
  }

  // Run `fn` after `ms` (or after a growing back-off while failing), unless stopped.
  later(fn, ms) {
    clearTimeout(this.timer);
    if (this.fails) ms = Math.min(MAX_BACKOFF_MS, Math.max(ms, 5000) * 2 ** (this.fails - 1));
    if (this.on) this.timer = setTimeout(fn, ms);
  }

  async poll() {
    try {
      // no-cache: revalidate (a cheap 304) rather than take a stale-while-revalidate copy
      const response = await fetch(this.api + this.path, { credentials: "omit", cache: "no-cache" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.receive(await response.json());
    } catch (error) {
      this.fail(/^HTTP/.test(error.message) ? error.message : "unreachable");
    }
    this.later(() => this.poll(), this.refreshMs);
  }

  listen() {
    const es = (this.es = new EventSource(this.api + SSE_PATH));
    let received = false;
    es.addEventListener("volume", (event) => {
      try {
        this.receive(JSON.parse(event.data));
        received = true;
      } catch {
        // a garbled event: keep the last good figure
      }
    });
    es.onerror = () => {
      const refused = es.readyState === 2; // CLOSED: an HTTP error or CORS refusal, not a dropped line
      es.close();
      this.es = null;
      if (refused && !received && !this.state.doc) {
        this.sse = false; // no usable live feed here: poll instead
        if (this.on) this.poll();
        return;
      }
      this.fail("unreachable");
      this.later(() => this.listen(), 3000);
    };
  }
}
