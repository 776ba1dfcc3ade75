// countPlan: which aggregate answers a listing's total, for both stores. Each filter shape gets its
// plan, and the split a time window makes (whole hours from hour_counts, plus the rows of its edge
// hours) counts every instant key inside [since, until) exactly once and no key outside it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import { countPlan, type HourWindow, hourEnd, hourKey, hourWindow } from '../../src/store/count-plan.js';
import type { MessageFilter } from '../../src/store/store.js';

const FROM = '+14155550100';
const TO = '+919876543210';
const TYPE = 'image';
const SINCE = '2025-01-15T10:30:00.5';
const UNTIL = '2025-01-15T13:00:00';

function key(ts: string): string {
  const k = instantKey(ts);
  if (k === null) throw new Error(`test bug: ${ts} is not a valid timestamp`);
  return k;
}

describe('countPlan picks the aggregate', () => {
  it.each<[string, MessageFilter, ReturnType<typeof countPlan>]>([
    ['no filter: the totals row', {}, { kind: 'total' }],
    ['only from: its sender count', { from: FROM }, { kind: 'sender', from: FROM }],
    ['only to: its recipient count', { to: TO }, { kind: 'recipient', to: TO }],
    ['only type: its type count', { type: TYPE }, { kind: 'type', type: TYPE }],
    ['from and to: their conversation', { from: FROM, to: TO }, { kind: 'conversation', from: FROM, to: TO }],
    ['only since: the window from since on', { sinceKey: SINCE }, { kind: 'window', window: hourWindow(SINCE, undefined) }],
    ['only until: the window up to until', { untilKey: UNTIL }, { kind: 'window', window: hourWindow(undefined, UNTIL) }],
    [
      'since and until: the window between',
      { sinceKey: SINCE, untilKey: UNTIL },
      { kind: 'window', window: hourWindow(SINCE, UNTIL) },
    ],
    ['from and since: a scan', { from: FROM, sinceKey: SINCE }, { kind: 'scan' }],
    ['to and until: a scan', { to: TO, untilKey: UNTIL }, { kind: 'scan' }],
    ['type and since: a scan', { type: TYPE, sinceKey: SINCE }, { kind: 'scan' }],
    ['from and type: a scan', { from: FROM, type: TYPE }, { kind: 'scan' }],
    ['to and type: a scan', { to: TO, type: TYPE }, { kind: 'scan' }],
    ['from, to and type: a scan', { from: FROM, to: TO, type: TYPE }, { kind: 'scan' }],
    ['from, to and since: a scan', { from: FROM, to: TO, sinceKey: SINCE }, { kind: 'scan' }],
    ['only q: a scan', { q: 'hello' }, { kind: 'scan' }],
    ['from and q: a scan', { from: FROM, q: 'hello' }, { kind: 'scan' }],
    ['from, to and q: a scan', { from: FROM, to: TO, q: 'hello' }, { kind: 'scan' }],
    ['since and q: a scan', { sinceKey: SINCE, q: 'hello' }, { kind: 'scan' }],
    ['every filter: a scan', { from: FROM, to: TO, type: TYPE, sinceKey: SINCE, untilKey: UNTIL, q: 'hello' }, { kind: 'scan' }],
  ])('%s', (_name, filter, plan) => {
    expect(countPlan(filter)).toEqual(plan);
  });

  it('names the hour as the writers key hour_counts', () => {
    expect(hourKey('2025-01-15T10:30:00.5')).toBe('2025-01-15T10');
    expect(hourKey('2025-01-15T23:59:59.999999')).toBe('2025-01-15T23');
    expect(hourKey('2025-01-15T00:00:00')).toBe('2025-01-15T00');
  });

  it('puts the end of an hour after every key of that hour and before the next hour', () => {
    const end = hourEnd('2025-01-15T10');
    for (const inside of ['2025-01-15T10', '2025-01-15T10:00:00', '2025-01-15T10:59:59.999999999']) {
      expect(inside < end, inside).toBe(true);
    }
    expect(end < '2025-01-15T11').toBe(true);
    expect(end < '2025-01-15T11:00:00').toBe(true);
  });
});

describe('hourWindow splits a window', () => {
  it('is empty when since is at or after until', () => {
    expect(hourWindow(SINCE, SINCE)).toEqual({ empty: true });
    expect(hourWindow(UNTIL, SINCE)).toEqual({ empty: true });
    expect(hourWindow('2025-01-15T10:00:00.5', '2025-01-15T10:00:00.05')).toEqual({ empty: true });
  });

  it('counts a window inside one hour from its rows only', () => {
    expect(hourWindow('2025-01-15T10:00:00', '2025-01-15T10:59:59.9')).toEqual({
      empty: false,
      hours: null,
      ranges: [{ fromKey: '2025-01-15T10:00:00', toKey: '2025-01-15T10:59:59.9' }],
    });
  });

  it('takes the whole hours between the edge hours and the rows of the edges', () => {
    expect(hourWindow(SINCE, UNTIL)).toEqual({
      empty: false,
      hours: { afterHour: '2025-01-15T10', beforeHour: '2025-01-15T13' },
      ranges: [
        { fromKey: SINCE, toKey: '2025-01-15T10;' },
        { fromKey: '2025-01-15T13', toKey: UNTIL },
      ],
    });
  });

  it('leaves an open side open', () => {
    expect(hourWindow(undefined, undefined)).toEqual({ empty: false, hours: {}, ranges: [] });
    expect(hourWindow(SINCE, undefined)).toEqual({
      empty: false,
      hours: { afterHour: '2025-01-15T10' },
      ranges: [{ fromKey: SINCE, toKey: '2025-01-15T10;' }],
    });
    expect(hourWindow(undefined, UNTIL)).toEqual({
      empty: false,
      hours: { beforeHour: '2025-01-15T13' },
      ranges: [{ fromKey: '2025-01-15T13', toKey: UNTIL }],
    });
  });
});

