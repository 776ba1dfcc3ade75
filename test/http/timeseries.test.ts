// GET /stats/timeseries through real signed webhooks: counts per UTC hour or day of the messages'
// ts instant, zeros included, from since rounded down while a bucket starts before until; a message
// counts when since ≤ instant < until; the default windows; the 10,000-bucket limit; the 422
// answers; reads behind API_TOKEN. Counts are compared with GET /messages totals over the same
// windows. Runs on SQLite and on PostgreSQL.

import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { metaSignature } from '../helpers/sign.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { expectValidationShape, failingLocations, message, postWebhook, useTestApp } from './support.js';

const APP_SECRET = 'meta-app-secret';
const ENV = { WHATSAPP_APP_SECRET: APP_SECRET };
const HOUR = 3_600_000;
const DAY = 86_400_000;
const STEP = { hour: HOUR, day: DAY } as const;
type Bucket = keyof typeof STEP;

interface Timeseries {
  bucket: Bucket;
  data: { start: string; count: number }[];
}

async function timeseries(t: TestApp, search: string): Promise<Timeseries> {
  const res = await t.app.inject({ method: 'GET', url: `/stats/timeseries${search}` });
  if (res.statusCode !== 200) throw new Error(`GET /stats/timeseries${search} answered ${res.statusCode}: ${res.body}`);
  const body = res.json<Timeseries>();
  expect(Object.keys(body).sort()).toEqual(['bucket', 'data']);
  for (const item of body.data) expect(Object.keys(item).sort()).toEqual(['count', 'start']);
  return body;
}

async function expectInvalid(t: TestApp, search: string, ...anyOf: string[]): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url: `/stats/timeseries${search}` });
  expect(res.statusCode, search).toBe(422);
  expectValidationShape(res);
  const locations = failingLocations(res);
  expect(
    locations.some((l) => anyOf.map((p) => `query.${p}`).includes(l)),
    `${search} names one of ${anyOf.join(', ')}: ${locations.join(', ')}`,
  ).toBe(true);
  for (const location of locations) expect(location, search).toMatch(/^query\.[a-z_]+$/);
}

async function store(t: TestApp, id: string, ts: string): Promise<void> {
  const res = await t.postSigned(message({ message_id: id, ts }));
  if (res.statusCode !== 200) throw new Error(`storing ${id} at ${ts} answered ${res.statusCode}: ${res.body}`);
}

/** A WhatsApp message at whole second `ts`. */
async function storeWhatsApp(t: TestApp, id: string, ts: string): Promise<void> {
  const raw = JSON.stringify(
    whatsappEnvelope({
      messages: [{ from: '919876543210', id, timestamp: String(Date.parse(ts) / 1000), type: 'text', text: { body: 'hi' } }],
    }),
  );
  const res = await postWebhook(t, raw, { 'x-hub-signature-256': metaSignature(APP_SECRET, raw) });
  if (res.statusCode !== 200) throw new Error(`storing ${id} answered ${res.statusCode}: ${res.body}`);
}

/** 'YYYY-MM-DDTHH:MM:SSZ' of an instant in milliseconds (years 1970 onwards). */
const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** The bucket starts the contract gives for since/until in milliseconds. */
function layout(bucket: Bucket, since: number, until: number): string[] {
  const starts: string[] = [];
  for (let start = Math.floor(since / STEP[bucket]) * STEP[bucket]; start < until; start += STEP[bucket]) starts.push(iso(start));
  return starts;
}

/** The total of GET /messages over since ≤ instant < until. */
async function messagesTotal(t: TestApp, since: string, until: string): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: `/messages?since=${since}&until=${until}&limit=1` });
  if (res.statusCode !== 200) throw new Error(`GET /messages answered ${res.statusCode}: ${res.body}`);
  return res.json<{ total: number }>().total;
}

/** Later of two timestamps (ms precision is enough for the windows used here). */
const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);
const earlier = (a: string, b: string) => (Date.parse(a) <= Date.parse(b) ? a : b);

/**
 * Messages around 2025-01-15: one before since in since's own hour, one exactly at since, edges of
 * hours with fractions, an empty hour, ties at until (excluded), one a day older, one WhatsApp.
 */
