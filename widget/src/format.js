// Money display from decimal strings ("51312345678.12", "1.5E+10"), exact: BigInt, never Number.

const UNITS = ["", "K", "M", "B", "T"];

// "123.45" -> { n: 12345n, scale: 2 } (value = n / 10^scale); null when not a decimal.
export function parseDecimal(text) {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(String(text ?? "").trim());
  if (!m || !(m[2] || m[3])) return null;
  let digits = m[2] + (m[3] || "");
  let scale = (m[3] || "").length - Number(m[4] || 0);
  if (scale < 0) {
    digits += "0".repeat(-scale);
    scale = 0;
  }
  const n = BigInt(digits);
  return { n: m[1] === "-" ? -n : n, scale };
}

// The value times 10^places as a BigInt, rounded half away from zero.
function scaled({ n, scale }, places) {
  if (scale <= places) return n * 10n ** BigInt(places - scale);
  const d = 10n ** BigInt(scale - places);
  const half = n < 0n ? -d / 2n : d / 2n;
  return (n + half) / d;
}

// Sum of decimal strings, as a decimal string (null entries are skipped).
export function addDecimals(values) {
  const parsed = values.map(parseDecimal).filter(Boolean);
  const scale = Math.max(0, ...parsed.map((p) => p.scale));
  const sum = parsed.reduce((acc, p) => acc + scaled(p, scale), 0n);
  const sign = sum < 0n ? "-" : "";
  const digits = (sum < 0n ? -sum : sum).toString().padStart(scale + 1, "0");
  return sign + (scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits);
}

const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// cents (BigInt) -> "-$1,234.56" (with unit suffix)
function dollars(cents, unit = "") {
  const abs = cents < 0n ? -cents : cents;
  const frac = (abs % 100n).toString().padStart(2, "0");
  return `${cents < 0n ? "-" : ""}$${group((abs / 100n).toString())}.${frac}${unit}`;
}

// The full figure to the cent: "$51,312,345,678.12". "—" when not a number.
export function formatFull(text) {
  const d = parseDecimal(text);
  return d ? dollars(scaled(d, 2)) : "—";
}

// The compact figure: "$51.31B", "$987.65M", "$12.00"; "—" when not a number.
export function formatCompact(text) {
  const d = parseDecimal(text);
  if (!d) return "—";
  const whole = scaled(d, 0);
  const length = (whole < 0n ? -whole : whole).toString().length;
  let unit = Math.min(UNITS.length - 1, Math.floor((length - 1) / 3));
  let cents = scaled({ n: d.n, scale: d.scale + 3 * unit }, 2);
  // 999.996M rounds to 1000.00M: show it as 1.00B instead.
  if ((cents < 0n ? -cents : cents) >= 100000n && unit < UNITS.length - 1) {
    unit += 1;
    cents = scaled({ n: d.n, scale: d.scale + 3 * unit }, 2);
  }
  return dollars(cents, UNITS[unit]);
}
