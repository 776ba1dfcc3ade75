// Counts over time for GET /stats/timeseries, shared by both stores: which rows a window reads
// (hourWindow: whole hours from hour_counts, the edge hours from the messages), and how hour counts
// add up into hour or day buckets. Pure.

import type { Bucket, BucketCount } from './store.js';

/** The characters of an hour key ('YYYY-MM-DDTHH') that name its bucket. */
const BUCKET_KEY_LENGTH: Record<Bucket, number> = { hour: 13, day: 10 };

/** Adds counts per hour ('YYYY-MM-DDTHH', in any order, repeats allowed) into buckets that hold messages, oldest first. */
export function bucketCounts(bucket: Bucket, hours: Iterable<{ readonly hour: string; readonly count: number }>): BucketCount[] {
  const totals = new Map<string, number>();
  for (const { hour, count } of hours) {
    if (count === 0) continue;
    const key = hour.slice(0, BUCKET_KEY_LENGTH[bucket]);
    totals.set(key, (totals.get(key) ?? 0) + count);
  }
  return [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, count]) => ({ bucket: key, count }));
}