async function seed(t: TestApp): Promise<void> {
  for (const [id, ts] of [
    ['before-since', '2025-01-15T08:10:00Z'],
    ['at-since', '2025-01-15T08:30:00Z'],
    ['after-since', '2025-01-15T08:30:00.001Z'],
    ['h09a', '2025-01-15T09:00:00Z'],
    ['h09b', '2025-01-15T09:59:59.999999Z'],
    ['h09c', '2025-01-15T09:15:00.000Z'],
    ['h11a', '2025-01-15T11:59:59.999Z'],
    ['h12a', '2025-01-15T12:00:00Z'],
    ['h12b', '2025-01-15T12:00:00.4999Z'],
    ['at-until', '2025-01-15T12:00:00.5Z'],
    ['at-until-2', '2025-01-15T12:00:00.50Z'],
    ['after-until', '2025-01-15T12:30:00Z'],
    ['day-older', '2025-01-14T08:45:00Z'],
  ] as const) {
    await store(t, id, ts);
  }
  await storeWhatsApp(t, 'wamid.h11', '2025-01-15T11:00:00Z');
}

describe('GET /stats/timeseries: counts', () => {
  const app = useTestApp(ENV);

  it('counts per hour from since rounded down, zeros included, since inclusive, until exclusive', async () => {
    const t = app();
    await seed(t);
    expect(await timeseries(t, '?bucket=hour&since=2025-01-15T08:30:00Z&until=2025-01-15T12:00:00.5Z')).toEqual({
      bucket: 'hour',
      data: [
        // before-since is in this hour but before since: not counted.
        { start: '2025-01-15T08:00:00Z', count: 2 },
        { start: '2025-01-15T09:00:00Z', count: 3 },
        { start: '2025-01-15T10:00:00Z', count: 0 },
        { start: '2025-01-15T11:00:00Z', count: 2 },
        // at-until (12:00:00.5, written two ways) is not counted.
        { start: '2025-01-15T12:00:00Z', count: 2 },
      ],
    });
    // until on the hour: the bucket that starts at until is not there.
    expect((await timeseries(t, '?bucket=hour&since=2025-01-15T08:00:00Z&until=2025-01-15T12:00:00Z')).data).toEqual([
      { start: '2025-01-15T08:00:00Z', count: 3 },
      { start: '2025-01-15T09:00:00Z', count: 3 },
      { start: '2025-01-15T10:00:00Z', count: 0 },
      { start: '2025-01-15T11:00:00Z', count: 2 },
    ]);
    expect((await timeseries(t, '?bucket=hour&since=2025-01-15T12:00:00.000Z&until=2025-01-15T12:00:00.50001Z')).data).toEqual([
      { start: '2025-01-15T12:00:00Z', count: 4 },
    ]);
  });

  it('counts per day, zeros included, with exact start strings', async () => {
    const t = app();
    await seed(t);
    expect(await timeseries(t, '?bucket=day&since=2025-01-14T00:00:00Z&until=2025-01-17T00:00:00Z')).toEqual({
      bucket: 'day',
      data: [
        { start: '2025-01-14T00:00:00Z', count: 1 },
        { start: '2025-01-15T00:00:00Z', count: 13 },
        { start: '2025-01-16T00:00:00Z', count: 0 },
      ],
    });
    // since rounded down to its day; what lies before since is not counted, nor what lies at or after until.
    expect((await timeseries(t, '?bucket=day&since=2025-01-14T12:00:00Z&until=2025-01-15T12:00:00.5Z')).data).toEqual([
      { start: '2025-01-14T00:00:00Z', count: 0 },
      { start: '2025-01-15T00:00:00Z', count: 10 },
    ]);
  });

  it('agrees with the totals of GET /messages over the same windows', async () => {
    const t = app();
    await seed(t);
    const windows: [Bucket, string, string][] = [
      ['hour', '2025-01-15T08:30:00Z', '2025-01-15T12:00:00.5Z'],
      ['hour', '2025-01-14T08:44:59.999Z', '2025-01-15T13:00:00Z'],
      ['hour', '2025-01-15T09:30:00Z', '2025-01-15T09:59:59.9999999Z'],
      ['hour', '2025-01-15T12:00:00.4999Z', '2025-01-15T12:00:00.5Z'],
      ['day', '2025-01-13T18:00:00Z', '2025-01-16T00:00:00Z'],
      ['day', '2025-01-14T08:45:00Z', '2025-01-15T12:00:00.4999Z'],
    ];
    for (const [bucket, since, until] of windows) {
      const body = await timeseries(t, `?bucket=${bucket}&since=${since}&until=${until}`);
      expect(
        body.data.map((b) => b.start),
        `${bucket} ${since} ${until}`,
      ).toEqual(layout(bucket, Date.parse(since), Date.parse(until)));
      let sum = 0;
      for (const { start, count } of body.data) {
        const end = iso(Date.parse(start) + STEP[bucket]);
        expect(count, `${bucket} ${start}`).toBe(await messagesTotal(t, later(start, since), earlier(end, until)));
        sum += count;
      }
      expect(sum, `${bucket} ${since} ${until}`).toBe(await messagesTotal(t, since, until));
    }
  });

  it('gives zeros for a window without messages, and no bucket when since rounded down is not before until', async () => {
    const t = app();
    await seed(t);
    expect((await timeseries(t, '?bucket=hour&since=2024-06-01T00:00:00Z&until=2024-06-01T03:00:00Z')).data).toEqual([
      { start: '2024-06-01T00:00:00Z', count: 0 },
      { start: '2024-06-01T01:00:00Z', count: 0 },
      { start: '2024-06-01T02:00:00Z', count: 0 },
    ]);
    expect(await timeseries(t, '?bucket=hour&since=2025-01-15T09:00:00Z&until=2025-01-15T09:00:00Z')).toEqual({
      bucket: 'hour',
      data: [],
    });
    expect(await timeseries(t, '?bucket=day&since=2025-01-16T00:00:00Z&until=2025-01-15T00:00:00Z')).toEqual({
      bucket: 'day',
      data: [],
    });
    // until inside since's hour, before since: the hour is there, and nothing in it counts.
    expect((await timeseries(t, '?bucket=hour&since=2025-01-15T08:30:00Z&until=2025-01-15T08:20:00Z')).data).toEqual([
      { start: '2025-01-15T08:00:00Z', count: 0 },
    ]);
  });

  it('counts messages at the first and last years there are', async () => {
    const t = app();
    await store(t, 'first-a', '0001-01-01T00:30:00Z');
    await store(t, 'first-b', '0001-01-01T01:00:00.5Z');
    await store(t, 'last-a', '9999-12-31T23:30:00Z');
    await store(t, 'last-b', '9999-12-31T23:59:59.999Z');
    expect((await timeseries(t, '?bucket=hour&since=0001-01-01T00:00:00Z&until=0001-01-01T03:00:00Z')).data).toEqual([
      { start: '0001-01-01T00:00:00Z', count: 1 },
      { start: '0001-01-01T01:00:00Z', count: 1 },
      { start: '0001-01-01T02:00:00Z', count: 0 },
    ]);
    expect((await timeseries(t, '?bucket=day&since=0001-01-01T00:00:00Z&until=0001-01-03T00:00:00Z')).data).toEqual([
      { start: '0001-01-01T00:00:00Z', count: 2 },
      { start: '0001-01-02T00:00:00Z', count: 0 },
    ]);
    expect((await timeseries(t, '?bucket=hour&since=9999-12-31T22:00:00Z&until=9999-12-31T23:59:59.9999Z')).data).toEqual([
      { start: '9999-12-31T22:00:00Z', count: 0 },
      { start: '9999-12-31T23:00:00Z', count: 2 },
    ]);
    expect((await timeseries(t, '?bucket=day&since=9999-12-30T00:00:00Z&until=9999-12-31T23:59:59.999Z')).data).toEqual([
      { start: '9999-12-30T00:00:00Z', count: 0 },
      { start: '9999-12-31T00:00:00Z', count: 1 },
    ]);
  });
});

