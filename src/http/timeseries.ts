// GET /stats/timeseries: messages per UTC hour or day of their instant, zeros included, from the
// hourly counts the store keeps in the transaction that inserts each message.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { instantKey } from '../ingest/timestamp.js';
import type { Bucket } from '../store/store.js';
import type { ReadRoutesOptions } from './auth.js';
import { ValidationFailed } from './errors.js';
import { READ_SECURITY } from './openapi.js';
import { enumParam, instantParam, type Query } from './query.js';
import { StringEnum, unauthorizedRead, unavailable, validationError } from './schemas.js';

export const MAX_BUCKETS = 10_000;
const BUCKETS: readonly Bucket[] = ['hour', 'day'];
const BUCKET_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };
/** 'THH:00:00' for each hour of a day, by its number. */
const HOUR_SUFFIXES = Array.from({ length: 24 }, (_v, h) => `T${String(h).padStart(2, '0')}:00:00`);
/** How far `since` lies before `until` when it is not given. */
const DEFAULT_SPAN_MS: Record<Bucket, number> = { hour: 24 * 3_600_000, day: 30 * 86_400_000 };
/** The characters of an instant key that a bucket keeps: 'YYYY-MM-DDTHH' or 'YYYY-MM-DD'. */
const BUCKET_KEY_LENGTH: Record<Bucket, number> = { hour: 13, day: 10 };
const FIRST_INSTANT = '0001-01-01T00:00:00';

/**
 * The instant 'YYYY-MM-DDTHH:MM:SS' of a key (its fraction left aside) as a Date. Built field by
 * field: Date.UTC would read the years 0 to 99 as 1900 to 1999.
 */
function dateOf(key: string): Date {
  const date = new Date(0);
  date.setUTCFullYear(Number(key.slice(0, 4)), Number(key.slice(5, 7)) - 1, Number(key.slice(8, 10)));
  date.setUTCHours(Number(key.slice(11, 13)), Number(key.slice(14, 16)), Number(key.slice(17, 19)), 0);
  return date;
}

/** 'YYYY-MM-DDTHH:MM:SS' of a Date in the years 1 to 9999; null outside them. */
function keyOf(date: Date): string | null {
  const year = date.getUTCFullYear();
  return year < 1 || year > 9999 ? null : date.toISOString().slice(0, 19);
}

/** A key moved back by whole milliseconds (a multiple of a second), its fraction kept; the first instant at the least. */
function earlier(key: string, ms: number): string {
  const moved = keyOf(new Date(dateOf(key).getTime() - ms));
  return moved === null ? FIRST_INSTANT : `${moved}${key.slice(19)}`;
}

export interface TimeseriesWindow {
  readonly bucket: Bucket;
  readonly sinceKey: string;
  readonly untilKey: string;
  /** The start key ('YYYY-MM-DDTHH:MM:SS') of every bucket, oldest first. */
  readonly starts: string[];
}

/**
 * Validates the query string of GET /timeseries and lays out its buckets: from `since` rounded down
 * to its bucket, while a bucket starts before `until`. `now` is the default `until`. Pure.
 */
export function parseTimeseriesQuery(query: Query, now: Date): Parsed<TimeseriesWindow> {
  const issues: ValidationIssue[] = [];
  const bucket = enumParam(query, 'bucket', BUCKETS, issues);
  if (bucket === undefined && !Object.hasOwn(query, 'bucket')) {
    issues.push({ loc: ['query', 'bucket'], type: 'missing', msg: "Field required: 'hour' or 'day'" });
  }
  const since = instantParam(query, 'since', issues);
  const until = instantParam(query, 'until', issues);
  if (issues.length > 0 || bucket === undefined) return { ok: false, issues };

  const untilKey = until ?? instantKey(now.toISOString()) ?? FIRST_INSTANT;
  const sinceKey = since ?? earlier(untilKey, DEFAULT_SPAN_MS[bucket]);
  const length = BUCKET_KEY_LENGTH[bucket];
  const first = `${sinceKey.slice(0, length)}${FIRST_INSTANT.slice(length)}`;
  const starts: string[] = [];
  // The next start from the previous one's time, not its text: parsing each key again cost more
  // than the rest of the request at 720 buckets. An hour's key is its day's (written once a day)
  // and the hour's text, rather than a date written out 24 times a day.
  let ms = dateOf(first).getTime();
  let day: { readonly start: number; readonly key: string } | null = null;
  const next = (at: number): string | null => {
    if (bucket === 'day') return keyOf(new Date(at));
    const dayStart = Math.floor(at / BUCKET_MS.day) * BUCKET_MS.day;
    if (day?.start !== dayStart) {
      const key = keyOf(new Date(dayStart));
      if (key === null) return null;
      day = { start: dayStart, key: key.slice(0, 10) };
    }
    return `${day.key}${HOUR_SUFFIXES[(at - dayStart) / BUCKET_MS.hour]}`;
  };
  for (let start: string | null = first; start !== null && start < untilKey; ) {
    if (starts.length === MAX_BUCKETS) {
      return {
        ok: false,
        issues: [
          {
            loc: ['query', 'since'],
            type: 'too_many_buckets',
            msg: `The window from since to until holds more than ${MAX_BUCKETS} ${bucket} buckets; narrow it or use a larger bucket`,
          },
        ],
      };
    }
    starts.push(start);
    ms += BUCKET_MS[bucket];
    start = next(ms);
  }
  return { ok: true, value: { bucket, sinceKey, untilKey, starts } };
}

