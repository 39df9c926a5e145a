// One constructable stylesheet shared by every widget (a <style> element would be blocked by a strict
// host CSP). `all: initial` stops the host page's fonts and colours from leaking in.

const DARK =
  "--bg:#111827;--fg:#f9fafb;--mu:#9ca3af;--bd:#374151;--ac:var(--perpvol-accent,#93c5fd);" +
  "--wbg:#451a03;--wfg:#fcd34d;--sbg:#2e1065;--sfg:#ddd6fe";

export const CSS = `
:host{all:initial;display:inline-block;vertical-align:middle;contain:content;
font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
--bg:#fff;--fg:#111827;--mu:#4b5563;--bd:#d1d5db;--ac:var(--perpvol-accent,#1d4ed8);
--wbg:#fef3c7;--wfg:#92400e;--sbg:#ede9fe;--sfg:#5b21b6}
:host([hidden]){display:none}
:host([data-theme=dark]){${DARK}}
@media (prefers-color-scheme:dark){:host(:not([data-theme=light])){${DARK}}}
*{box-sizing:border-box;margin:0;padding:0}
.w{display:inline-flex;align-items:center;gap:6px;padding:4px 10px;border:1px solid var(--bd);
border-radius:999px;background:var(--bg);color:var(--fg);text-decoration:none;white-space:nowrap}
a:focus-visible{outline:2px solid var(--ac);outline-offset:2px}
.k{color:var(--mu)}
.v{font-weight:700;font-variant-numeric:tabular-nums}
.off .v,.off .x{color:var(--mu)}
.tag{padding:0 5px;border-radius:4px;background:var(--wbg);color:var(--wfg);font-size:11px;font-weight:600}
.sim{background:var(--sbg);color:var(--sfg)}
.dot{width:8px;height:8px;border-radius:50%;background:#16a34a;animation:pulse 2s ease-in-out infinite}
.off .dot{background:var(--mu);animation:none}
@keyframes pulse{50%{opacity:.3}}
.card{display:block;min-width:260px;padding:12px 14px;border-radius:10px;white-space:normal}
header{display:flex;flex-wrap:wrap;align-items:center;gap:6px}
.card .v{display:block;margin:2px 0 8px;font-size:26px;line-height:1.2}
ul{display:grid;gap:4px;list-style:none}
li{display:grid;grid-template-columns:6.5em 1fr 5.5em;align-items:center;gap:8px}
.bar{height:6px;border-radius:3px;background:var(--bd);overflow:hidden}
.bar i{display:block;height:100%;background:var(--ac)}
.x{text-align:right;font-variant-numeric:tabular-nums}
.why{margin:-6px 0 8px;color:var(--wfg)}
li.st .x{color:var(--wfg)}
.own li{grid-template-columns:1fr auto}
footer{margin-top:8px;color:var(--mu);font-size:11px}
footer a{color:var(--ac)}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

let sheet;

// Style `root`; returns the <style> element to keep when constructable stylesheets are missing
// (Safari < 16.4), else null.
export function adoptStyles(root) {
  try {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
    return null;
  } catch {
    const style = document.createElement("style");
    style.textContent = CSS;
    return style;
  }
}