describe('GET /stats/timeseries: default windows', () => {
  const app = useTestApp(ENV);

  it('starts 24 hours (hour) or 30 days (day) before a given until', async () => {
    const t = app();
    await store(t, 'in-first-hour-before-since', '2025-01-14T10:15:00Z');
    await store(t, 'at-since', '2025-01-14T10:30:00Z');
    await store(t, 'last', '2025-01-15T10:29:59.999Z');
    await store(t, 'at-until', '2025-01-15T10:30:00Z');
    await store(t, 'month-ago', '2024-12-16T00:00:00Z');
    const hours = await timeseries(t, '?bucket=hour&until=2025-01-15T10:30:00Z');
    expect(hours.data.map((b) => b.start)).toEqual(
      layout('hour', Date.parse('2025-01-14T10:30:00Z'), Date.parse('2025-01-15T10:30:00Z')),
    );
    expect(hours.data).toHaveLength(25);
    expect(hours.data[0]).toEqual({ start: '2025-01-14T10:00:00Z', count: 1 });
    expect(hours.data.at(-1)).toEqual({ start: '2025-01-15T10:00:00Z', count: 1 });
    expect(hours.data.reduce((sum, b) => sum + b.count, 0)).toBe(2);

    const days = await timeseries(t, '?bucket=day&until=2025-01-15T00:00:00Z');
    expect(days.data).toHaveLength(30);
    expect(days.data[0]).toEqual({ start: '2024-12-16T00:00:00Z', count: 1 });
    expect(days.data.at(-1)).toEqual({ start: '2025-01-14T00:00:00Z', count: 2 });

    const days31 = await timeseries(t, '?bucket=day&until=2025-01-15T12:00:00Z');
    expect(days31.data).toHaveLength(31);
    // 2024-12-16T00:00:00Z lies before since (2024-12-16T12:00:00Z): its bucket is there, empty.
    expect(days31.data[0]).toEqual({ start: '2024-12-16T00:00:00Z', count: 0 });
    expect(days31.data.at(-1)).toEqual({ start: '2025-01-15T00:00:00Z', count: 2 });
  });

  it('ends at now: the last bucket holds the present, a message of a minute ago counts, an older one does not', async () => {
    const t = app();
    const recent = Date.now() - 60_000;
    await store(t, 'recent', new Date(recent).toISOString());
    await store(t, 'too-old-for-hours', new Date(recent - 25 * HOUR).toISOString());
    await store(t, 'too-old-for-days', new Date(recent - 31 * DAY).toISOString());
    for (const bucket of ['hour', 'day'] as const) {
      const span = bucket === 'hour' ? 24 * HOUR : 30 * DAY;
      const before = Date.now();
      const body = await timeseries(t, `?bucket=${bucket}`);
      const after = Date.now();
      // The server read its clock at some instant between before and after: the layout is one of those.
      const candidates = [before, after];
      const step = STEP[bucket];
      for (let b = Math.ceil(before / step) * step; b <= after; b += step) candidates.push(b);
      const starts = body.data.map((b) => b.start);
      expect(candidates.map((now) => layout(bucket, now - span, now))).toContainEqual(starts);
      expect([bucket === 'hour' ? 24 : 30, bucket === 'hour' ? 25 : 31]).toContain(starts.length);
      const last = Date.parse(starts.at(-1) ?? '');
      expect(last).toBeLessThanOrEqual(after);
      expect(last + step).toBeGreaterThan(before);
      // The recent message counts in its own bucket; the one of 25 hours ago only in days; the one
      // of 31 days ago in neither.
      const own = (instant: number) => ({ start: iso(Math.floor(instant / step) * step), count: 1 });
      expect(body.data.filter((b) => b.count > 0)).toEqual(
        bucket === 'hour' ? [own(recent)] : [own(recent - 25 * HOUR), own(recent)],
      );
    }
  });
});

