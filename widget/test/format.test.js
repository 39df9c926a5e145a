import assert from "node:assert/strict";
import { test } from "node:test";
import { addDecimals, formatCompact, formatFull, parseDecimal } from "../src/format.js";

test("compact figures round half up within the unit", () => {
  assert.equal(formatCompact("51312345678.123"), "$51.31B");
  assert.equal(formatCompact("51315000000"), "$51.32B");
  assert.equal(formatCompact("987654321"), "$987.65M");
  assert.equal(formatCompact("1234"), "$1.23K");
  assert.equal(formatCompact("12.345"), "$12.35");
  assert.equal(formatCompact("0"), "$0.00");
  assert.equal(formatCompact("0.004"), "$0.00");
  assert.equal(formatCompact("2500000000000"), "$2.50T");
  assert.equal(formatCompact("123456789012345678"), "$123,456.79T");
});

test("compact figures that round up to the next unit move to it", () => {
  assert.equal(formatCompact("999995000"), "$1.00B");
  assert.equal(formatCompact("999994999.99"), "$999.99M");
  assert.equal(formatCompact("999.995"), "$1.00K");
});

test("full figures are exact to the cent, with thousands separators", () => {
  assert.equal(formatFull("51312345678.125"), "$51,312,345,678.13");
  assert.equal(formatFull("51312345678.124999999999"), "$51,312,345,678.12");
  // beyond what a float holds exactly
  assert.equal(formatFull("9007199254740993.49"), "$9,007,199,254,740,993.49");
  assert.equal(formatFull("0.005"), "$0.01");
  assert.equal(formatFull("100"), "$100.00");
  assert.equal(formatFull("-1234.5"), "-$1,234.50");
  assert.equal(formatFull("1.5E+10"), "$15,000,000,000.00");
  assert.equal(formatFull("1234E-2"), "$12.34");
});

test("what is not a decimal string shows a dash", () => {
  for (const bad of [null, undefined, "", ".", "abc", "1.2.3", "NaN", "Infinity"]) {
    assert.equal(formatCompact(bad), "—", String(bad));
    assert.equal(formatFull(bad), "—", String(bad));
    assert.equal(parseDecimal(bad), null);
  }
});

test("decimal strings add up exactly", () => {
  assert.equal(addDecimals(["0.1", "0.2"]), "0.3");
  assert.equal(addDecimals(["20000000000.5", "1312345677.625"]), "21312345678.125");
  assert.equal(addDecimals(["1E+2", "0.05"]), "100.05");
  assert.equal(addDecimals(["9007199254740993", "1"]), "9007199254740994");
  assert.equal(addDecimals(["0.01", "-0.02"]), "-0.01");
  assert.equal(addDecimals([null, "5"]), "5");
  assert.equal(addDecimals([]), "0");
});
