// countPlan: which aggregate answers a listing's total, for both stores. Each filter shape gets its
// plan, and the split a `since` plan makes (whole hours after, plus the rows of its own hour)
// counts exactly the keys at or after `since`.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import { countPlan, hourKey } from '../../src/store/count-plan.js';
import type { MessageFilter } from '../../src/store/store.js';

const FROM = '+14155550100';
const SINCE = '2025-01-15T10:30:00.5';

describe('countPlan picks the aggregate', () => {
  it.each<[string, MessageFilter, ReturnType<typeof countPlan>]>([
    ['no filter: the totals row', {}, { kind: 'total' }],
    ['only from: its sender count', { from: FROM }, { kind: 'sender', from: FROM }],
    [
      'only since: the hours after, plus its own hour from since on',
      { sinceKey: SINCE },
      { kind: 'since', sinceKey: SINCE, hour: '2025-01-15T10', hourEnd: '2025-01-15T10;' },
    ],
    ['from and since: a scan', { from: FROM, sinceKey: SINCE }, { kind: 'scan' }],
    ['only q: a scan', { q: 'hello' }, { kind: 'scan' }],
    ['from and q: a scan', { from: FROM, q: 'hello' }, { kind: 'scan' }],
    ['since and q: a scan', { sinceKey: SINCE, q: 'hello' }, { kind: 'scan' }],
    ['every filter: a scan', { from: FROM, sinceKey: SINCE, q: 'hello' }, { kind: 'scan' }],
  ])('%s', (_name, filter, plan) => {
    expect(countPlan(filter)).toEqual(plan);
  });

  it('names the hour as the writers key hour_counts', () => {
    expect(hourKey('2025-01-15T10:30:00.5')).toBe('2025-01-15T10');
    expect(hourKey('2025-01-15T23:59:59.999999')).toBe('2025-01-15T23');
  });
});

/** Instant keys within a few hours of one another, so that many pairs share an hour. */
const nearbyKey = fc
  .tuple(fc.integer({ min: 0, max: 4 * 3_600_000 - 1 }), fc.integer({ min: 0, max: 999 }))
  .map(([ms, micros]) => {
    const iso = new Date(Date.UTC(2025, 0, 15, 8) + ms).toISOString();
    return instantKey(`${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`) ?? '';
  });

describe('a since plan counts the keys at or after since', () => {
  it('once each: in a later whole hour, or in since’s hour from since on', () => {
    fc.assert(
      fc.property(nearbyKey, nearbyKey, (since, key) => {
        const plan = countPlan({ sinceKey: since });
        if (plan.kind !== 'since') throw new Error(`expected a since plan, got ${plan.kind}`);
        const inLaterHour = hourKey(key) > plan.hour;
        const inItsHour = key >= plan.sinceKey && key < plan.hourEnd;
        expect(inLaterHour && inItsHour).toBe(false);
        expect(inLaterHour || inItsHour).toBe(key >= since);
      }),
    );
  });
});