describe('GET /stats/timeseries: limits and refusals', () => {
  const app = useTestApp(ENV);

  it('answers 10,000 buckets and refuses 10,001', async () => {
    const t = app();
    await store(t, 'inside', '2020-06-01T12:34:56Z');
    const since = Date.parse('2020-01-01T00:00:00Z');
    for (const bucket of ['hour', 'day'] as const) {
      const until = since + 10_000 * STEP[bucket];
      const body = await timeseries(t, `?bucket=${bucket}&since=${iso(since)}&until=${iso(until)}`);
      expect(body.data).toHaveLength(10_000);
      expect(body.data[0]?.start).toBe(iso(since));
      expect(body.data.at(-1)?.start).toBe(iso(until - STEP[bucket]));
      expect(body.data.reduce((sum, b) => sum + b.count, 0)).toBe(1);
      await expectInvalid(
        t,
        `?bucket=${bucket}&since=${iso(since)}&until=${new Date(until + 1).toISOString()}`,
        'since',
        'until',
      );
      await expectInvalid(t, `?bucket=${bucket}&since=${iso(since)}&until=9999-12-31T00:00:00Z`, 'since', 'until');
    }
    // since rounded down counts: 00:30 starts the first bucket at 00:00.
    const rounded = `?bucket=hour&since=2020-01-01T00:30:00Z&until=${iso(since + 10_000 * HOUR)}`;
    expect((await timeseries(t, rounded)).data).toHaveLength(10_000);
    await expectInvalid(
      t,
      `?bucket=hour&since=2020-01-01T00:30:00Z&until=${iso(since + 10_000 * HOUR + 1000)}`,
      'since',
      'until',
    );
  });

  it('requires bucket, naming it', async () => {
    const t = app();
    await expectInvalid(t, '', 'bucket');
    await expectInvalid(t, '?since=2025-01-15T00:00:00Z&until=2025-01-16T00:00:00Z', 'bucket');
  });

  it('refuses a bucket other than hour or day, naming bucket', async () => {
    const t = app();
    for (const bucket of ['', 'HOUR', 'Day', 'week', 'minute', 'hours', 'hour,day', '%20hour', '1']) {
      await expectInvalid(t, `?bucket=${bucket}`, 'bucket');
    }
  });

  it('refuses a malformed since or until, naming it', async () => {
    const t = app();
    for (const value of [
      'yesterday',
      '2025-01-15',
      '2025-01-15T10:00:00',
      '2025-01-15T10:00:00%2B01:00',
      '2025-02-30T00:00:00Z',
      '',
    ]) {
      await expectInvalid(t, `?bucket=hour&since=${value}`, 'since');
      await expectInvalid(t, `?bucket=day&until=${value}`, 'until');
    }
  });

  it('refuses a repeated parameter, naming it', async () => {
    const t = app();
    await expectInvalid(t, '?bucket=hour&bucket=hour', 'bucket');
    await expectInvalid(t, '?bucket=hour&bucket=day', 'bucket');
    await expectInvalid(t, '?bucket=hour&since=2025-01-15T00:00:00Z&since=2025-01-15T01:00:00Z', 'since');
    await expectInvalid(t, '?bucket=day&until=2025-01-15T00:00:00Z&until=2025-01-15T00:00:00Z', 'until');
  });
});

