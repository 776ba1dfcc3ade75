// instantKey (the contract step 3 `ts`, A.3 order): which texts name a real UTC instant, and that
// the keys sort chronologically as plain strings.

import { describe, expect, it } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import { seededRandom } from '../helpers/random.js';

describe('instantKey accepts', () => {
  it.each([
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5'],
    ['2025-01-15T10:00:00.500Z', '2025-01-15T10:00:00.5'],
    ['2025-01-15T10:00:00.05Z', '2025-01-15T10:00:00.05'],
    ['2025-01-15T10:00:00.0Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.000Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.1Z', '2025-01-15T10:00:00.1'],
    ['2025-01-15T10:00:00.123456Z', '2025-01-15T10:00:00.123456'],
    ['2025-01-15T10:00:00.123456789Z', '2025-01-15T10:00:00.123456789'],
    ['2025-01-15T10:00:00.000000000000000000001Z', '2025-01-15T10:00:00.000000000000000000001'],
    [`2025-01-15T10:00:00.${'9'.repeat(64)}Z`, `2025-01-15T10:00:00.${'9'.repeat(64)}`],
    [`2025-01-15T10:00:00.5${'0'.repeat(63)}Z`, '2025-01-15T10:00:00.5'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00'],
    ['2023-02-28T23:59:59Z', '2023-02-28T23:59:59'],
    ['2025-04-30T00:00:00Z', '2025-04-30T00:00:00'],
    ['2025-11-30T00:00:00Z', '2025-11-30T00:00:00'],
    ['2025-07-31T00:00:00Z', '2025-07-31T00:00:00'],
    ['2025-08-31T00:00:00Z', '2025-08-31T00:00:00'],
    ['2025-12-31T23:59:59.999Z', '2025-12-31T23:59:59.999'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00'],
    ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59'],
  ])('%s (key %s)', (text, key) => {
    expect(instantKey(text)).toBe(key);
  });
});

describe('instantKey rejects', () => {
  it.each([
    ['Feb 29 in 2023 (not a leap year)', '2023-02-29T00:00:00Z'],
    ['Feb 29 in 1900 (divisible by 100, not 400)', '1900-02-29T00:00:00Z'],
    ['Feb 30', '2024-02-30T00:00:00Z'],
    ['Apr 31', '2025-04-31T00:00:00Z'],
    ['Jun 31', '2025-06-31T00:00:00Z'],
    ['Sep 31', '2025-09-31T00:00:00Z'],
    ['Nov 31', '2025-11-31T00:00:00Z'],
    ['Jan 32', '2025-01-32T00:00:00Z'],
    ['month 13', '2025-13-01T00:00:00Z'],
    ['month 00', '2025-00-01T00:00:00Z'],
    ['day 00', '2025-01-00T00:00:00Z'],
    ['hour 24', '2025-01-15T24:00:00Z'],
    ['minute 60', '2025-01-15T10:60:00Z'],
    ['second 60 (leap second)', '2025-06-30T23:59:60Z'],
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['offset +00:00', '2025-01-15T10:00:00+00:00'],
    ['offset +05:30', '2025-01-15T10:00:00+05:30'],
    ['offset -08:00', '2025-01-15T10:00:00-08:00'],
    ['Z and an offset', '2025-01-15T10:00:00Z+00:00'],
    ['lowercase z', '2025-01-15T10:00:00z'],
    ['lowercase t', '2025-01-15t10:00:00Z'],
    ['missing Z', '2025-01-15T10:00:00'],
    ['missing Z with a fraction', '2025-01-15T10:00:00.5'],
    ['space separator', '2025-01-15 10:00:00Z'],
    ['date only', '2025-01-15'],
    ['date only with Z', '2025-01-15Z'],
    ['no seconds', '2025-01-15T10:00Z'],
    ['leading whitespace', ' 2025-01-15T10:00:00Z'],
    ['trailing whitespace', '2025-01-15T10:00:00Z '],
    ['trailing newline', '2025-01-15T10:00:00Z\n'],
    ['leading newline', '\n2025-01-15T10:00:00Z'],
    ['empty fraction', '2025-01-15T10:00:00.Z'],
    ['a fraction of 65 digits', `2025-01-15T10:00:00.${'1'.repeat(65)}Z`],
    ['a fraction of 65 digits, all but one zero', `2025-01-15T10:00:00.5${'0'.repeat(64)}Z`],
    ['comma fraction', '2025-01-15T10:00:00,5Z'],
    ['one-digit month', '2025-1-15T10:00:00Z'],
    ['five-digit year', '12025-01-15T10:00:00Z'],
    ['signed year', '+2025-01-15T10:00:00Z'],
    ['basic format without separators', '20250115T100000Z'],
    ['Arabic-Indic digits', '٢٠٢٥-٠١-١٥T١٠:٠٠:٠٠Z'],
    ['fullwidth digits', '２０２５-01-15T10:00:00Z'],
    ['empty string', ''],
    ['epoch seconds', '1736935200'],
  ])('%s: %j', (_name, text) => {
    expect(instantKey(text)).toBeNull();
  });
});

/** Asserts that the keys of `texts`, given in chronological order, are strictly increasing as plain strings. */
function expectIncreasing(texts: readonly string[]): void {
  const keys = texts.map((t) => instantKey(t));
  for (let i = 1; i < keys.length; i++) {
    const before = keys[i - 1];
    const after = keys[i];
    if (typeof before !== 'string' || typeof after !== 'string') throw new Error(`not a valid timestamp: ${texts[i]}`);
    expect(before < after, `${texts[i - 1]} < ${texts[i]}`).toBe(true);
  }
}

describe('instantKey order', () => {
  it.each([
    [['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.05Z', '2025-01-15T10:00:00.5Z']],
    [['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.000001Z', '2025-01-15T10:00:00.001Z', '2025-01-15T10:00:00.01Z']],
    [['2025-01-15T10:00:00.999999Z', '2025-01-15T10:00:01Z', '2025-01-15T10:00:01.1Z']],
    [['2025-01-15T09:59:59.999Z', '2025-01-15T10:00:00Z']],
    [['2024-12-31T23:59:59.9Z', '2025-01-01T00:00:00Z']],
    [['0999-12-31T23:59:59Z', '1000-01-01T00:00:00Z', '9999-01-01T00:00:00Z']],
    [['2025-01-15T10:00:00.09Z', '2025-01-15T10:00:00.1Z', '2025-01-15T10:00:00.10001Z']],
  ])('%j is chronological as plain strings', (texts) => {
    expectIncreasing(texts);
  });

  it.each([
    ['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.500Z'],
    ['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5000000000Z'],
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.0Z'],
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.000000Z'],
    ['2025-01-15T10:00:00.05Z', '2025-01-15T10:00:00.050Z'],
  ])('%s and %s name the same instant and give equal keys', (a, b) => {
    const keyA = instantKey(a);
    expect(keyA).not.toBeNull();
    expect(instantKey(b)).toBe(keyA);
  });
});

const MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** One of the equivalent spellings of the millisecond instant `ms`. */
function spell(ms: number, random: () => number): string {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ for years 0001..9999
  const whole = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  const style = Math.floor(random() * 4);
  if (style === 0) return iso;
  if (style === 1) return `${whole}.${millis}000Z`; // microsecond-style padding
  const trimmed = millis.replace(/0+$/, '');
  if (style === 2) return trimmed === '' ? `${whole}Z` : `${whole}.${trimmed}Z`;
  return `${whole}.${millis}${'0'.repeat(1 + Math.floor(random() * 9))}Z`;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyOf(text: string): string {
  const key = instantKey(text);
  if (key === null) throw new Error(`instantKey rejected a valid instant: ${text}`);
  return key;
}

describe('instantKey order, randomized against Date.parse', () => {
  it.each([1, 2, 3, 20250115])('seed %d: key order equals Date.parse order for random millisecond instants', (seed) => {
    const random = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const a = MIN_MS + Math.floor(random() * (MAX_MS - MIN_MS + 1));
      // Half the pairs are close together (same second or neighbouring ones), where fractions decide.
      const b =
        random() < 0.5
          ? Math.min(MAX_MS, Math.max(MIN_MS, a + Math.floor(random() * 2001) - 1000))
          : MIN_MS + Math.floor(random() * (MAX_MS - MIN_MS + 1));
      const textA = spell(a, random);
      const textB = spell(b, random);
      expect(Date.parse(new Date(a).toISOString())).toBe(a);
      const expected = sign(Date.parse(new Date(a).toISOString()) - Date.parse(new Date(b).toISOString()));
      expect(sign(compareStrings(keyOf(textA), keyOf(textB))), `${textA} vs ${textB}`).toBe(expected);
    }
  });

  it('sorting random spellings by key sorts them chronologically', () => {
    const random = seededRandom(42);
    const instants = Array.from({ length: 500 }, () => MIN_MS + Math.floor(random() * (MAX_MS - MIN_MS + 1)));
    const texts = instants.map((ms) => spell(ms, random));
    const byKey = [...texts].sort((x, y) => compareStrings(keyOf(x), keyOf(y)));
    const byTime = [...texts].sort((x, y) => Date.parse(x) - Date.parse(y));
    expect(byKey.map((t) => Date.parse(t))).toEqual(byTime.map((t) => Date.parse(t)));
  });
});