const Timeseries = Type.Object(
  {
    bucket: StringEnum(BUCKETS),
    data: Type.Array(
      Type.Object(
        {
          start: Type.String({ description: 'The UTC start of the bucket.', examples: ['2025-01-15T10:00:00Z'] }),
          count: Type.Integer({ minimum: 0, description: 'Messages with since ≤ instant < until in this bucket.' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_BUCKETS, description: 'Oldest first, every bucket of the window, zeros included.' },
    ),
  },
  {
    additionalProperties: false,
    description: 'Every bucket of the window, oldest first, with its count.',
    examples: [{ bucket: 'hour', data: [{ start: '2025-01-15T10:00:00Z', count: 3 }] }],
  },
);

const TIMESTAMP = 'YYYY-MM-DDTHH:MM:SS[.fraction]Z';

export async function timeseriesRoutes(app: FastifyInstance, { store, auth }: ReadRoutesOptions): Promise<void> {
  // Without the TypeBox type provider: the handler sends the buckets as JSON text, which the
  // schema's type would refuse; the schema still documents it.
  app.get(
    '/stats/timeseries',
    {
      onRequest: auth,
      schema: {
        summary: 'Message counts per hour or day',
        description: `Counts per UTC bucket of the messages' \`ts\` instant, from \`since\` rounded down to its bucket while a bucket starts before \`until\`, zeros included; a message counts when since ≤ instant < until. At most ${MAX_BUCKETS} buckets, else 422. Answered from hourly counts kept in the transaction that stores each message.`,
        tags: ['messages'],
        security: READ_SECURITY,
        querystring: Type.Object({
          bucket: StringEnum(BUCKETS, { description: 'Required.' }),
          since: Type.Optional(
            Type.String({ description: `${TIMESTAMP}; default: 24 hours (hour) or 30 days (day) before until.` }),
          ),
          until: Type.Optional(Type.String({ description: `${TIMESTAMP}; default: now.` })),
        }),
        response: { 200: Timeseries, 401: unauthorizedRead, 422: validationError(), 503: unavailable },
      },
    },
    async (request, reply) => {
      const parsed = parseTimeseriesQuery(request.query as Query, new Date());
      if (!parsed.ok) throw new ValidationFailed(parsed.issues);
      const { bucket, sinceKey, untilKey, starts } = parsed.value;
      const counts = new Map<string, number>();
      if (starts.length > 0) {
        for (const b of await store.timeseries({ bucket, sinceKey, untilKey })) counts.set(b.bucket, b.count);
      }
      const length = BUCKET_KEY_LENGTH[bucket];
      // Written as JSON text (the Timeseries schema, keys in its order) rather than built as up to
      // 10,000 objects for the serialiser: every start is 'YYYY-MM-DDTHH:MM:SS' made above, digits
      // and separators that need no escaping, and every count an integer.
      const data = starts.map((start) => `{"start":"${start}Z","count":${counts.get(start.slice(0, length)) ?? 0}}`);
      // A string with a JSON content type goes out as it is: the serialiser does not run.
      return reply.type('application/json; charset=utf-8').send(`{"bucket":"${bucket}","data":[${data.join(',')}]}`);
    },
  );
}