describe('GET /stats/timeseries with API_TOKEN', () => {
  const app = useTestApp({ ...ENV, API_TOKEN: 'reader-token' });

  it('answers 401 without the token (before any 422), the counts with it', async () => {
    const t = app();
    await store(t, 'a', '2025-01-15T10:00:00Z');
    for (const search of ['?bucket=hour', '', '?bucket=week']) {
      const res = await t.app.inject({ method: 'GET', url: `/stats/timeseries${search}` });
      expect(res.statusCode, search).toBe(401);
      expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer realm=/);
    }
    const ok = await t.app.inject({
      method: 'GET',
      url: '/stats/timeseries?bucket=day&since=2025-01-15T00:00:00Z&until=2025-01-16T00:00:00Z',
      headers: { authorization: 'Bearer reader-token' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ bucket: 'day', data: [{ start: '2025-01-15T00:00:00Z', count: 1 }] });
  });
});

describe('GET /stats/timeseries without API_TOKEN', () => {
  const app = useTestApp(ENV);

  it('is open to anyone', async () => {
    const t = app();
    await store(t, 'a', '2025-01-15T10:00:00Z');
    expect(await timeseries(t, '?bucket=hour&since=2025-01-15T10:00:00Z&until=2025-01-15T11:00:00Z')).toEqual({
      bucket: 'hour',
      data: [{ start: '2025-01-15T10:00:00Z', count: 1 }],
    });
  });
});
