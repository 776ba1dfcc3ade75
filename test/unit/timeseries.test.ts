// bucketCounts: hour counts (from hour_counts and from the rows of a window's edge hours) added up
// into the buckets of GET /stats/timeseries: only buckets that hold messages, oldest first, named
// 'YYYY-MM-DDTHH' for hours and 'YYYY-MM-DD' for days.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimeseriesQuery } from '../../src/http/timeseries.js';
import { bucketCounts } from '../../src/store/timeseries.js';

describe('bucketCounts', () => {
  it('gives no buckets for no hours', () => {
    expect(bucketCounts('hour', [])).toEqual([]);
    expect(bucketCounts('day', [])).toEqual([]);
  });

  it('gives hours as they are, oldest first, repeats added up', () => {
    const hours = [
      { hour: '2025-01-15T11', count: 2 },
      { hour: '2025-01-14T23', count: 1 },
      { hour: '2025-01-15T10', count: 3 },
      { hour: '2025-01-15T11', count: 4 },
    ];
    expect(bucketCounts('hour', hours)).toEqual([
      { bucket: '2025-01-14T23', count: 1 },
      { bucket: '2025-01-15T10', count: 3 },
      { bucket: '2025-01-15T11', count: 6 },
    ]);
  });

  it('adds the hours of each UTC day into its day', () => {
    const hours = [
      { hour: '2025-01-15T23', count: 1 },
      { hour: '2025-01-16T00', count: 2 },
      { hour: '2025-01-15T00', count: 5 },
      { hour: '2024-12-31T23', count: 7 },
      { hour: '2025-01-16T00', count: 1 },
    ];
    expect(bucketCounts('day', hours)).toEqual([
      { bucket: '2024-12-31', count: 7 },
      { bucket: '2025-01-15', count: 6 },
      { bucket: '2025-01-16', count: 3 },
    ]);
  });

  it('leaves out buckets without messages', () => {
    const hours = [
      { hour: '2025-01-15T10', count: 0 },
      { hour: '2025-01-15T11', count: 1 },
      { hour: '2025-01-16T00', count: 0 },
    ];
    expect(bucketCounts('hour', hours)).toEqual([{ bucket: '2025-01-15T11', count: 1 }]);
    expect(bucketCounts('day', hours)).toEqual([{ bucket: '2025-01-15', count: 1 }]);
  });

  it('takes any iterable, such as a generator of rows', () => {
    function* rows() {
      yield { hour: '2025-01-15T10', count: 1 };
      yield { hour: '2025-01-15T10', count: 1 };
    }
    expect(bucketCounts('hour', rows())).toEqual([{ bucket: '2025-01-15T10', count: 2 }]);
  });
});

const hourKey = fc
  .tuple(fc.integer({ min: 0, max: 24 * 5 - 1 }), fc.constantFrom(2024, 2025))
  .map(([hours, year]) => new Date(Date.UTC(year, 11, 30, hours)).toISOString().slice(0, 13));

describe('bucketCounts on random hours', () => {
  const rows = fc.array(fc.record({ hour: hourKey, count: fc.integer({ min: 0, max: 50 }) }), { maxLength: 60 });

  it.each(['hour', 'day'] as const)('matches a plain grouping (%s)', (bucket) => {
    fc.assert(
      fc.property(rows, (hours) => {
        const length = bucket === 'hour' ? 13 : 10;
        const expected = new Map<string, number>();
        for (const { hour, count } of hours) {
          const key = hour.slice(0, length);
          expected.set(key, (expected.get(key) ?? 0) + count);
        }
        const answer = bucketCounts(bucket, hours);
        expect(Object.fromEntries(answer.map((b) => [b.bucket, b.count]))).toEqual(
          Object.fromEntries([...expected].filter(([, n]) => n > 0)),
        );
        // Oldest first, each bucket once, none empty, each named at its width.
        const names = answer.map((b) => b.bucket);
        expect(names).toEqual([...new Set(names)].sort());
        expect(answer.every((b) => b.count > 0 && b.bucket.length === length)).toBe(true);
        expect(answer.reduce((sum, b) => sum + b.count, 0)).toBe(hours.reduce((sum, h) => sum + h.count, 0));
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseTimeseriesQuery lays out the buckets', () => {
  /** Every bucket start from since's bucket while it is before until, each written by Date itself. */
  function reference(bucket: 'hour' | 'day', since: number, until: number): string[] {
    const size = bucket === 'hour' ? 3_600_000 : 86_400_000;
    const starts: string[] = [];
    for (let at = Math.floor(since / size) * size; at < until; at += size) {
      const date = new Date(at);
      if (date.getUTCFullYear() > 9999) break;
      starts.push(date.toISOString().slice(0, 19));
    }
    return starts;
  }
  const text = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;
  const FIRST = Date.parse('0001-01-01T00:00:00Z');
  const LAST = Date.parse('9999-12-31T23:59:59Z');

  it('as Date writes them, across days, months, leap days, years and the ends of the range', () => {
    const instant = fc.oneof(
      fc.integer({ min: Date.UTC(2023, 11, 25), max: Date.UTC(2024, 2, 5) }),
      fc.integer({ min: FIRST, max: FIRST + 40 * 86_400_000 }),
      fc.integer({ min: LAST - 40 * 86_400_000, max: LAST }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('hour' as const, 'day' as const),
        instant,
        fc.integer({ min: 1, max: 900 * 3_600_000 }),
        (bucket, since, span) => {
          const sinceMs = Math.floor(since / 1000) * 1000;
          const untilMs = Math.min(sinceMs + Math.ceil(span / 1000) * 1000, LAST);
          if (untilMs <= sinceMs) return;
          const parsed = parseTimeseriesQuery({ bucket, since: text(sinceMs), until: text(untilMs) }, new Date());
          expect(parsed.ok).toBe(true);
          if (parsed.ok) expect(parsed.value.starts).toEqual(reference(bucket, sinceMs, untilMs));
        },
      ),
      { numRuns: 300 },
    );
  });
});