/**
 * Instant keys within a few hours of one another (across midnight), so that many pairs share an
 * hour, and often exactly on an hour, a minute or a second, or on the same instant spelled with
 * trailing zeros.
 */
const nearbyKey = fc
  .tuple(
    fc.integer({ min: 0, max: 5 }),
    fc.oneof(fc.constant(0), fc.constant(59), fc.integer({ min: 0, max: 59 })),
    fc.oneof(fc.constant(0), fc.constant(59), fc.integer({ min: 0, max: 59 })),
    fc.constantFrom('', '', '.0', '.000', '.5', '.50', '.05', '.999999', '.000001', '.123456789'),
  )
  .map(([hours, minutes, seconds, fraction]) => {
    const iso = new Date(Date.UTC(2025, 0, 15, 21 + hours, minutes, seconds)).toISOString();
    return key(`${iso.slice(0, 19)}${fraction}Z`);
  });

/** How many times a window's plan counts `k`: in one of its whole hours, or in one of its ranges. */
function timesCounted(window: HourWindow, k: string): number {
  if (window.empty) return 0;
  let times = 0;
  const hours = window.hours;
  if (hours !== null) {
    const hour = hourKey(k);
    const afterOk = hours.afterHour === undefined || hour > hours.afterHour;
    const beforeOk = hours.beforeHour === undefined || hour < hours.beforeHour;
    if (afterOk && beforeOk) times++;
  }
  for (const range of window.ranges) if (k >= range.fromKey && k < range.toKey) times++;
  return times;
}

function inWindow(k: string, since: string | undefined, until: string | undefined): boolean {
  return (since === undefined || k >= since) && (until === undefined || k < until);
}

describe('a window plan counts exactly the keys in [since, until)', () => {
  const bound = fc.option(nearbyKey, { nil: undefined });

  it('once each inside, never outside', () => {
    fc.assert(
      fc.property(bound, bound, nearbyKey, (since, until, k) => {
        const window = hourWindow(since, until);
        expect(timesCounted(window, k)).toBe(inWindow(k, since, until) ? 1 : 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps each range inside one edge hour, and the whole hours off the edge hours', () => {
    fc.assert(
      fc.property(bound, bound, (since, until) => {
        const window = hourWindow(since, until);
        if (window.empty) {
          expect(since !== undefined && until !== undefined && since >= until).toBe(true);
          return;
        }
        for (const range of window.ranges) {
          expect(hourKey(range.fromKey)).toBe(hourKey(range.toKey));
          expect([since, until].map((b) => (b === undefined ? undefined : hourKey(b)))).toContain(hourKey(range.fromKey));
        }
        const oneHour = since !== undefined && until !== undefined && hourKey(since) === hourKey(until);
        expect(window.hours === null).toBe(oneHour);
        if (window.hours?.afterHour !== undefined) expect(window.hours.afterHour).toBe(since && hourKey(since));
        if (window.hours?.beforeHour !== undefined) expect(window.hours.beforeHour).toBe(until && hourKey(until));
      }),
    );
  });

  it('adds up, from hour counts and edge rows, to the count of the keys in the window', () => {
    fc.assert(
      fc.property(fc.array(nearbyKey, { maxLength: 60 }), bound, bound, (keys, since, until) => {
        const hourCounts = new Map<string, number>();
        for (const k of keys) hourCounts.set(hourKey(k), (hourCounts.get(hourKey(k)) ?? 0) + 1);
        const plan = countPlan({
          ...(since !== undefined ? { sinceKey: since } : {}),
          ...(until !== undefined ? { untilKey: until } : {}),
        });
        let counted: number;
        if (plan.kind === 'total') counted = keys.length;
        else if (plan.kind === 'window') {
          const window = plan.window;
          if (window.empty) counted = 0;
          else {
            counted = 0;
            const hours = window.hours;
            if (hours !== null) {
              for (const [hour, count] of hourCounts) {
                if (
                  (hours.afterHour === undefined || hour > hours.afterHour) &&
                  (hours.beforeHour === undefined || hour < hours.beforeHour)
                ) {
                  counted += count;
                }
              }
            }
            for (const range of window.ranges) counted += keys.filter((k) => k >= range.fromKey && k < range.toKey).length;
          }
        } else throw new Error(`expected a total or window plan, got ${plan.kind}`);
        expect(counted).toBe(keys.filter((k) => inWindow(k, since, until)).length);
      }),
      { numRuns: 500 },
    );
  });
});
